"""Amending a signed session and marking it entered in error from its page: appended beside the
signed record (whose digest still verifies), asked for the password again, audited, refused with
the field named and nothing appended when the input is wrong."""

from __future__ import annotations

from decimal import Decimal

from bontrack.audit.models import AuditEntry
from bontrack.treatments.models import SessionEvent
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

    response = client.post(
        f"/sessions/{session.id}/entered-in-error",
        {"reason": "Charted on the wrong patient.", "confirm": pages.staff.password},
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
