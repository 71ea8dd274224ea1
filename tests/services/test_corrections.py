"""Who corrects a signed record (B.33): prescribers amend and mark entered in error; a nurse
injector files a correction request that a prescriber accepts or declines; the session's injector
appends note addenda; every correction re-checks the patient's open plans; the check's patient
inputs are audited and re-check too; co-signing follows the supervisors list (DESIGN 3.4)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bontrack.accounts.services import set_supervisors
from bontrack.audit.models import AuditEntry
from bontrack.audit.services import Actor
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.patients.services import record_consent, register_patient, update_patient
from bontrack.treatments import corrections, services
from bontrack.treatments.models import (
    CorrectionDecision,
    CorrectionRequest,
    SessionEvent,
    TreatmentSession,
)
from bontrack.treatments.records import current_digest, current_points, status_of, total_units
from bontrack.treatments.services import PointInput
from bontrack.treatments.supply import DrawInput
from tests import builders

pytestmark = pytest.mark.django_db


def _noon(weeks_ago: float) -> datetime:
    return timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(
        weeks=weeks_ago
    )


class World:
    def __init__(self) -> None:
        self.s = builders.staff()
        self.p = builders.patient(self.s, weight_kg=70)
        long_ago = timezone.localdate() - timedelta(days=200)
        for indication in ("chronic-migraine", "upper-limb-spasticity", "cervical-dystonia"):
            builders.consent(self.s, self.p, indication, long_ago)
        self.stock = builders.lot(self.s, vials=10)

    def actor(self, who: str) -> Actor:
        return self.s.actor(who)

    def vial(self, when: datetime):
        return builders.open_vial(self.s, self.stock, at=when - timedelta(hours=1))

    def spasticity(self, when: datetime, units: int = 150, vials: int = 1) -> TreatmentSession:
        """Signed by the physician: six biceps points adding up to ``units``."""
        opened = [self.vial(when) for _ in range(vials)]
        points = [PointInput("biceps-brachii", "left", Decimal(units) / 6)] * 6
        session = services.plan_session(
            self.actor("physician"),
            self.p.id,
            product="onabotulinumtoxinA",
            indication="upper-limb-spasticity",
            plan_date=when.date(),
            injections=points,
            vial_ids=[v.id for v in opened],
        )
        return self._sign(session, when, "physician")

    def _sign(self, session: TreatmentSession, when: datetime, who: str) -> TreatmentSession:
        for f in services.stored_result_at(session, when)["findings"]:
            kind = "acknowledge" if f["severity"] == "warn" else "override"
            services.decide(
                self.actor("physician"),
                session.id,
                fingerprint_=f["fingerprint"],
                kind=kind,
                reason="Reviewed with the patient before treatment.",
            )
        return services.sign_session(self.actor(who), session.id, administered_at=when)

    def nurse_migraine(self, when: datetime) -> TreatmentSession:
        """PREEMPT 155 U, planned and signed by the nurse: awaiting co-signature."""
        session = services.plan_session(
            self.actor("nurse"),
            self.p.id,
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            plan_date=when.date(),
            protocol="preempt-155",
            vial_ids=[self.vial(when).id],
        )
        return self._sign(session, when, "nurse")

    def migraine_plan(self, who: str = "nurse") -> TreatmentSession:
        return services.plan_session(
            self.actor(who),
            self.p.id,
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            plan_date=timezone.localdate(),
            protocol="preempt-155",
        )


@pytest.fixture
def w() -> World:
    return World()


def _rules(session: TreatmentSession) -> dict[str, dict]:
    session.refresh_from_db()
    return {f["rule"]: f for f in session.check_result["findings"]}


def _written(session: TreatmentSession) -> tuple[int, int, int]:
    return (
        SessionEvent.objects.filter(session=session).count(),
        CorrectionRequest.objects.count(),
        AuditEntry.objects.count(),
    )


# -- only a prescriber corrects --------------------------------------------------------------


def test_a_nurse_can_neither_amend_nor_mark_entered_in_error_and_is_told_to_file_a_request(w):
    session = w.spasticity(_noon(6))
    before = _written(session)
    with pytest.raises(ForbiddenError, match="file a correction request"):
        services.amend(
            w.actor("nurse"),
            session.id,
            reason="Fewer units were given",
            injections=[PointInput("biceps-brachii", "left", Decimal(10))],
        )
    with pytest.raises(ForbiddenError, match="file a correction request"):
        services.mark_entered_in_error(
            w.actor("nurse"), session.id, reason="Not this patient", toxin_given=False
        )
    assert _written(session) == before
    assert status_of(session) == "signed"


def test_a_nurse_blocked_by_an_earlier_session_cannot_erase_or_shrink_it(w):
    """Issue scenario 2: 390 U signed by the prescriber + PREEMPT 155 U = 545 U in 84 days; the
    nurse cannot override, nor mark the earlier session entered in error, nor amend it down."""
    earlier = w.spasticity(_noon(4), units=390, vials=2)
    plan = w.migraine_plan("nurse")
    assert _rules(plan)["cumulative-dose"]["severity"] == "block"
    assert "545 U" in _rules(plan)["cumulative-dose"]["message"]
    before = _written(earlier)
    with pytest.raises(ForbiddenError):
        services.mark_entered_in_error(
            w.actor("nurse"), earlier.id, reason="Not given really", toxin_given=False
        )
    with pytest.raises(ForbiddenError):
        services.amend(
            w.actor("nurse"),
            earlier.id,
            reason="Only 100 U were given",
            injections=[PointInput("biceps-brachii", "left", Decimal(100))],
        )
    assert _written(earlier) == before
    assert status_of(earlier) == "signed"
    assert _rules(plan)["cumulative-dose"]["severity"] == "block"


def test_an_amendment_is_checked_and_kept_for_information_even_above_a_limit(w):
    """B.33: a record of what was given is never refused for a limit; its findings are stored
    beside it (here 180 U + 250 U = 430 U in 84 days, a cumulative-dose block)."""
    w.spasticity(_noon(10), units=180)
    later = w.spasticity(_noon(6), units=150)
    extra = w.vial(_noon(6))
    event = services.amend(
        w.actor("physician"),
        later.id,
        reason="A second vial was drawn: 250 U were given",
        injections=[PointInput("biceps-brachii", "left", Decimal(50))] * 5,
        vials=[DrawInput(vial_id=u.vial_id) for u in later.session_vials.all()]
        + [DrawInput(vial_id=extra.id)],
    )
    assert event.canon == 2
    assert services.verify_event(event)
    check = event.data["check"]
    assert {f["rule"]: f["severity"] for f in check["findings"]}["cumulative-dose"] == "block"
    assert sum(Decimal(v["drawn_units"]) for v in event.data["vials"]) == 250
    assert total_units(current_points(later)) == 250


def test_an_amendment_its_vials_cannot_hold_is_refused_and_nothing_is_written(w):
    """B.30: 150 U from one 200 U vial, amended to 250 U without another vial."""
    session = w.spasticity(_noon(6), units=150)
    before = _written(session)
    with pytest.raises(ConflictError) as refused:
        services.amend(
            w.actor("physician"),
            session.id,
            reason="250 U were given in truth",
            injections=[PointInput("biceps-brachii", "left", Decimal(50))] * 5,
        )
    assert refused.value.field == "vials"
    assert "supply" in refused.value.message or "vial" in refused.value.message
    assert _written(session) == before


def test_entered_in_error_asks_whether_the_toxin_was_given(w):
    session = w.spasticity(_noon(6))
    with pytest.raises(ServiceError) as unanswered:
        services.mark_entered_in_error(
            w.actor("physician"),
            session.id,
            reason="Charted on the wrong patient",
            toxin_given=None,
        )
    assert unanswered.value.field == "toxin_given"
    event = services.mark_entered_in_error(
        w.actor("physician"), session.id, reason="Charted on the wrong patient", toxin_given=True
    )
    assert event.data == {"toxin_given": True}
    assert status_of(session) == "entered-in-error"


# -- every correction re-checks the open plans -----------------------------------------------


@pytest.mark.parametrize("how", ["amend", "entered-in-error", "accepted request"])
def test_a_correction_re_checks_every_open_plan_of_the_patient(w, how):
    earlier = w.spasticity(_noon(4), units=300, vials=2)
    plan = w.migraine_plan("nurse")
    assert "cumulative-dose" in _rules(plan)
    lower = [PointInput("biceps-brachii", "left", Decimal(25))] * 6
    if how == "amend":
        services.amend(w.actor("physician"), earlier.id, reason="150 U given", injections=lower)
    elif how == "entered-in-error":
        services.mark_entered_in_error(
            w.actor("physician"), earlier.id, reason="Wrong patient chart", toxin_given=True
        )
    else:
        filed = corrections.file_request(
            w.actor("nurse"),
            earlier.id,
            corrects_digest=earlier.digest,
            reason="Only 150 U were given",
            proposal=corrections.Proposal("amend", tuple(lower), "Patient flinched"),
        )
        corrections.accept_request(w.actor("physician"), filed.id)
    assert "cumulative-dose" not in _rules(plan)
    assert AuditEntry.objects.filter(object_type="session-check", object_id=str(plan.id)).exists()


# -- correction requests ---------------------------------------------------------------------


def _request(w: World, session: TreatmentSession, units: int = 25) -> CorrectionRequest:
    return corrections.file_request(
        w.actor("nurse"),
        session.id,
        corrects_digest=current_digest(session),
        reason="The last point was not given",
        proposal=corrections.Proposal(
            "amend",
            tuple([PointInput("biceps-brachii", "left", Decimal(units))] * 5),
            "Patient flinched at the sixth point.",
        ),
    )


def test_a_request_accepted_becomes_the_prescribers_amendment(w):
    session = w.spasticity(_noon(6))
    filed = _request(w, session)
    assert corrections.status_of_request(filed) == "open"
    assert filed.corrects_digest == session.digest
    assert status_of(session) == "signed"  # nothing changes until a prescriber accepts

    decision = corrections.accept_request(w.actor("physician"), filed.id)
    assert decision.outcome == "accepted"
    event = decision.event
    assert event.kind == "amended"
    assert event.by_id == w.s.physician.id
    assert event.reason == "The last point was not given"
    assert total_units(current_points(session)) == 125
    assert event.data["notes"] == "Patient flinched at the sixth point."
    actions = set(
        AuditEntry.objects.filter(object_type="correction-request").values_list("action", flat=True)
    )
    assert actions == {"create", "update"}


def test_a_prescriber_may_accept_a_request_edited(w):
    session = w.spasticity(_noon(6))
    filed = _request(w, session)
    edited = corrections.Proposal(
        "amend", tuple([PointInput("biceps-brachii", "left", Decimal(20))] * 5), "Edited."
    )
    corrections.accept_request(w.actor("physician"), filed.id, edited=edited, reason="Checked")
    assert total_units(current_points(session)) == 100


def test_accepting_is_refused_when_the_session_changed_since_the_request(w):
    session = w.spasticity(_noon(6))
    filed = _request(w, session)
    services.amend(w.actor("physician"), session.id, reason="Notes added", notes="Tolerated well")
    before = _written(session), CorrectionDecision.objects.count()
    with pytest.raises(ConflictError, match="the session changed since the request"):
        corrections.accept_request(w.actor("physician"), filed.id)
    assert (_written(session), CorrectionDecision.objects.count()) == before
    assert corrections.stale(filed)


def test_a_request_naming_an_old_digest_is_refused_when_filed(w):
    session = w.spasticity(_noon(6))
    services.amend(w.actor("physician"), session.id, reason="Notes added", notes="Tolerated well")
    with pytest.raises(ConflictError):
        corrections.file_request(
            w.actor("nurse"),
            session.id,
            corrects_digest=session.digest,
            reason="Not this patient",
            proposal=corrections.Proposal("entered-in-error", toxin_given=False),
        )
    assert not CorrectionRequest.objects.exists()


def test_only_the_nurse_who_filed_it_withdraws_a_request(w):
    session = w.spasticity(_noon(6))
    filed = _request(w, session)
    with pytest.raises(ForbiddenError):
        corrections.withdraw_request(w.actor("physician"), filed.id)
    corrections.withdraw_request(w.actor("nurse"), filed.id)
    filed.refresh_from_db()
    assert corrections.status_of_request(filed) == "withdrawn"
    with pytest.raises(ConflictError, match="already withdrawn"):
        corrections.accept_request(w.actor("physician"), filed.id)


def test_declining_needs_a_reason_and_a_prescriber(w):
    session = w.spasticity(_noon(6))
    filed = _request(w, session)
    with pytest.raises(ServiceError) as no_reason:
        corrections.decline_request(w.actor("physician"), filed.id, reason="  ")
    assert no_reason.value.field == "reason"
    with pytest.raises(ForbiddenError):
        corrections.decline_request(w.actor("nurse"), filed.id, reason="I changed my mind")
    with pytest.raises(ForbiddenError):
        corrections.accept_request(w.actor("nurse"), filed.id)
    decision = corrections.decline_request(
        w.actor("physician"), filed.id, reason="The sixth point is in the video"
    )
    assert decision.outcome == "declined"
    assert status_of(session) == "signed"
    assert [r.id for r in corrections.list_requests(w.actor("physician"), "declined")] == [filed.id]
    assert corrections.list_requests(w.actor("physician"), "open") == []


def test_an_entered_in_error_request_accepted_keeps_the_answer_about_the_toxin(w):
    session = w.spasticity(_noon(6))
    filed = corrections.file_request(
        w.actor("nurse"),
        session.id,
        corrects_digest=session.digest,
        reason="Charted on the wrong patient",
        proposal=corrections.Proposal("entered-in-error", toxin_given=True),
    )
    decision = corrections.accept_request(w.actor("physician"), filed.id)
    assert decision.event.kind == "entered-in-error"
    assert decision.event.data == {"toxin_given": True}
    assert status_of(session) == "entered-in-error"


def test_a_request_names_what_is_wrong_and_proposes_in_full(w):
    session = w.spasticity(_noon(6))
    cases = [
        ("reason", {"reason": "no"}),
        ("proposed.injections", {"proposal": corrections.Proposal("amend")}),
        ("proposed.toxin_given", {"proposal": corrections.Proposal("entered-in-error")}),
    ]
    for field, change in cases:
        values = {
            "corrects_digest": session.digest,
            "reason": "The sixth point was not given",
            "proposal": corrections.Proposal("entered-in-error", toxin_given=False),
            **change,
        }
        with pytest.raises(ServiceError) as refused:
            corrections.file_request(w.actor("nurse"), session.id, **values)
        assert refused.value.field == field
    assert not CorrectionRequest.objects.exists()


# -- note addenda ----------------------------------------------------------------------------


def test_only_the_sessions_injector_appends_a_note_addendum(w):
    session = w.spasticity(_noon(6))
    digest = session.digest
    with pytest.raises(ForbiddenError):
        services.add_addendum(w.actor("nurse"), session.id, text="Patient called: no bruising")
    with pytest.raises(ServiceError):
        services.add_addendum(w.actor("physician"), session.id, text="   ")
    event = services.add_addendum(
        w.actor("physician"), session.id, text="Patient called: no bruising"
    )
    assert event.kind == "addendum"
    assert event.data == {"text": "Patient called: no bruising"}
    session.refresh_from_db()
    assert session.digest == digest
    assert services.verify_digest(session)
    assert status_of(session) == "signed"
    assert current_digest(session) == digest  # an addendum does not change the record's values
    nurses = w.nurse_migraine(_noon(1))
    services.add_addendum(w.actor("nurse"), nurses.id, text="Mild headache the next day")


# -- canonical forms -------------------------------------------------------------------------


def test_events_appended_under_the_first_canonical_form_still_verify(w):
    session = w.spasticity(_noon(6))
    old = SessionEvent(
        clinic_id=session.clinic_id,
        session=session,
        kind="co-signed",
        reason="",
        by=w.s.physician,
        at=timezone.now(),
        data={},
        canon=1,
        amends_digest=session.digest,
    )
    from bontrack.audit.chain import digest

    old.digest = digest(services.event_document(old))
    assert "canon" not in services.event_document(old)
    old.save()
    stored = SessionEvent.objects.get(pk=old.pk)
    assert services.verify_event(stored)
    stored.reason = "altered"
    assert not services.verify_event(stored)


# -- co-signing ------------------------------------------------------------------------------


def _second_prescriber(w: World, indications=("chronic-migraine",)):
    return builders.another_prescriber(w.s, full_name="Robin Second", indications=list(indications))


def test_a_prescriber_who_does_not_supervise_the_nurse_cannot_co_sign(w):
    other = _second_prescriber(w)
    session = w.nurse_migraine(_noon(1))
    with pytest.raises(ForbiddenError, match="Pat Physician"):
        services.co_sign(Actor(other, "127.0.0.1"), session.id)
    assert status_of(session) == "awaiting-co-signature"
    services.co_sign(w.actor("physician"), session.id)
    assert status_of(session) == "signed"


def test_any_prescriber_co_signs_when_no_supervisor_is_active_and_the_reason_is_kept(w):
    other = _second_prescriber(w)
    session = w.nurse_migraine(_noon(1))
    w.s.physician.active = False
    w.s.physician.save()
    allowed = services.co_signers(session)
    assert allowed.includes(other)
    assert "any prescriber of the clinic may co-sign" in allowed.why
    event = services.co_sign(Actor(other, "127.0.0.1"), session.id)
    assert "no" in event.data["why"] or "none" in event.data["why"]
    assert status_of(session) == "signed"


def test_a_supervisor_not_privileged_for_the_indication_does_not_co_sign_it(w):
    migraine_only = _second_prescriber(w)
    spasticity_only = builders.another_prescriber(
        w.s, "a-physician-3", indications=["upper-limb-spasticity"]
    )
    set_supervisors(w.actor("admin"), w.s.nurse.id, [migraine_only.id, spasticity_only.id])
    session = w.nurse_migraine(_noon(1))
    allowed = services.co_signers(session)
    assert [m.id for m in allowed.members] == [migraine_only.id]
    assert allowed.why == ""
    with pytest.raises(ForbiddenError):
        services.co_sign(w.actor("physician"), session.id)  # not her supervisor
    with pytest.raises(ForbiddenError):
        services.co_sign(Actor(spasticity_only, "127.0.0.1"), session.id)  # not privileged
    services.co_sign(Actor(migraine_only, "127.0.0.1"), session.id)
    assert status_of(session) == "signed"


def test_only_the_clinic_admin_sets_a_nurses_supervisors_and_it_is_audited(w):
    other = _second_prescriber(w)
    with pytest.raises(ForbiddenError):
        set_supervisors(w.actor("physician"), w.s.nurse.id, [other.id])
    with pytest.raises(ServiceError):
        set_supervisors(w.actor("admin"), w.s.nurse.id, [w.s.front_desk.id])
    with pytest.raises(ServiceError):
        set_supervisors(w.actor("admin"), w.s.nurse.id, [])
    set_supervisors(w.actor("admin"), w.s.nurse.id, [other.id, w.s.physician.id])
    assert set(w.s.nurse.supervisors.values_list("id", flat=True)) == {other.id, w.s.physician.id}
    entry = AuditEntry.objects.filter(object_type="membership").latest("seq")
    assert entry.detail["supervisors_before"] == [str(w.s.physician.id)]


# -- the check's patient inputs --------------------------------------------------------------


def test_changing_the_checks_patient_inputs_re_checks_open_plans_and_audits_before_and_after(w):
    plan = w.migraine_plan("nurse")
    assert "contraindication" not in _rules(plan)
    update_patient(w.actor("nurse"), w.p.id, timezone.localdate(), allergies=["onabotulinumtoxinA"])
    assert "contraindication" in _rules(plan)
    entry = AuditEntry.objects.filter(object_type="patient", action="update").latest("seq")
    assert entry.detail["before"] == {"allergies": []}
    assert entry.detail["after"] == {"allergies": ["onabotulinumtoxinA"]}


def test_a_birth_date_changes_after_signed_sessions_only_by_a_prescriber(w):
    update_patient(w.actor("nurse"), w.p.id, timezone.localdate(), birth_date=date(1981, 5, 1))
    w.spasticity(_noon(6))
    before = AuditEntry.objects.count()
    with pytest.raises(ForbiddenError, match="only a prescriber"):
        update_patient(w.actor("nurse"), w.p.id, timezone.localdate(), birth_date=date(1982, 5, 1))
    with pytest.raises(ForbiddenError):
        update_patient(
            w.actor("front_desk"), w.p.id, timezone.localdate(), birth_date=date(1982, 5, 1)
        )
    assert AuditEntry.objects.count() == before
    update_patient(w.actor("physician"), w.p.id, timezone.localdate(), birth_date=date(1982, 5, 1))
    w.p.refresh_from_db()
    assert w.p.birth_date == date(1982, 5, 1)
    entry = AuditEntry.objects.filter(object_type="patient", action="update").latest("seq")
    assert entry.detail["before"] == {"birth_date": "1981-05-01"}


@pytest.mark.parametrize(
    ("born", "complaint"),
    [
        (lambda today: today + timedelta(days=1), "in the future"),
        (lambda today: today.replace(year=today.year - 121), "more than 120 years ago"),
    ],
)
def test_a_birth_date_in_the_future_or_more_than_120_years_ago_is_refused(w, born, complaint):
    today = timezone.localdate()
    with pytest.raises(ServiceError, match=complaint) as refused:
        register_patient(
            w.actor("physician"),
            today,
            record_number="P-9",
            given_name="Al",
            family_name="Doe",
            birth_date=born(today),
        )
    assert refused.value.field == "birth_date"
    with pytest.raises(ServiceError, match=complaint):
        update_patient(w.actor("physician"), w.p.id, today, birth_date=born(today))


def test_a_birth_date_exactly_120_years_ago_is_accepted(w):
    today = timezone.localdate()
    update_patient(
        w.actor("physician"), w.p.id, today, birth_date=today.replace(year=today.year - 120)
    )


def test_a_consent_dated_after_the_day_it_is_recorded_is_refused(w):
    today = timezone.localdate()
    with pytest.raises(ServiceError, match="the consent's date is in the future") as refused:
        record_consent(
            w.actor("physician"),
            w.p.id,
            indication="glabellar-lines",
            signed_on=today + timedelta(days=1),
            signed_by="Alex Doe",
        )
    assert refused.value.field == "signed_on"
    record_consent(
        w.actor("physician"), w.p.id, indication="glabellar-lines", signed_on=today, signed_by="A"
    )
