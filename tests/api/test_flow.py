"""The records service end to end over HTTP (issue: nurse plans, physician signs, lot recalled)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bontrack.audit.services import verify_clinic_chain
from tests import builders

pytestmark = pytest.mark.django_db


def token(client: Client, username: str, password: str) -> str:
    response = client.post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["token"]


def api(client: Client, tok: str, method: str, path: str, body: object = None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {tok}"}
    if body is not None:
        kwargs["data"] = body
        kwargs["content_type"] = "application/json"
    return getattr(client, method)(f"/api/v1{path}", **kwargs)


def test_nurse_plans_physician_signs_recall_lists_the_patient_and_signed_record_is_immutable():
    s = builders.staff()
    p = builders.patient(s, weight_kg=70)
    builders.consent(s, p, "chronic-migraine")
    builders.consent(s, p, "upper-limb-spasticity", timezone.localdate() - timedelta(days=60))
    stock = builders.lot(s, number="C7421A")
    six_weeks_ago = timezone.now() - timedelta(weeks=6)
    earlier_vial = builders.open_vial(s, stock, at=six_weeks_ago - timedelta(hours=1))
    builders.signed_session(
        s,
        p,
        six_weeks_ago,
        earlier_vial,
        indication="upper-limb-spasticity",
        injections=[
            builders.sessions.PointInput(
                "biceps-brachii", "left", __import__("decimal").Decimal(50)
            )
        ]
        * 6,
    )
    client = Client()
    nurse = token(client, "a-nurse", s.password)
    doctor = token(client, "a-physician", s.password)

    planned = api(
        client,
        nurse,
        "post",
        "/sessions",
        {
            "patient_id": str(p.id),
            "product": "onabotulinumtoxinA",
            "indication": "chronic-migraine",
            "plan_date": timezone.localdate().isoformat(),
            "protocol": "preempt-155",
        },
    )
    assert planned.status_code == 201, planned.content
    session = planned.json()
    assert session["total_units"] == "155"
    block = next(f for f in session["check"]["findings"] if f["rule"] == "cumulative-dose")
    assert block["severity"] == "block"
    assert block["overridable"] is True
    assert "455 U" in block["message"]
    assert "400 U" in block["message"]

    # The nurse cannot override; the physician can, with a reason.
    refused = api(
        client,
        nurse,
        "post",
        f"/sessions/{session['id']}/decisions",
        {
            "fingerprint": block["fingerprint"],
            "kind": "override",
            "reason": "I think it is fine to do.",
        },
    )
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "kind"

    vial = builders.open_vial(s, stock)
    administered = timezone.now().replace(microsecond=0)
    api(client, doctor, "patch", f"/sessions/{session['id']}", {"vial_ids": [str(vial.id)]})
    from bontrack.treatments.models import TreatmentSession
    from bontrack.treatments.services import stored_result_at

    for f in stored_result_at(TreatmentSession.objects.get(pk=session["id"]), administered)[
        "findings"
    ]:
        kind = "acknowledge" if f["severity"] == "warn" else "override"
        ok = api(
            client,
            doctor,
            "post",
            f"/sessions/{session['id']}/decisions",
            {
                "fingerprint": f["fingerprint"],
                "kind": kind,
                "reason": "Spasticity dose was the minimum; migraine disabling, reviewed.",
            },
        )
        assert ok.status_code == 201, ok.content
    signed = api(
        client,
        doctor,
        "post",
        f"/sessions/{session['id']}/sign",
        {"administered_at": administered.isoformat(), "vial_ids": [str(vial.id)]},
    )
    assert signed.status_code == 200, signed.content
    assert signed.json()["status"] == "signed"
    assert len(signed.json()["digest"]) == 64

    # An update of the signed session is refused, at the API and at the ORM.
    changed = api(client, doctor, "patch", f"/sessions/{session['id']}", {"notes": "changed"})
    assert changed.status_code == 409
    assert api(client, doctor, "delete", f"/sessions/{session['id']}").status_code == 409

    recalled = api(
        client,
        doctor,
        "post",
        f"/lots/{stock.id}/recall",
        {"reason": "Manufacturer notice 2026-11"},
    )
    assert recalled.status_code == 200, recalled.content
    assert {row["patient_id"] for row in recalled.json()} == {str(p.id)}
    assert len(recalled.json()) == 2

    assert verify_clinic_chain(s.clinic.id).intact
    verified = api(client, doctor, "get", f"/sessions/{session['id']}/verify")
    assert verified.json()["intact"] is True
