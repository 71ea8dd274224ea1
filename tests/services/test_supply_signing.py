"""B.30 through the services: signing stores what each vial gave and refuses what the vials cannot
hold; a vial is drawn for one patient, on the day it was opened, until its use-by time; its
used, wasted and remaining units are derived. DESIGN 3.4: the draws are in the canonical form
(version 2) and records signed under version 1 still verify. B.34: the injection time's edge."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from bontrack.audit.chain import digest
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.inventory.models import Vial
from bontrack.inventory.services import close_vial, receive_lot, record_waste, usable_vials
from bontrack.treatments import services
from bontrack.treatments.models import SessionEvent, SessionVial, TreatmentSession
from bontrack.treatments.services import PointInput
from bontrack.treatments.supply import DrawInput, session_draws, vial_states
from tests import builders
from tests.db_triggers import triggers_lifted

pytestmark = [pytest.mark.django_db, pytest.mark.postgres(sqlite=True)]


def midday_clinic(s: builders.Staff) -> None:
    """Give the clinic a time zone where it is now around midday, so that a few hours back and
    forth stay on the same clinic-local day whenever the test runs."""
    hour = timezone.now().hour
    offset = 12 - hour  # local = UTC + offset
    offset = (offset + 12) % 24 - 12
    # Etc/GMT zones count the other way round: Etc/GMT-2 is UTC+2.
    s.clinic.time_zone = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    s.clinic.save(update_fields=["time_zone"])


@pytest.fixture
def world():
    s = builders.staff()
    midday_clinic(s)
    p = builders.patient(s, weight_kg=70)
    for indication in ("upper-limb-spasticity", "glabellar-lines", "chronic-migraine"):
        builders.consent(s, p, indication)
    return s, p


def plan(s, p, units: list[str], indication="upper-limb-spasticity", vials=(), **extra):
    site = {"upper-limb-spasticity": "biceps-brachii", "chronic-migraine": "temporalis"}
    points = [PointInput(site.get(indication, "biceps-brachii"), "left", Decimal(u)) for u in units]
    return services.plan_session(
        s.actor("physician"),
        p.id,
        product=extra.pop("product", "onabotulinumtoxinA"),
        indication=indication,
        plan_date=timezone.localdate(),
        injections=points,
        vial_ids=[v.id for v in vials],
        **extra,
    )


def decide_all(s, session, at: datetime) -> None:
    """Acknowledge every warning and override every overridable block (never ``supply``)."""
    for f in services.stored_result_at(session, at)["findings"]:
        if f["severity"] == "warn":
            kind = "acknowledge"
        elif f["overridable"]:
            kind = "override"
        else:
            continue
        services.decide(
            s.actor("physician"),
            session.id,
            fingerprint_=f["fingerprint"],
            kind=kind,
            reason="Agreed with the patient after review.",
        )


def sign(s, session, at: datetime | None = None, **draws):
    at = at or timezone.now() - timedelta(minutes=10)
    decide_all(s, session, at)
    return services.sign_session(s.actor("physician"), session.id, administered_at=at, **draws)


def lot_of(s, size: int, number: str, vials: int = 3, product="onabotulinumtoxinA"):
    return builders.lot(s, product=product, number=number, size=size, vials=vials)


def nothing_written(session: TreatmentSession) -> None:
    session.refresh_from_db()
    assert session.signed_at is None
    assert session.digest == ""
    assert not SessionVial.objects.filter(session=session, drawn_units__isnull=False).exists()


# -- the arithmetic: exactly the dose, 0.001 U short -------------------------------------------


def test_a_vial_holding_exactly_the_dose_is_signed_and_its_draw_stored(world):
    s, p = world
    vial = builders.open_vial(s, lot_of(s, 100, "EXACT"))
    signed = sign(s, plan(s, p, ["50", "50"], vials=[vial]))
    assert signed.is_signed
    assert SessionVial.objects.get(session=signed).drawn_units == Decimal(100)
    figures = vial_states([vial], s.clinic.time_zone)[vial.id]
    assert (figures.used, figures.remaining(timezone.now())) == (Decimal(100), Decimal(0))


def test_a_dose_0_001_u_more_than_the_vial_holds_is_refused_with_supply_and_nothing_written(world):
    s, p = world
    vial = builders.open_vial(s, lot_of(s, 100, "SHORT"))
    session = plan(s, p, ["50", "50.001"], vials=[vial])
    with pytest.raises(ConflictError) as refused:
        sign(s, session)
    assert "supply" in refused.value.message
    assert "pick another vial or reduce the dose" in refused.value.message.lower()
    nothing_written(session)
    assert Vial.objects.get(pk=vial.pk).patient_id is None


def test_a_draw_given_by_the_signer_above_what_the_vial_holds_is_refused(world):
    s, p = world
    first = builders.open_vial(s, lot_of(s, 100, "A"))
    second = builders.open_vial(s, lot_of(s, 100, "B"))
    session = plan(s, p, ["60", "60"], vials=[first, second])
    with pytest.raises(ConflictError, match="supply"):
        sign(
            s,
            session,
            vials=[
                DrawInput(vial_id=first.id, drawn_units=Decimal("100.001")),
                DrawInput(vial_id=second.id, drawn_units=Decimal("19.999")),
            ],
        )
    nothing_written(session)
    signed = sign(
        s,
        session,
        vials=[
            DrawInput(vial_id=first.id, drawn_units=Decimal(20)),
            DrawInput(vial_id=second.id),  # filled: the rest, 100 U
        ],
    )
    draws = dict(SessionVial.objects.filter(session=signed).values_list("vial_id", "drawn_units"))
    assert draws == {first.id: Decimal(20), second.id: Decimal(100)}


def test_draws_not_given_fill_the_vials_in_the_order_they_were_opened(world):
    s, p = world
    stock = lot_of(s, 100, "ORDER")
    later = builders.open_vial(s, stock, at=timezone.now() - timedelta(hours=1))
    earlier = builders.open_vial(s, stock, at=timezone.now() - timedelta(hours=2))
    signed = sign(s, plan(s, p, ["75", "75"], vials=[later, earlier]))
    draws = dict(SessionVial.objects.filter(session=signed).values_list("vial_id", "drawn_units"))
    assert draws == {earlier.id: Decimal(100), later.id: Decimal(50)}


def test_a_session_is_signed_with_at_least_one_vial(world):
    s, p = world
    session = plan(s, p, ["20"], indication="glabellar-lines")
    with pytest.raises(ConflictError) as refused:
        sign(s, session)
    assert "supply" in refused.value.message
    nothing_written(session)


def test_a_vial_not_from_stock_typed_at_signing_counts_as_a_vial(world):
    s, p = world
    session = plan(s, p, ["4"] * 5, indication="glabellar-lines")
    typed = DrawInput(
        lot_number="PHARM-77",
        size_units=Decimal(20),
        expires_on=timezone.localdate() + timedelta(days=20),
    )
    signed = sign(s, session, vials=[typed])
    use = SessionVial.objects.select_related("vial__lot").get(session=signed)
    assert use.drawn_units == Decimal(20)
    assert not use.vial.from_stock
    assert use.vial.patient_id == p.id
    assert use.vial.lot.lot_number == "PHARM-77"


# -- how a vial lives ---------------------------------------------------------------------------


def test_another_patients_vial_is_refused(world):
    s, p = world
    other = builders.patient(s, record="P-2")
    builders.consent(s, other, "glabellar-lines")
    vial = builders.open_vial(s, lot_of(s, 100, "SHARED"))
    sign(s, plan(s, other, ["4"] * 5, indication="glabellar-lines", vials=[vial]))
    session = plan(s, p, ["4"] * 5, indication="glabellar-lines")
    with pytest.raises(ServiceError) as refused:
        sign(s, session, vial_ids=[vial.id])
    assert "another patient" in refused.value.message
    assert "pick another vial" in refused.value.message
    nothing_written(session)
    assert vial not in usable_vials(
        s.actor("nurse"),
        product="onabotulinumtoxinA",
        patient_id=p.id,
        today=timezone.localdate(),
        now=timezone.now(),
    )


def test_a_second_session_of_the_patient_the_same_day_draws_the_rest(world):
    s, p = world
    vial = builders.open_vial(s, lot_of(s, 200, "SAMEDAY"), at=timezone.now() - timedelta(hours=3))
    first = sign(
        s,
        plan(s, p, ["4"] * 5, indication="glabellar-lines", vials=[vial]),
        timezone.now() - timedelta(hours=2),
    )
    assert SessionVial.objects.get(session=first).drawn_units == Decimal(20)
    assert vial in usable_vials(
        s.actor("nurse"),
        product="onabotulinumtoxinA",
        patient_id=p.id,
        today=timezone.localdate(),
        now=timezone.now(),
    )
    second = sign(s, plan(s, p, ["90", "90"], vials=[vial]), timezone.now() - timedelta(hours=1))
    assert SessionVial.objects.get(session=second).drawn_units == Decimal(180)
    figures = vial_states([vial], s.clinic.time_zone)[vial.id]
    assert (figures.used, figures.remaining(timezone.now())) == (Decimal(200), Decimal(0))
    third = plan(s, p, ["1"], indication="chronic-migraine", vials=[vial])
    with pytest.raises(ConflictError, match="supply"):
        sign(s, third)
    nothing_written(third)


def test_a_vial_closed_at_the_end_of_its_day_cannot_be_drawn_the_next(world):
    """Daxxify keeps 72 hours: the end of the day it was opened closes it first."""
    s, p = world
    builders.consent(s, p, "cervical-dystonia")
    stock = lot_of(s, 100, "DAX", product="daxibotulinumtoxinA")
    vial = builders.open_vial(s, stock, diluent="2", at=timezone.now() - timedelta(hours=30))
    session = plan(
        s, p, ["25", "25"], indication="cervical-dystonia", product="daxibotulinumtoxinA"
    )
    with pytest.raises(ServiceError) as refused:
        sign(s, session, vial_ids=[vial.id])
    assert "end of the day it was opened" in refused.value.message
    assert "pick another vial or open a new one" in refused.value.message
    nothing_written(session)
    figures = vial_states([vial], s.clinic.time_zone)[vial.id]
    assert figures.closed_how == "end-of-day"
    assert figures.wasted(timezone.now()) == Decimal(100)


def test_a_vial_past_its_use_by_time_cannot_be_drawn(world):
    """Diluted Myobloc keeps 4 hours (B.23): 5 hours later, the same clinic-local day."""
    s, p = world
    builders.consent(s, p, "cervical-dystonia")
    stock = lot_of(s, 2500, "MYO", product="rimabotulinumtoxinB")
    vial = builders.open_vial(s, stock, diluent="1", at=timezone.now() - timedelta(hours=5))
    session = plan(
        s,
        p,
        ["1000", "1000"],
        indication="cervical-dystonia",
        product="rimabotulinumtoxinB",
        vials=[vial],
    )
    with pytest.raises(ConflictError) as refused:
        sign(s, session)
    assert "reconstitution" in refused.value.message
    nothing_written(session)
    assert vial_states([vial], s.clinic.time_zone)[vial.id].closed_how == "use-by"


def test_a_vial_closed_by_hand_wastes_what_it_held_and_takes_no_more_draws(world):
    s, p = world
    vial = builders.open_vial(s, lot_of(s, 100, "CLOSE"), at=timezone.now() - timedelta(hours=2))
    sign(s, plan(s, p, ["30"], vials=[vial]), timezone.now() - timedelta(hours=1))
    with pytest.raises(ConflictError, match="close the vial instead"):
        record_waste(s.actor("nurse"), vial.id)
    close_vial(s.actor("nurse"), vial.id, note="End of the list")
    figures = vial_states([vial], s.clinic.time_zone)[vial.id]
    assert (figures.used, figures.wasted(timezone.now()), figures.remaining(timezone.now())) == (
        Decimal(30),
        Decimal(70),
        Decimal(0),
    )
    session = plan(s, p, ["4"] * 5, indication="glabellar-lines")
    with pytest.raises(ServiceError, match="was closed at"):
        sign(s, session, timezone.now(), vial_ids=[vial.id])
    # An injection given before the vial was closed, charted afterwards, still draws from it.
    late = sign(s, session, timezone.now() - timedelta(minutes=30), vial_ids=[vial.id])
    assert SessionVial.objects.get(session=late).drawn_units == Decimal(20)
    figures = vial_states([vial], s.clinic.time_zone)[vial.id]
    assert figures.used + figures.wasted(timezone.now()) == Decimal(100)
    with pytest.raises(ConflictError, match="nothing to close"):
        close_vial(s.actor("nurse"), vial.id)


def test_waste_recorded_by_hand_is_the_whole_vial_no_session_drew(world):
    s, _ = world
    vial = builders.open_vial(s, lot_of(s, 100, "DROPPED"))
    with pytest.raises(ServiceError, match="wasted whole: 100 U"):
        record_waste(s.actor("nurse"), vial.id, units=Decimal(45))
    record_waste(s.actor("nurse"), vial.id)
    figures = vial_states([vial], s.clinic.time_zone)[vial.id]
    assert (figures.used, figures.wasted(timezone.now())) == (Decimal(0), Decimal(100))


def test_the_current_draws_follow_amendments_and_entered_in_error():
    use = SessionVial(vial_id="a" * 32, drawn_units=Decimal(50))
    uses = [use]
    vial_a = str(use.vial_id)
    at = timezone.now()
    amended = SessionEvent(
        kind="amended",
        at=at,
        data={"vials": [{"vial_id": "b" * 32, "drawn_units": "40"}]},
    )
    notes_only = SessionEvent(kind="amended", at=at + timedelta(minutes=1), data={"notes": "x"})
    assert session_draws(uses, []) == {vial_a: Decimal(50)}
    assert session_draws(uses, [amended, notes_only]) == {"b" * 32: Decimal(40)}
    given = SessionEvent(kind="entered-in-error", at=at, data={"toxin_given": True})
    assert session_draws(uses, [given]) == {vial_a: Decimal(50)}
    assert session_draws(uses, [SessionEvent(kind="entered-in-error", at=at)]) == {
        vial_a: Decimal(50)
    }
    released = SessionEvent(kind="entered-in-error", at=at, data={"toxin_given": False})
    assert session_draws(uses, [amended, released]) == {}


# -- the canonical form -------------------------------------------------------------------------


def test_a_signature_covers_the_draws_under_the_current_canonical_form(world):
    """Form 4: the draws (form 2), each injection's source identifier (imports, form 3), and the
    technique and weight used (tests/services/test_session_notes.py)."""
    s, p = world
    vial = builders.open_vial(s, lot_of(s, 100, "CANON"))
    signed = sign(s, plan(s, p, ["40"], vials=[vial]))
    assert signed.canon == 4
    document = services.session_document(signed)
    assert document["canon"] == 4
    assert document["vials"] == [{"vial": str(vial.id), "drawn_units": Decimal(40)}]
    assert [i["source_identifier"] for i in document["injections"]] == [""]
    assert services.verify_digest(TreatmentSession.objects.get(pk=signed.pk))
    with triggers_lifted():
        SessionVial.objects.filter(session=signed).update(drawn_units=Decimal(10))
    assert not services.verify_digest(TreatmentSession.objects.get(pk=signed.pk))


def test_a_session_signed_under_canonical_form_2_still_verifies(world):
    """A record signed with its draws, before injections carried a source identifier."""
    s, p = world
    vial = builders.open_vial(s, lot_of(s, 100, "TWO"))
    signed = sign(s, plan(s, p, ["40"], vials=[vial]))
    as_signed_then = TreatmentSession.objects.get(pk=signed.pk)
    as_signed_then.canon = 2
    document = services.session_document(as_signed_then)
    assert document["canon"] == 2
    assert "source_identifier" not in document["injections"][0]
    with triggers_lifted():
        TreatmentSession.objects.filter(pk=signed.pk).update(canon=2, digest=digest(document))
    assert services.verify_digest(TreatmentSession.objects.get(pk=signed.pk))


def test_a_session_signed_under_canonical_form_1_still_verifies(world):
    """A record signed before the draws were recorded: no "canon" key, its vials by id only."""
    s, p = world
    vial = builders.open_vial(s, lot_of(s, 100, "OLD"))
    signed = sign(s, plan(s, p, ["40"], vials=[vial]))
    as_signed_then = TreatmentSession.objects.get(pk=signed.pk)
    as_signed_then.canon = 1
    old_document = services.session_document(as_signed_then)
    assert "canon" not in old_document
    assert old_document["vials"] == [str(vial.id)]
    with triggers_lifted():
        TreatmentSession.objects.filter(pk=signed.pk).update(canon=1, digest=digest(old_document))
    assert services.verify_digest(TreatmentSession.objects.get(pk=signed.pk))


# -- the injection time (B.34) ------------------------------------------------------------------


def test_an_injection_time_exactly_5_minutes_ahead_is_accepted(world):
    s, p = world
    vial = builders.open_vial(s, lot_of(s, 100, "AHEAD"))
    session = plan(s, p, ["40"], vials=[vial])
    decide_all(s, session, timezone.now())
    # The service reads its clock after this line: it is at most 5:00 ahead when it does.
    signed = services.sign_session(
        s.actor("physician"), session.id, administered_at=timezone.now() + timedelta(minutes=5)
    )
    assert signed.is_signed


@pytest.mark.parametrize("ahead", [timedelta(minutes=5, seconds=1), timedelta(minutes=6)])
def test_an_injection_time_more_than_5_minutes_ahead_is_refused(world, ahead):
    s, p = world
    vial = builders.open_vial(s, lot_of(s, 100, "FUTURE"))
    session = plan(s, p, ["40"], vials=[vial])
    with pytest.raises(ServiceError) as refused:
        services.sign_session(
            s.actor("physician"), session.id, administered_at=timezone.now() + ahead
        )
    assert refused.value.field == "administered_at"
    assert "the injection time is in the future" in refused.value.message
    assert "plan date" in refused.value.message
    nothing_written(session)


# -- late charting (B.37) -----------------------------------------------------------------------


def test_a_session_charted_late_is_checked_against_the_sessions_signed_after_it(world):
    """Charting yesterday's 200 U after today's 300 U was signed finds the 500 U."""
    s, p = world
    stock = lot_of(s, 200, "LATE", vials=6)
    today = sign(
        s,
        plan(s, p, ["50"] * 6, vials=[builders.open_vial(s, stock), builders.open_vial(s, stock)]),
    )
    assert today.is_signed
    yesterday = timezone.now() - timedelta(days=1)
    late = plan(
        s,
        p,
        ["50"] * 4,
        vials=[builders.open_vial(s, stock, at=yesterday - timedelta(hours=1))],
    )
    result = services.stored_result_at(late, yesterday)
    cumulative = next(f for f in result["findings"] if f["rule"] == "cumulative-dose")
    assert "500 U" in cumulative["message"]


def test_history_entries_carry_the_injection_time_in_the_clinics_zone_and_the_injector(world):
    from bontrack.treatments.checking import history_of

    s, p = world
    vial = builders.open_vial(s, lot_of(s, 100, "HIST"))
    signed = sign(s, plan(s, p, ["40"], vials=[vial]))
    (entry,) = history_of(p)
    assert entry.injector == "Pat Physician"
    assert entry.administered_at == signed.administered_at
    assert (
        entry.administered_at.utcoffset()
        == timezone.now()
        .astimezone(__import__("zoneinfo").ZoneInfo(s.clinic.time_zone))
        .utcoffset()
    )


def test_a_weight_measured_after_the_session_date_is_not_used(world):
    from bontrack.treatments.checking import patient_values

    s, _ = world
    child = builders.patient(
        s,
        record="C-1",
        born=timezone.localdate().replace(year=timezone.localdate().year - 8),
        weight_kg=25,
        weight_measured_on=timezone.localdate() - timedelta(days=3),
    )
    assert patient_values(child, timezone.localdate() - timedelta(days=10)).weight_kg is None
    assert patient_values(child, timezone.localdate()).weight_kg == Decimal(25)


def test_lot_numbers_typed_at_signing_must_match_the_stock_of_that_number(world):
    s, p = world
    receive_lot(
        s.actor("physician"),
        product="onabotulinumtoxinA",
        lot_number="PHARM-1",
        vial_size_units=Decimal(100),
        expires_on=timezone.localdate() + timedelta(days=90),
        received_vials=1,
        received_on=timezone.localdate(),
    )
    session = plan(s, p, ["4"] * 5, indication="glabellar-lines")
    typed = DrawInput(
        lot_number="PHARM-1",
        size_units=Decimal(20),
        expires_on=timezone.localdate() + timedelta(days=20),
    )
    with pytest.raises(ServiceError, match="check the label"):
        sign(s, session, vials=[typed])
    assert connection.vendor in ("sqlite", "postgresql")
