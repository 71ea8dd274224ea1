"""The IDOR sweep over the pages (issue 8): every page route that names an object, given another
clinic's object, answers 404 and writes nothing (tests/api/test_permissions.py does the same for
the API).

The routes come from the URL configuration itself, so that a page added later is swept too; a
route whose parameter names an object kind this sweep does not know fails the test until the
kind is added below.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from allauth.usersessions.models import UserSession
from django.apps import apps
from django.test import Client
from django.utils import timezone

from bontrack.accounts.permissions import Perm
from bontrack.api.auth import issue_token
from bontrack.audit.models import SecurityEvent
from bontrack.inventory.models import Vial
from bontrack.patients.models import Consent
from bontrack.security import services as security
from bontrack.security.routes import PUBLIC, SIGNED_IN, declared_permission
from bontrack.treatments import corrections
from tests.web.conftest import Pages
from tests.web.test_routes import page_routes

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
# Models from other apps whose rows a page could change.
EXTRA_TRACKED = ("usersessions.UserSession",)


def _clinic_b_objects(pages: Pages) -> dict[str, Any]:
    other = pages.other
    request = security.record_amendment_request(
        other.actor("physician"),
        pages.other_patient.id,
        request="Please correct my phone number",
        received_on=timezone.localdate(),
    )
    _, _clear = issue_token(other.physician, "b's token", 30)
    b_client = Client(HTTP_USER_AGENT="clinic B")
    signed_in = b_client.post("/login/", {"login": "b-physician", "password": other.password})
    assert signed_in.status_code == 302
    found: dict[str, Any] = {
        "patient_id": pages.other_patient.id,
        "session_id": pages.other_signed.id,
        "lot_id": pages.other_lot.id,
        "vial_id": Vial.objects.filter(lot=pages.other_lot).first().id,
        "consent_id": Consent.objects.filter(patient=pages.other_patient).first().id,
        "request_id": request.id,
        "correction_id": corrections.file_request(
            other.actor("nurse"),
            pages.other_signed.id,
            corrects_digest=pages.other_signed.digest,
            reason="Charted on the wrong patient",
            proposal=corrections.Proposal("entered-in-error", toxin_given=True),
        ).id,
        "token_id": other.physician.tokens.get().id,
        "int:session_id": UserSession.objects.get(user=other.physician.user).pk,
        "int:n": 0,
    }
    # Kinds of other areas' pages: clinic B's row when the world has one, else an id that exists
    # nowhere (which must answer 404 just the same).
    for name, label in (
        ("appointment_id", "charting.Appointment"),
        ("photo_id", "charting.Photo"),
        ("form_id", "charting.SignedConsentForm"),
    ):
        model = apps.get_model(label)
        row = model.objects.filter(clinic=other.clinic).first()
        found[name] = row.pk if row is not None else uuid.uuid4()
    return found


def _snapshot() -> dict[str, list[Any]]:
    models = [
        m
        for m in apps.get_models()
        if m.__module__.startswith("bontrack.") and m is not SecurityEvent
    ] + [apps.get_model(label) for label in EXTRA_TRACKED]
    return {m._meta.label: sorted(map(repr, m.objects.order_by().values_list())) for m in models}


def _fill(route: str, objects: dict[str, Any]) -> str:
    import re

    def value(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        key = name if converter == "uuid" else f"{converter}:{name}"
        if key not in objects:
            raise KeyError(key)
        return str(objects[key])

    return "/" + re.sub(r"<(\w+):(\w+)>", value, route)


def _persona(permission: str | None, pages: Pages) -> str:
    if permission in (PUBLIC, SIGNED_IN, None):
        return "physician"
    for persona in ("physician", "clinic_admin", "nurse_injector", "auditor", "front_desk"):
        member = pages.staff.physician if persona == "physician" else None
        member = {
            "physician": pages.staff.physician,
            "clinic_admin": pages.staff.admin,
            "nurse_injector": pages.staff.nurse,
            "auditor": pages.staff.auditor,
            "front_desk": pages.staff.front_desk,
        }[persona]
        if member.can(Perm(permission)):
            return persona
    raise AssertionError(f"no persona of clinic A holds {permission}")


def test_every_page_route_with_another_clinics_ids_answers_404_and_writes_nothing(pages):
    objects = _clinic_b_objects(pages)
    swept, unknown, leaks = [], [], []
    clients: dict[str, Client] = {}
    for route, view in page_routes():
        if "<" not in route:
            continue
        try:
            path = _fill(route, objects)
        except KeyError as missing:
            unknown.append(f"{route}: {missing}")
            continue
        persona = _persona(declared_permission(view), pages)
        client = clients.setdefault(persona, pages.client(persona))
        client.raise_request_exception = False  # a 500 is reported with the route, not raised
        before = _snapshot()
        seq = SecurityEvent.objects.order_by("-seq").first().seq
        answers = {}
        for method in ("get", "post"):
            for extra in ({}, HTMX):
                response = getattr(client, method)(path, {}, **extra)
                if response.status_code != 405:
                    answers[f"{method.upper()}{' htmx' if extra else ''}"] = response.status_code
        swept.append(route)
        if not answers or set(answers.values()) != {404}:
            leaks.append(f"{route} as {persona}: {answers}")
        changed = [name for name, rows in _snapshot().items() if before[name] != rows]
        if changed:
            leaks.append(f"{route} as {persona} wrote to {changed}")
        kinds = set(SecurityEvent.objects.filter(seq__gt=seq).values_list("kind", flat=True))
        assert kinds <= {"refused-access"}, (route, kinds)
    assert unknown == [], "routes naming an object kind the sweep does not know: add it"
    assert leaks == [], "\n".join(leaks)
    assert len(swept) >= 30, swept
    # Clinic B's records are exactly as they were, and still answer clinic B.
    other = Client()
    other.force_login(pages.other.physician.user)
    assert other.get(f"/patients/{pages.other_patient.id}/").status_code == 200
    assert UserSession.objects.filter(user=pages.other.physician.user).exists()
    assert pages.other.physician.tokens.get().revoked_at is None
