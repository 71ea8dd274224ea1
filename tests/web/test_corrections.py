"""Amending a signed session and marking it entered in error from its page: appended beside the
signed record (whose digest still verifies), asked for the password again, audited, refused with
the field named and nothing appended when the input is wrong."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bontrack.audit.models import AuditEntry
from bontrack.treatments.models import CorrectionRequest, SessionEvent
from bontrack.treatments.records import current_points, status_of, total_units
from bontrack.treatments.services import verify_digest
from tests.web.conftest import Pages


def _amendment(pages: Pages, **changes: str) -> dict[str, str]:
    rows = {f"units-{n}": "50" for n in range(6)}
    return {
        **rows,
        "reason": "The last biceps point was not given: the patient flinched.",
        "confirm": pages.staff.password,
        **changes,
    }


def test_an_amendment_is_appended_and_the_corrected_points_count(pages: Pages):
    session = pages.signed
    client = pages.client("physician")
    page = client.get(f"/sessions/{session.id}/").content.decode()
    assert f'href="/sessions/{session.id}/amend"' in page
    form = client.get(f"/sessions/{session.id}/amend").content.decode()
    assert form.count('name="units-') == 6

    posted = _amendment(
        pages,
        **{
            "units-5": "0",
            "add_site": "brachialis",
            "add_side": "left",
            "add_units": "20",
            "notes": "Patient flinched at the sixth point.",
        },
    )
    response = client.post(f"/sessions/{session.id}/amend", posted)
    assert response.status_code == 302
    session.refresh_from_db()
    assert status_of(session) == "amended"
    assert total_units(current_points(session)) == Decimal(270)
    # The signed record itself never changed: its digest still verifies.
    assert verify_digest(session)
    event = SessionEvent.objects.get(session=session, kind="amended")
    assert event.amends_digest == session.digest
    assert event.reason.startswith("The last biceps point")
    assert AuditEntry.objects.filter(object_id=str(session.id), action="amend").count() == 1
    shown = client.get(f"/sessions/{session.id}/").content.decode()
    assert "270 U" in shown
    assert "Amendment appended" in shown
    assert "Patient flinched at the sixth point." in shown
    note = client.get(f"/sessions/{session.id}/note").content.decode()
    assert "Patient flinched at the sixth point." in note


def test_a_wrong_password_or_bad_field_appends_nothing_and_says_which(pages: Pages):
    session = pages.signed
    client = pages.client("physician")
    cases = [
        ({"confirm": "not my password at all"}, "confirm"),
        ({"reason": "typo"}, "at least 5 characters"),
        ({"units-2": "lots"}, "give the units as a number"),
        ({"units-2": "-5"}, "must be between 0 and 1000 U"),
        ({"add_site": "nowhere", "add_units": "5"}, "choose the site of the added point"),
        ({"add_site": "brachialis", "add_side": "midline", "add_units": "5"}, "has no midline"),
        ({f"units-{n}": "0" for n in range(6)}, "mark the session entered in error instead"),
    ]
    for change, complaint in cases:
        response = client.post(f"/sessions/{session.id}/amend", _amendment(pages, **change))
        page = response.content.decode()
        assert response.status_code == 400, change
        assert "Nothing was appended" in page
        if complaint == "confirm":
            assert 'class="field-error"' in page
        else:
            assert complaint in page, (change, page)
    assert not SessionEvent.objects.filter(session=session, kind="amended").exists()


def test_entered_in_error_stops_the_session_counting_and_ends_corrections(pages: Pages):
    session = pages.signed
    client = pages.client("physician")
    refused = client.post(
        f"/sessions/{session.id}/entered-in-error",
        {"reason": "", "confirm": pages.staff.password},
    )
    assert refused.status_code == 400
    assert status_of(session) == "signed"

    unanswered = client.post(
        f"/sessions/{session.id}/entered-in-error",
        {"reason": "Charted on the wrong patient.", "confirm": pages.staff.password},
    )
    assert unanswered.status_code == 400
    assert "say whether the toxin was given" in unanswered.content.decode()
    response = client.post(
        f"/sessions/{session.id}/entered-in-error",
        {
            "reason": "Charted on the wrong patient.",
            "toxin_given": "yes",
            "confirm": pages.staff.password,
        },
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert status_of(session) == "entered-in-error"
    page = client.get(f"/sessions/{session.id}/").content.decode()
    assert "was entered in error" in page
    assert f'href="/sessions/{session.id}/amend"' not in page
    again = client.get(f"/sessions/{session.id}/amend", follow=True)
    assert "only a signed session that is not entered in error" in again.content.decode()


def test_who_may_correct(pages: Pages):
    session = pages.signed
    for persona in ("front_desk", "auditor", "clinic_admin"):
        assert pages.client(persona).get(f"/sessions/{session.id}/amend").status_code == 403
    other = pages.client("other_clinic")
    response = other.post(
        f"/sessions/{session.id}/entered-in-error",
        {"reason": "Charted on the wrong patient.", "confirm": pages.staff.password},
    )
    assert response.status_code == 404
    assert status_of(session) == "signed"
    # A plan is changed in its editor, not amended.
    assert pages.client("physician").get(f"/sessions/{pages.plan.id}/amend").status_code == 302


def test_a_nurse_is_sent_to_file_a_correction_request_instead_of_amending(pages: Pages):
    session = pages.signed
    nurse = pages.client("nurse_injector")
    for path in ("amend", "entered-in-error"):
        response = nurse.get(f"/sessions/{session.id}/{path}")
        assert response.status_code == 403
        assert "file a correction" in response.content.decode()
    page = nurse.get(f"/sessions/{session.id}/").content.decode()
    assert f'href="/sessions/{session.id}/correction-request"' in page
    assert f'href="/sessions/{session.id}/amend"' not in page


def test_a_nurse_files_a_request_and_a_prescriber_accepts_it_from_the_pages(pages: Pages):
    session = pages.signed
    nurse = pages.client("nurse_injector")
    form = nurse.get(f"/sessions/{session.id}/correction-request").content.decode()
    assert session.digest in form
    filed = nurse.post(
        f"/sessions/{session.id}/correction-request",
        {
            "kind": "amend",
            "corrects_digest": session.digest,
            **{f"units-{n}": "50" for n in range(5)},
            "units-5": "0",
            "notes": "Patient flinched at the sixth point.",
            "reason": "The sixth biceps point was not given.",
        },
    )
    assert filed.status_code == 302, filed.content.decode()
    request = CorrectionRequest.objects.get()
    assert status_of(session) == "signed"

    doctor = pages.client("physician")
    today = doctor.get("/").content.decode()
    assert "Correction requests" in today
    assert f"/corrections/{request.id}/" in today
    detail = doctor.get(f"/corrections/{request.id}/").content.decode()
    assert "The sixth biceps point was not given." in detail
    assert "250 U" in detail
    wrong = doctor.post(
        f"/corrections/{request.id}/accept",
        {**{f"units-{n}": "50" for n in range(5)}, "confirm": "not the password"},
    )
    assert wrong.status_code == 400
    assert status_of(session) == "signed"
    accepted = doctor.post(
        f"/corrections/{request.id}/accept",
        {**{f"units-{n}": "50" for n in range(5)}, "confirm": pages.staff.password},
    )
    assert accepted.status_code == 302
    assert status_of(session) == "amended"
    assert total_units(current_points(session)) == Decimal(250)
    assert CorrectionRequest.objects.get().decision.outcome == "accepted"
    shown = doctor.get(f"/sessions/{session.id}/").content.decode()
    assert "accepted" in shown


def test_a_stale_request_is_shown_as_such_and_cannot_be_accepted(pages: Pages):
    session = pages.signed
    pages.client("nurse_injector").post(
        f"/sessions/{session.id}/correction-request",
        {
            "kind": "entered-in-error",
            "toxin_given": "no",
            "corrects_digest": session.digest,
            "reason": "Nothing was injected: the patient fainted.",
            **{f"units-{n}": "50" for n in range(6)},
        },
    )
    request = CorrectionRequest.objects.get()
    doctor = pages.client("physician")
    doctor.post(f"/sessions/{session.id}/amend", _amendment(pages, notes="Tolerated well."))
    detail = doctor.get(f"/corrections/{request.id}/").content.decode()
    assert "The session changed since the request: review it again" in detail
    refused = doctor.post(f"/corrections/{request.id}/accept", {"confirm": pages.staff.password})
    assert refused.status_code == 400
    assert "the session changed since the request" in refused.content.decode()
    declined = doctor.post(
        f"/corrections/{request.id}/decline", {"decline_reason": "Already amended."}
    )
    assert declined.status_code == 302
    assert CorrectionRequest.objects.get().decision.outcome == "declined"


def test_the_injectors_addendum_shows_on_the_page_and_in_the_printed_note(pages: Pages):
    session = pages.signed
    refused = pages.client("nurse_injector").post(
        f"/sessions/{session.id}/addenda", {"text": "Not mine to add."}
    )
    assert refused.status_code == 403
    doctor = pages.client("physician")
    done = doctor.post(f"/sessions/{session.id}/addenda", {"text": "Phoned: no bruising."})
    assert done.status_code == 302
    assert "Phoned: no bruising." in doctor.get(f"/sessions/{session.id}/").content.decode()
    assert "Phoned: no bruising." in doctor.get(f"/sessions/{session.id}/note").content.decode()
    assert verify_digest(session)


def test_the_today_page_lists_sessions_awaiting_the_supervisors_co_signature(pages: Pages):
    from django.utils import timezone

    from tests import builders

    nurse = pages.staff.actor("nurse")
    when = timezone.now() - timedelta(hours=2)
    plan = builders.sessions.plan_session(
        nurse,
        pages.patient.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=when.date(),
        protocol="preempt-155",
        vial_ids=[builders.open_vial(pages.staff, pages.lot, at=when - timedelta(hours=1)).id],
    )
    for f in builders.sessions.stored_result_at(plan, when)["findings"]:
        builders.sessions.decide(
            pages.staff.actor("physician"),
            plan.id,
            fingerprint_=f["fingerprint"],
            kind="acknowledge" if f["severity"] == "warn" else "override",
            reason="Reviewed with the patient before treatment.",
        )
    builders.sessions.sign_session(nurse, plan.id, administered_at=when)
    today = pages.client("physician").get("/").content.decode()
    assert "Awaiting your co-signature" in today
    assert "1 session<" in today
    assert f"/sessions/{plan.id}/" in today
    assert (
        "Awaiting your co-signature" not in pages.client("nurse_injector").get("/").content.decode()
    )
