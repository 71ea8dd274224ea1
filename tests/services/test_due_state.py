"""The derived due state (``outcomes.DueState``) stays equal to a full recomputation whatever the
writes: a seeded random series of signings (back-dated ones included), wear-off reports,
entered-in-error markings, amendments, doses given elsewhere, outcome results and "continue
despite this verdict" decisions, each through its service, is compared with the rebuild after
every step; another clinic's rows are never touched; the rebuild command restores what a bulk
write left out."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from bontrack.core.errors import ServiceError
from bontrack.inventory.models import Lot
from bontrack.outcomes import decisions, due_state
from bontrack.outcomes import services as followup
from bontrack.outcomes.due import due_list
from bontrack.outcomes.models import DueState
from bontrack.patients.models import Patient
from bontrack.treatments import external
from bontrack.treatments import services as sessions
from bontrack.treatments.models import SessionEventKind, TreatmentSession
from tests import builders
from tests.services.followup import NECK, signed

pytestmark = pytest.mark.django_db

PATIENTS = 4
STEPS = 24


def _today() -> date:
    return timezone.localdate()


class Writes:
    """The writes a clinic makes, each through its service, on a few patients."""

    def __init__(self, s: builders.Staff, lot: Lot, rng: random.Random) -> None:
        self.s, self.lot, self.rng = s, lot, rng
        self.doctor = s.actor("physician")
        self.patients: list[Patient] = []
        for n in range(PATIENTS):
            p = builders.patient(s, f"R-{n}", weight_kg=70)
            for ind in ("cervical-dystonia", "chronic-migraine"):
                builders.consent(s, p, ind, _today() - timedelta(days=340))
            self.patients.append(p)

    def _day(self) -> date:
        return _today() - timedelta(days=self.rng.randrange(1, 320))

    def _signed(self) -> list[TreatmentSession]:
        return list(
            TreatmentSession.objects.filter(
                clinic_id=self.s.clinic.id, signed_at__isnull=False
            ).order_by("plan_date", "id")
        )

    def sign(self) -> None:
        p = self.rng.choice(self.patients)
        if self.rng.random() < 0.5:
            signed(
                self.s, p, self.lot, self._day(), indication="cervical-dystonia", injections=NECK
            )
        else:
            signed(self.s, p, self.lot, self._day(), indication="chronic-migraine")

    def wear_off(self) -> None:
        counting = [
            s
            for s in self._signed()
            if not s.events.filter(kind=SessionEventKind.ENTERED_IN_ERROR).exists()
            and not s.wear_off_reports.exists()
        ]
        if counting:
            s = self.rng.choice(counting)
            latest = min(_today(), s.plan_date + timedelta(days=120))
            span = (latest - s.plan_date).days
            followup.record_wear_off(
                self.doctor,
                s.id,
                wore_off_on=s.plan_date + timedelta(days=self.rng.randrange(0, span + 1)),
            )

    def entered_in_error(self) -> None:
        found = self._signed()
        if found:
            sessions.mark_entered_in_error(
                self.doctor,
                self.rng.choice(found).id,
                reason="Charted on the wrong patient.",
                toxin_given=self.rng.random() < 0.5,
            )

    def amend(self) -> None:
        found = self._signed()
        if found:
            sessions.amend(
                self.doctor,
                self.rng.choice(found).id,
                reason="Note corrected after review.",
                notes="Corrected note.",
            )

    def external(self) -> None:
        p = self.rng.choice(self.patients)
        external.record_external_dose(
            self.doctor,
            p.id,
            external.ExternalDose(
                given_on=self._day(),
                product=self.rng.choice(["abobotulinumtoxinA", "onabotulinumtoxinA"]),
                indication="cervical-dystonia",
                place="Elsewhere Hospital",
                source_document="discharge letter",
                units=Decimal(self.rng.choice([100, 300])),
            ),
        )

    def result(self) -> None:
        """A headache-day count: a baseline before the patient's first migraine cycle, or a
        follow-up after it (a high one makes NICE's stop verdict likely)."""
        p = self.rng.choice(self.patients)
        first = (
            TreatmentSession.objects.filter(
                clinic_id=self.s.clinic.id,
                patient=p,
                indication="chronic-migraine",
                signed_at__isnull=False,
            )
            .order_by("plan_date")
            .first()
        )
        if first is None:
            return
        if self.rng.random() < 0.4:
            end, timepoint = first.plan_date - timedelta(days=1), "baseline"
        else:
            span = (_today() - first.plan_date).days
            if span < 29:
                return
            end = first.plan_date + timedelta(days=self.rng.randrange(28, span))
            timepoint = "follow-up"
        followup.record_assessment(
            self.doctor,
            p.id,
            indication="chronic-migraine",
            scale="headache-days-28d",
            value=Decimal(self.rng.randrange(10, 25)),
            timepoint=timepoint,
            period=(end - timedelta(days=27), end),
        )

    def continue_despite(self) -> None:
        p = self.rng.choice(self.patients)
        decisions.continue_despite(
            self.doctor,
            p.id,
            indication="chronic-migraine",
            scale="headache-days-28d",
            reason="Partial benefit reported by the patient.",
        )

    def steps(self) -> list[tuple[Callable[[], None], int]]:
        return [
            (self.sign, 6),
            (self.wear_off, 3),
            (self.entered_in_error, 1),
            (self.amend, 1),
            (self.external, 2),
            (self.result, 4),
            (self.continue_despite, 2),
        ]


def _agrees(clinic_id: object) -> list[tuple[object, ...]]:
    rows = due_state.stored(clinic_id)  # type: ignore[arg-type]
    assert rows == due_state.derived(clinic_id)  # type: ignore[arg-type]
    return rows


@pytest.mark.postgres(sqlite=True)
@pytest.mark.parametrize("seed", [20, 21])
def test_after_any_series_of_writes_the_due_state_equals_a_full_recomputation(seed: int) -> None:
    s = builders.staff()
    other = builders.staff("Clinic B", prefix="b")
    other_lot = builders.lot(other, number="B1", vials=3)
    other_patient = builders.patient(other, "B-1")
    builders.consent(other, other_patient, "chronic-migraine", _today() - timedelta(days=200))
    signed(other, other_patient, other_lot, _today() - timedelta(days=100))
    theirs = _agrees(other.clinic.id)
    assert len(theirs) == 1

    rng = random.Random(seed)
    writes = Writes(s, builders.lot(s, number="R1", vials=STEPS + 4), rng)
    steps = writes.steps()
    done: list[str] = []
    for _ in range(STEPS):
        step = rng.choices([f for f, _ in steps], weights=[w for _, w in steps])[0]
        try:
            step()
        except ServiceError:
            continue  # refused as a whole (e.g. a result already recorded): nothing written
        done.append(step.__name__)
        assert due_state.stored(s.clinic.id) == due_state.derived(s.clinic.id), done
    ours = _agrees(s.clinic.id)
    # The series wrote enough to compare something: several patients and both indications.
    assert len({r[0] for r in ours}) >= 2, done
    assert {r[1] for r in ours} == {"cervical-dystonia", "chronic-migraine"}, done
    assert {"sign", "wear_off", "result"} <= set(done), done
    assert due_state.stored(other.clinic.id) == theirs


def test_a_wear_off_report_a_stop_verdict_and_entered_in_error_change_the_stored_row() -> None:
    """Each write that changes a due date or the stop flag changes the stored row at once."""
    s = builders.staff()
    lot = builders.lot(s, vials=6)
    p = builders.patient(s, "CM-1", weight_kg=64)
    builders.consent(s, p, "chronic-migraine", _today() - timedelta(days=300))
    first = signed(s, p, lot, _today() - timedelta(weeks=26))
    second = signed(s, p, lot, _today() - timedelta(weeks=13))

    def row() -> DueState:
        return DueState.objects.get(clinic_id=s.clinic.id, patient=p, indication="chronic-migraine")

    assert (row().last_session_id, row().due_on, row().basis) == (
        second.id,
        second.plan_date + timedelta(days=84),
        "label",
    )
    doctor = s.actor("physician")
    followup.record_wear_off(doctor, first.id, wore_off_on=first.plan_date + timedelta(days=92))
    assert (row().due_on, row().basis, row().wear_off_reports) == (
        second.plan_date + timedelta(days=92),
        "both",
        1,
    )
    for end, value, timepoint in (
        (first.plan_date - timedelta(days=1), 22, "baseline"),
        (second.plan_date - timedelta(days=1), 20, "follow-up"),
        (_today() - timedelta(days=1), 18, "follow-up"),
    ):
        followup.record_assessment(
            doctor,
            p.id,
            indication="chronic-migraine",
            scale="headache-days-28d",
            value=Decimal(value),
            timepoint=timepoint,
            period=(end - timedelta(days=27), end),
        )
    assert row().held_because == "stop recommended (NICE TA260)"
    decisions.continue_despite(
        doctor,
        p.id,
        indication="chronic-migraine",
        scale="headache-days-28d",
        reason="Partial benefit reported by the patient.",
    )
    assert row().held_because == ""
    sessions.mark_entered_in_error(doctor, second.id, reason="Charted twice.", toxin_given=False)
    assert (row().last_session_id, row().due_on) == (first.id, first.plan_date + timedelta(days=92))
    sessions.mark_entered_in_error(doctor, first.id, reason="Charted twice.", toxin_given=False)
    assert not DueState.objects.filter(clinic_id=s.clinic.id, patient=p).exists()


def test_the_rebuild_command_restores_rows_written_without_the_services() -> None:
    s = builders.staff()
    lot = builders.lot(s, vials=4)
    p = builders.patient(s, "CM-1", weight_kg=64)
    builders.consent(s, p, "chronic-migraine", _today() - timedelta(days=200))
    signed(s, p, lot, _today() - timedelta(weeks=12))
    expected = due_state.stored(s.clinic.id)
    assert len(expected) == 1
    shown = [r.patient_id for r in due_list(s.actor("physician")).rows]
    assert shown == [p.id]

    DueState.objects.filter(clinic_id=s.clinic.id).delete()  # as a bulk load leaves it
    assert due_list(s.actor("physician")).rows == []
    with pytest.raises(CommandError, match=str(s.clinic.id)):
        call_command("rebuild_due", "--check")
    call_command("rebuild_due", "--clinic", str(s.clinic.id))
    assert due_state.stored(s.clinic.id) == expected
    call_command("rebuild_due", "--check")
    assert [r.patient_id for r in due_list(s.actor("physician")).rows] == [p.id]
