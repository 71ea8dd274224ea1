"""Session life cycle through the services: sign, co-sign, amend, enter in error, consent."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.audit.services import verify_clinic_chain
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.patients.models import Consent, ConsentWithdrawal
from bontrack.treatments import services
from bontrack.treatments.records import status_of
from bontrack.treatments.services import PointInput
from tests import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    s = builders.staff()
    p = builders.patient(s, weight_kg=70)
    long_ago = timezone.localdate() - timedelta(days=100)
    builders.consent(s, p, "chronic-migraine", long_ago)
    builders.consent(s, p, "upper-limb-spasticity", long_ago)
    stock = builders.lot(s, vials=10)
    return s, p, stock


def _spasticity(s, p, stock, when, units=300):
    vial = builders.open_vial(s, stock, at=when - timedelta(hours=1))
    points = [PointInput("biceps-brachii", "left", Decimal(units) / 6)] * 6
    return builders.signed_session(
        s, p, when, vial, indication="upper-limb-spasticity", injections=points
    )


def _migraine_plan(s, p, who="physician"):
    return services.plan_session(
        s.actor(who),
        p.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=timezone.localdate(),
        protocol="preempt-155",
    )


def rules(session):
    session.refresh_from_db()
    return {f["rule"]: f for f in session.check_result["findings"]}


def test_a_plan_is_checked_against_the_patients_signed_history(world):
    """BOTOX PI 2.1, B.1: 300 U six weeks ago + PREEMPT 155 U blocks (overridable)."""
    s, p, stock = world
    _spasticity(s, p, stock, timezone.now() - timedelta(weeks=6))
    plan = _migraine_plan(s, p, "nurse")
    block = rules(plan)["cumulative-dose"]
    assert block["severity"] == "block"
    assert block["overridable"] is True
    assert "455 U" in block["message"]


def test_an_amendment_lowers_the_counted_dose_and_keeps_the_original(world):
    """DESIGN 3.4: limits read the amended values; the original stays readable."""
    s, p, stock = world
    earlier = _spasticity(s, p, stock, timezone.now() - timedelta(weeks=6))
    original_digest = earlier.digest
    services.amend(
        s.actor("physician"),
        earlier.id,
        reason="Charted 300 U, 200 U were given",
        injections=[PointInput("biceps-brachii", "left", Decimal(50))] * 4,
    )
    earlier.refresh_from_db()
    assert earlier.digest == original_digest
    assert sum(i.units for i in earlier.injections.all()) == 300
    assert status_of(earlier) == "amended"
    event = earlier.events.get(kind="amended")
    assert event.amends_digest == original_digest
    assert "cumulative-dose" not in rules(_migraine_plan(s, p))


def test_entered_in_error_stops_counting_toward_limits(world):
    s, p, stock = world
    earlier = _spasticity(s, p, stock, timezone.now() - timedelta(weeks=6))
    services.mark_entered_in_error(
        s.actor("physician"), earlier.id, reason="Wrong patient chart", toxin_given=True
    )
    earlier.refresh_from_db()
    assert status_of(earlier) == "entered-in-error"
    assert "cumulative-dose" not in rules(_migraine_plan(s, p))
    with pytest.raises(ConflictError):
        services.amend(s.actor("physician"), earlier.id, reason="too late now", injections=None)


def test_a_nurses_session_awaits_the_prescribers_co_signature(world):
    s, p, stock = world
    plan = _migraine_plan(s, p, "nurse")
    vial = builders.open_vial(s, stock)
    now = timezone.now()
    services.update_plan(s.actor("nurse"), plan.id, vial_ids=[vial.id])
    for f in services.stored_result_at(plan, now)["findings"]:
        services.decide(
            s.actor("nurse"), plan.id, fingerprint_=f["fingerprint"], kind="acknowledge"
        )
    signed = services.sign_session(s.actor("nurse"), plan.id, administered_at=now)
    assert status_of(signed) == "awaiting-co-signature"
    with pytest.raises(ForbiddenError):
        services.co_sign(s.actor("nurse"), plan.id)
    services.co_sign(s.actor("physician"), plan.id)
    signed.refresh_from_db()
    assert status_of(signed) == "signed"
    assert services.verify_digest(signed)


def test_signing_without_a_valid_consent_blocks(world):
    """B.22, B.29: no consent for the indication on the session date blocks signing."""
    s, p, _ = world
    plan = services.plan_session(
        s.actor("physician"),
        p.id,
        product="onabotulinumtoxinA",
        indication="glabellar-lines",
        plan_date=timezone.localdate(),
        protocol="glabellar-20",
    )
    with pytest.raises(ConflictError, match="consent"):
        services.sign_session(s.actor("physician"), plan.id, administered_at=timezone.now())
    plan.refresh_from_db()
    assert plan.signed_at is None
    assert not AuditEntry.objects.filter(action="sign").exists()


@pytest.mark.parametrize(
    ("signed_days_ago", "withdrawn", "valid"),
    [(0, False, True), (364, False, True), (365, False, False), (10, True, False)],
)
def test_consent_validity_reads_b29(signed_days_ago, withdrawn, valid):
    day = date(2026, 11, 25)
    consent = Consent(
        signed_on=day - timedelta(days=signed_days_ago), expires_on=day + timedelta(days=400)
    )
    if withdrawn:
        consent.withdrawal = ConsentWithdrawal(on=day - timedelta(days=1))
    assert consent.valid_on(day) is valid


def test_unacknowledged_warnings_and_unoverridden_blocks_refuse_signing(world):
    s, p, stock = world
    _spasticity(s, p, stock, timezone.now() - timedelta(weeks=6))
    plan = _migraine_plan(s, p)
    vial = builders.open_vial(s, stock)
    services.update_plan(s.actor("physician"), plan.id, vial_ids=[vial.id])
    with pytest.raises(ConflictError, match="cumulative-dose"):
        services.sign_session(s.actor("physician"), plan.id, administered_at=timezone.now())
    block = rules(plan)["cumulative-dose"]
    with pytest.raises(ServiceError, match="reason"):
        services.decide(
            s.actor("physician"),
            plan.id,
            fingerprint_=block["fingerprint"],
            kind="override",
            reason="ok",
        )
    with pytest.raises(ForbiddenError):
        services.decide(
            s.actor("nurse"),
            plan.id,
            fingerprint_=block["fingerprint"],
            kind="override",
            reason="a long enough reason",
        )


def test_a_changed_plan_asks_for_its_decisions_again(world):
    s, p, stock = world
    _spasticity(s, p, stock, timezone.now() - timedelta(weeks=6))
    plan = _migraine_plan(s, p)
    block = rules(plan)["cumulative-dose"]
    services.decide(
        s.actor("physician"),
        plan.id,
        fingerprint_=block["fingerprint"],
        kind="override",
        reason="Migraine disabling, reviewed with neurology",
    )
    services.update_plan(
        s.actor("physician"), plan.id, injections=[PointInput("frontalis", "left", Decimal(110))]
    )
    assert rules(plan)["cumulative-dose"]["fingerprint"] != block["fingerprint"]


def test_an_expired_vial_blocks_signing_and_cannot_be_overridden(world):
    s, p, stock = world
    plan = _migraine_plan(s, p)
    old = builders.open_vial(s, stock, at=timezone.now() - timedelta(hours=30))
    services.update_plan(s.actor("physician"), plan.id, vial_ids=[old.id])
    finding = rules(plan)["reconstitution"]
    assert finding["severity"] == "block"
    with pytest.raises(ServiceError):
        services.decide(
            s.actor("physician"),
            plan.id,
            fingerprint_=finding["fingerprint"],
            kind="override",
            reason="It looked fine to me, honestly",
        )


def test_every_write_is_audited_and_the_chain_verifies(world):
    s, p, stock = world
    _spasticity(s, p, stock, timezone.now() - timedelta(weeks=6))
    actions = set(
        AuditEntry.objects.filter(clinic=s.clinic, patient_id=p.id).values_list("action", flat=True)
    )
    assert {"create", "sign"} <= actions
    assert verify_clinic_chain(s.clinic.id).intact
