"""The scale benchmark's generator writes rows the application reads as its own: a small
dataset, then the pages and the API read it, its digests and audit chains verify, its foreign
keys hold and the derived due state agrees with the records."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from bench import scale_data
from bontrack.accounts.models import Membership
from bontrack.api.auth import issue_token
from bontrack.audit.records import verify_signed_records
from bontrack.audit.services import verify_clinic_chain
from bontrack.treatments.models import Injection, TreatmentSession


def test_clinic_sizes_put_a_tenth_in_one_clinic_and_a_two_hundredth_in_another() -> None:
    sizes = scale_data.clinic_sizes(200_000, 20, random.Random(1))
    assert sizes[:2] == [20_000, 1_000]
    assert sum(sizes) == 200_000
    assert len(sizes) == 20
    assert max(sizes[2:]) > 2 * min(sizes[2:])
    with pytest.raises(ValueError, match="at least 3 clinics"):
        scale_data.clinic_sizes(1000, 2, random.Random(1))


@pytest.mark.django_db
def test_generated_rows_are_rows_the_application_reads_and_verifies() -> None:
    generated_and_read()


@pytest.mark.postgres
@pytest.mark.django_db
def test_rows_copied_into_postgresql_are_rows_the_application_reads_and_verifies() -> None:
    assert connection.vendor == "postgresql"
    generated_and_read()


def generated_and_read() -> None:
    data = scale_data.generate(patients=600, clinics=3, seed=11, today=timezone.localdate())

    connection.check_constraints()
    report = verify_signed_records()
    assert report.sessions == TreatmentSession.objects.count() > 100
    assert report.problems == []
    for clinic in data.clinics:
        chain = verify_clinic_chain(clinic.id)
        assert chain.intact, chain.problem
        assert chain.entries > clinic.patients
    sizes = {
        len(TreatmentSession.objects.get(id=s).injections.all())
        for s in TreatmentSession.objects.values_list("id", flat=True)[:200]
    }
    assert min(sizes) == 5
    assert max(sizes) == 31
    assert data.counts["treatments_injection"] == Injection.objects.count()

    for clinic in (data.large, data.small):
        assert clinic.history_patient is not None
        assert clinic.empty_patient is not None
        history = TreatmentSession.objects.filter(
            clinic_id=clinic.id, patient_id=clinic.history_patient
        )
        assert history.count() == scale_data.HISTORY_SESSIONS
        assert history.filter(plan_date__lt=timezone.localdate() - timedelta(days=365 * 5)).exists()
        member = Membership.objects.select_related("user").get(id=clinic.prescriber_ids[0])
        page = Client()
        page.force_login(member.user)
        for patient in (clinic.history_patient, clinic.empty_patient):
            answer = page.get(f"/patients/{patient}/")
            assert answer.status_code == 200, answer.content[:500]
        assert page.get("/due/").status_code == 200
        lot = clinic.busiest_lot
        assert page.get(f"/inventory/lots/{lot}/").status_code == 200
        _, token = issue_token(member, "scale test", 1)
        api = Client(headers={"authorization": f"Bearer {token}"})
        exposures = api.get(f"/api/v1/lots/{lot}/exposures")
        assert exposures.status_code == 200
        assert len(exposures.json()) == clinic.lot_uses[lot] > 0
        timeline = api.get(f"/api/v1/patients/{clinic.history_patient}/timeline")
        assert timeline.status_code == 200
    # The large clinic's due list lists generated patients (the derived due state was rebuilt).
    member = Membership.objects.get(id=data.large.prescriber_ids[0])
    _, token = issue_token(member, "scale test due", 1)
    due = Client(headers={"authorization": f"Bearer {token}"}).get(
        "/api/v1/due?weeks=52&overdue_weeks=52"
    )
    assert due.status_code == 200
    assert due.json()["total"] > 0
