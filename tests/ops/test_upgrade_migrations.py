"""Upgrading a clinic's database that already holds signed records: the append-only triggers are
in place, and a migration that rebuilds a table on SQLite renames it, which SQLite refuses while
another table's trigger names it. ``migrate`` lifts the triggers first and puts them all back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from bontrack.audit.triggers import installed_triggers, trigger_names
from bontrack.treatments.models import TreatmentSession
from tests import builders


@pytest.mark.django_db(transaction=True)
def test_migrations_that_rebuild_tables_of_signed_records_run_with_the_triggers_in_place():
    s = builders.staff()
    patient = builders.patient(s)
    builders.consent(s, patient, "chronic-migraine")
    when = timezone.now() - timedelta(days=1)
    signed = builders.signed_session(
        s, patient, when, builders.open_vial(s, builders.lot(s), at=when - timedelta(hours=1))
    )
    assert trigger_names(connection.vendor) <= installed_triggers()

    # Back to before the sessions table gained columns (a rebuild on SQLite), then forward again.
    call_command("migrate", "treatments", "0002_external_dose_source", verbosity=0)
    call_command("migrate", verbosity=0)

    assert trigger_names(connection.vendor) <= installed_triggers()
    assert TreatmentSession.objects.filter(pk=signed.pk, signed_at__isnull=False).exists()
