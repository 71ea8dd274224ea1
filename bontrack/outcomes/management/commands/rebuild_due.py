"""`manage.py rebuild_due [--clinic ID] [--check]`: rewrite the derived due state
(``outcomes.DueState``) from the stored sessions, wear-off reports, assessments and decisions,
for one clinic or every clinic (each in its own transaction). Needed after rows were written
without the services (a bulk load, a generated benchmark database) or after a catalog update that
changes a retreatment interval; the services keep it current otherwise.

``--check`` writes nothing: it compares the stored rows with a full recomputation and fails
naming the clinics that differ."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bontrack.accounts.models import Clinic
from bontrack.outcomes import due_state


class Command(BaseCommand):
    help = "Rebuild the derived due dates and stop flags (outcomes.DueState) from the records"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clinic", type=UUID, help="one clinic's id (default: every clinic)")
        parser.add_argument(
            "--check", action="store_true", help="compare with a recomputation, write nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        clinic: UUID | None = options["clinic"]
        if clinic is not None and not Clinic.objects.filter(pk=clinic).exists():
            raise CommandError(f"no clinic {clinic}")
        if options["check"]:
            clinics = [clinic] if clinic else list(Clinic.objects.values_list("pk", flat=True))
            differ = [str(c) for c in clinics if due_state.stored(c) != due_state.derived(c)]
            if differ:
                raise CommandError(
                    f"the due state differs from the records in: {', '.join(differ)}"
                )
            self.stdout.write(f"due state matches the records in {len(clinics)} clinic(s)")
            return
        written = due_state.rebuild(clinic)
        self.stdout.write(f"due state rebuilt: {written} row(s)")
