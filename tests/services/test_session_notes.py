"""The clinical note and structured technique are part of the plan and of the signed record
(DESIGN 3.4, canonical form 4); a child's record keeps the weight a weight-based rule read, with
the units per kg; a plan made by mistake is cancelled (an appended record) and leaves Today."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.audit.chain import digest
from bontrack.core.errors import ServiceError
from bontrack.treatments import aftercare, services
from bontrack.treatments.models import SessionEvent, TreatmentSession
from bontrack.treatments.schedule import day_plans
from bontrack.treatments.services import PointInput, Technique
from tests import builders
from tests.db_triggers import triggers_lifted
from tests.services.test_supply_signing import decide_all, midday_clinic

pytestmark = [pytest.mark.django_db, pytest.mark.postgres(sqlite=True)]

NOTE = "Examination: spasticity of the left elbow flexors, MAS 3.\nTolerance: good."


@pytest.fixture
def world():
    s = builders.staff()
    midday_clinic(s)
    p = builders.patient(s, weight_kg=70)
    builders.consent(s, p, "upper-limb-spasticity")
    return s, p


def plan(s, p, **extra):
    return services.plan_session(
        s.actor("physician"),
        p.id,
        product="onabotulinumtoxinA",
        indication=extra.pop("indication", "upper-limb-spasticity"),
        plan_date=timezone.localdate(),
        injections=extra.pop("injections", [PointInput("biceps-brachii", "left", Decimal(50))]),
        **extra,
    )


def sign(s, session):
    at = timezone.now().replace(microsecond=0) - timedelta(minutes=1)
    vial = builders.open_vial(s, builders.lot(s, number=f"N-{str(session.id)[:6]}", size=200))
    services.update_plan(s.actor("physician"), session.id, vial_ids=[vial.id])
    decide_all(s, session, at)
    return services.sign_session(s.actor("physician"), session.id, administered_at=at)


def test_a_plan_keeps_its_note_and_technique_and_an_update_replaces_them(world):
    s, p = world
    session = plan(s, p, notes=NOTE, technique=Technique("emg", "27 G  37 mm"))
    assert (session.notes, session.guidance, session.needle) == (NOTE, "emg", "27 G 37 mm")
    services.update_plan(
        s.actor("nurse"), session.id, notes="", technique=Technique("ultrasound", "")
    )
    session.refresh_from_db()
    assert (session.notes, session.guidance, session.needle) == ("", "ultrasound", "")


@pytest.mark.parametrize(
    ("technique", "notes", "field"),
    [
        (Technique("x-ray", ""), "", "technique.guidance"),
        (Technique("emg", "3" * 41), "", "technique.needle"),
        (None, "n" * (services.MAX_NOTES + 1), "notes"),
    ],
)
def test_a_note_or_technique_out_of_bounds_is_refused_naming_its_field(
    world, technique, notes, field
):
    s, p = world
    session = plan(s, p, notes=NOTE)
    with pytest.raises(ServiceError) as refused:
        services.update_plan(s.actor("physician"), session.id, notes=notes, technique=technique)
    assert refused.value.field == field
    session.refresh_from_db()
    assert session.notes == NOTE


def test_a_needle_of_exactly_40_characters_and_a_note_of_the_maximum_length_are_kept(world):
    s, p = world
    session = plan(s, p, notes="n" * services.MAX_NOTES, technique=Technique("none", "3" * 40))
    assert len(session.needle) == 40
    assert len(session.notes) == services.MAX_NOTES


def test_the_signature_covers_the_note_and_technique_under_canonical_form_4(world):
    s, p = world
    signed = sign(s, plan(s, p, notes=NOTE, technique=Technique("electrical-stimulation", "25 G")))
    assert signed.canon == 4
    document = services.session_document(signed)
    assert document["canon"] == 4
    assert document["notes"] == NOTE
    assert document["technique"] == {"guidance": "electrical-stimulation", "needle": "25 G"}
    assert document["weight"] is None  # an adult: no weight-based rule read a weight
    assert services.verify_digest(TreatmentSession.objects.get(pk=signed.pk))
    with triggers_lifted():
        TreatmentSession.objects.filter(pk=signed.pk).update(needle="30 G")
    assert not services.verify_digest(TreatmentSession.objects.get(pk=signed.pk))


def test_a_session_signed_under_canonical_form_3_still_verifies(world):
    """A record signed before the technique and the weight were part of it."""
    s, p = world
    signed = sign(s, plan(s, p, notes=NOTE))
    as_signed_then = TreatmentSession.objects.get(pk=signed.pk)
    as_signed_then.canon = 3
    document = services.session_document(as_signed_then)
    assert document["canon"] == 3
    assert "technique" not in document
    assert "weight" not in document
    with triggers_lifted():
        TreatmentSession.objects.filter(pk=signed.pk).update(canon=3, digest=digest(document))
    assert services.verify_digest(TreatmentSession.objects.get(pk=signed.pk))


def test_a_childs_record_keeps_the_weight_used_and_the_api_gives_the_units_per_kg(world):
    s, _ = world
    today = timezone.localdate()
    child = builders.patient(
        s,
        record="C-1",
        born=date(today.year - 8, 1, 15),
        weight_kg=Decimal("24.5"),
        weight_measured_on=today - timedelta(days=10),
    )
    builders.consent(s, child, "pediatric-upper-limb-spasticity")
    session = plan(
        s,
        child,
        indication="pediatric-upper-limb-spasticity",
        injections=[PointInput("biceps-brachii", "left", Decimal(49))],
    )
    assert services.weight_used(session) == (Decimal("24.5"), today - timedelta(days=10))
    signed = sign(s, session)
    assert signed.weight_kg == Decimal("24.5")
    assert signed.weight_measured_on == today - timedelta(days=10)
    assert services.session_document(signed)["weight"] == {
        "kg": Decimal("24.5"),
        "measured_on": today - timedelta(days=10),
    }
    client = Client()
    client.force_login(s.physician.user)
    token = client.post(
        "/api/v1/auth/token",
        {"username": "a-physician", "password": s.password},
        content_type="application/json",
    ).json()["token"]
    body = client.get(f"/api/v1/sessions/{signed.id}", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert body["weight_used"] == {
        "kg": "24.5",
        "measured_on": (today - timedelta(days=10)).isoformat(),
        "units_per_kg": "2",
    }


def test_an_adult_record_keeps_no_weight(world):
    s, p = world
    signed = sign(s, plan(s, p))
    assert signed.weight_kg is None
    assert signed.weight_measured_on is None


def test_a_cancelled_plan_leaves_today_and_is_an_appended_record(world):
    s, p = world
    session = plan(s, p)
    assert session in day_plans(s.actor("front_desk"), timezone.localdate())
    event = services.cancel_plan(s.actor("nurse"), session.id, reason="wrong patient")
    assert event.kind == "cancelled"
    assert event.reason == "wrong patient"
    assert services.verify_event(SessionEvent.objects.get(pk=event.pk))
    assert session not in day_plans(s.actor("front_desk"), timezone.localdate())
    assert TreatmentSession.objects.filter(pk=session.pk).exists()  # still readable


def test_every_note_template_names_the_aftercare_sheet_and_every_item_cites_a_source():
    for indication in ("chronic-migraine", "cervical-dystonia", "pediatric-upper-limb-spasticity"):
        sheet = aftercare.sheet(indication)
        assert sheet.watch, indication
        assert all(item.source for item in sheet.general + sheet.watch)
        assert "aftercare sheet" in aftercare.note_template(indication)
    assert aftercare.sheet("strabismus").watch == ()  # no wording of its own: the general sheet


def test_the_demo_clinic_has_a_consent_form_for_every_indication_it_treats_or_plans():
    from bontrack.charting.services.consent_forms import current_template
    from bontrack.ops.demo import build_demo
    from bontrack.patients.models import Consent

    demo = build_demo()
    treated = set(
        TreatmentSession.objects.filter(clinic=demo.clinic).values_list("indication", flat=True)
    ) | set(
        Consent.objects.filter(patient__clinic=demo.clinic).values_list("indication", flat=True)
    )
    assert len(treated) >= 5
    missing = sorted(i for i in treated if current_template(demo.clinic.id, i) is None)
    assert missing == []
