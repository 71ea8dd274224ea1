"""The eight ways a plan slipped past the checker, replayed as a clinic would meet them: through the
HTTP API and the pages, as the roles named, each refused or flagged with its message, and nothing
written where it is refused (facts B.30-B.37).

1. An impossible dose signed from one vial (B.30 supply).
2. A nurse erasing the history that blocked her (B.33 corrections).
3. The same treatment twice in one day (B.31 repeat-visit).
4. A stop verdict that changed nothing (B.32).
5. Ranges the facts give that were missing (B.27).
6. Inputs that contradict themselves (B.34, B.35, B.29).
7. Findings citing the wrong authority (B.36).
8. Undiluted Myobloc and duplicated dilution warnings (B.23).
"""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db.models import Model
from django.test import Client
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.inventory.models import Vial
from bontrack.patients.models import Consent, Patient
from bontrack.patients.services import update_patient
from bontrack.treatments.models import (
    CorrectionRequest,
    FindingDecision,
    Injection,
    SessionEvent,
    SessionVial,
    TreatmentSession,
)
from tests import builders
from tests.builders import sessions
from tests.cli.support import EXAMPLE
from tests.services.followup import migraine_patient

# Each scenario is refused on both engines (the done-when of B.30-B.37).
pytestmark = [pytest.mark.django_db, pytest.mark.postgres(sqlite=True)]

WATCHED: tuple[type[Model], ...] = (
    TreatmentSession,
    Injection,
    SessionVial,
    SessionEvent,
    FindingDecision,
    CorrectionRequest,
    Vial,
    Consent,
    Patient,
)


def rows() -> dict[str, list[Any]]:
    """Every watched row with all its values: a refused request must leave them all as they were
    (the audit trail of reads may grow; clinical rows may not)."""
    return {m.__name__: sorted(map(str, m.objects.values_list())) for m in WATCHED}


def signs_recorded() -> int:
    return AuditEntry.objects.filter(action="sign").count()


class Clinic:
    """One clinic's staff, an adult patient with consents, and stock of two products."""

    def __init__(self) -> None:
        self.staff = builders.staff()
        # The seed indications and axillary hyperhidrosis: the clinic's privileges (B.21).
        physician = self.staff.physician
        physician.indications = [*physician.indications, "axillary-hyperhidrosis"]
        physician.save(update_fields=["indications"])
        self.patient = builders.patient(self.staff, weight_kg=Decimal(70))
        for indication in (
            "chronic-migraine",
            "upper-limb-spasticity",
            "axillary-hyperhidrosis",
            "cervical-dystonia",
        ):
            builders.consent(self.staff, self.patient, indication)
        self.botox = builders.lot(self.staff, number="ONA-1", vials=8)
        self.xeomin = builders.lot(
            self.staff, product="incobotulinumtoxinA", number="XEO-1", size=100, vials=8
        )
        self.api = Client()
        self._tokens: dict[str, str] = {}

    def token(self, role: str) -> str:
        if role not in self._tokens:
            member = getattr(self.staff, role)
            response = self.api.post(
                "/api/v1/auth/token",
                {"username": member.user.get_username(), "password": self.staff.password},
                content_type="application/json",
            )
            assert response.status_code == 201, response.content
            self._tokens[role] = response.json()["token"]
        return self._tokens[role]

    def call(self, role: str, method: str, path: str, body: Any = None) -> Any:
        kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {self.token(role)}"}
        if body is not None:
            kwargs["data"] = json.dumps(body, default=str)
            kwargs["content_type"] = "application/json"
        return getattr(self.api, method.lower())("/api/v1" + path, **kwargs)

    def sign_now(self, role: str, session_id: Any, at: datetime | None = None) -> Any:
        """POST /sessions/{id}/sign as ``role``, injected at ``at`` (default: now)."""
        when = at or timezone.now()
        return self.call(
            role, "POST", f"/sessions/{session_id}/sign", {"administered_at": when.isoformat()}
        )

    def preempt_today(self, role: str = "physician") -> TreatmentSession:
        """A PREEMPT plan for today with a reconstituted vial, through the service."""
        return sessions.plan_session(
            self.staff.actor(role),
            self.patient.id,
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            plan_date=timezone.localdate(),
            protocol="preempt-155",
            vial_ids=[self.vial().id],
        )

    def page(self, role: str) -> Client:
        client = Client()
        client.force_login(getattr(self.staff, role).user)
        return client

    def vial(self, lot: Any = None, at: datetime | None = None, diluent: str = "4") -> Vial:
        return builders.open_vial(self.staff, lot or self.botox, diluent=diluent, at=at)

    def answer(
        self, session_id: Any, role: str = "physician", *, skip: tuple[str, ...] = ()
    ) -> None:
        """Acknowledge every warning and override every overridable block but those of ``skip``,
        through the API as ``role``."""
        check = self.call(role, "POST", f"/sessions/{session_id}/check").json()
        for f in check["findings"]:
            if f["rule"] in skip or (f["severity"] == "block" and not f["overridable"]):
                continue
            kind = "acknowledge" if f["severity"] == "warn" else "override"
            response = self.call(
                role,
                "POST",
                f"/sessions/{session_id}/decisions",
                {
                    "fingerprint": f["fingerprint"],
                    "kind": kind,
                    "reason": "Reviewed with the patient.",
                },
            )
            assert response.status_code == 201, response.content


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


def error_text(response: Any) -> str:
    return " ".join(e["message"] for e in response.json()["errors"])


# --- 1. an impossible dose (B.30) -------------------------------------------------------------


def _impossible_plan(clinic: Clinic) -> TreatmentSession:
    vial = clinic.vial()
    response = clinic.call(
        "physician",
        "POST",
        "/sessions",
        {
            "patient_id": str(clinic.patient.id),
            "product": "onabotulinumtoxinA",
            "indication": "axillary-hyperhidrosis",
            "plan_date": timezone.localdate().isoformat(),
            "injections": [{"site": "axilla", "side": "left", "units": 10000}],
            "vial_ids": [str(vial.id)],
        },
    )
    assert response.status_code == 201, response.content
    session = TreatmentSession.objects.get(pk=response.json()["id"])
    clinic.answer(session.id)  # the cumulative block overridden with a reason, as reproduced
    return session


def test_1_an_impossible_dose_is_refused_at_signing_through_the_api(clinic: Clinic):
    session = _impossible_plan(clinic)
    before, signs = rows(), signs_recorded()
    response = clinic.sign_now("physician", session.id)
    assert response.status_code == 409, response.content
    message = error_text(response)
    assert "supply" in message
    assert "200 U" in message
    assert "10000 U" in message
    assert "pick another vial or reduce the dose" in message
    assert rows() == before
    assert signs_recorded() == signs


def test_1_an_impossible_dose_is_refused_at_signing_from_the_plan_editor(clinic: Clinic):
    session = _impossible_plan(clinic)
    before, signs = rows(), signs_recorded()
    page = clinic.page("physician").post(
        f"/sessions/{session.id}/sign", {"confirm": clinic.staff.password}, HTTP_HX_REQUEST="true"
    )
    assert page.status_code == 200
    shown = page.content.decode()
    assert "pick another vial or reduce the dose" in shown
    assert rows() == before
    assert signs_recorded() == signs


def test_1_the_plan_shows_the_supply_block_before_anyone_signs(clinic: Clinic):
    session = _impossible_plan(clinic)
    check = clinic.call("physician", "POST", f"/sessions/{session.id}/check").json()
    supply = [f for f in check["findings"] if f["rule"] == "supply"]
    assert len(supply) == 1
    assert supply[0]["overridable"] is False
    workspace = (
        clinic.page("physician")
        .get(f"/sessions/{session.id}/workspace", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "pick another vial or reduce the dose" in workspace


# --- 2. a nurse erasing the history that blocked her (B.33) ------------------------------------


def _blocked_nurse_plan(clinic: Clinic) -> tuple[TreatmentSession, TreatmentSession]:
    """The physician's 390 U of spasticity two weeks ago, then the nurse's PREEMPT today: 545 U in
    84 days, a cumulative-dose block that she may not override."""
    when = timezone.now() - timedelta(days=14)
    earlier = builders.signed_session(
        clinic.staff,
        clinic.patient,
        when,
        clinic.vial(at=when - timedelta(hours=1)),
        indication="upper-limb-spasticity",
        injections=[sessions.PointInput("biceps-brachii", "left", Decimal(65))] * 6,
    )
    plan = clinic.preempt_today("nurse")
    assert any(f["rule"] == "cumulative-dose" for f in plan.check_result["findings"])
    return earlier, plan


def test_2_a_nurse_cannot_override_void_or_amend_away_the_history_that_blocks_her(clinic: Clinic):
    earlier, plan = _blocked_nurse_plan(clinic)
    block = next(f for f in plan.check_result["findings"] if f["rule"] == "cumulative-dose")
    before = rows()
    override = clinic.call(
        "nurse",
        "POST",
        f"/sessions/{plan.id}/decisions",
        {
            "fingerprint": block["fingerprint"],
            "kind": "override",
            "reason": "Patient asked for it.",
        },
    )
    assert override.status_code == 403, override.content
    void = clinic.call(
        "nurse",
        "POST",
        f"/sessions/{earlier.id}/entered-in-error",
        {"reason": "Charted twice by mistake.", "toxin_given": False},
    )
    assert void.status_code == 403, void.content
    assert "correction request" in error_text(void)
    amend = clinic.call(
        "nurse",
        "POST",
        f"/sessions/{earlier.id}/amendments",
        {
            "reason": "Fewer units were given.",
            "injections": [{"site": "biceps-brachii", "side": "left", "units": 10}],
        },
    )
    assert amend.status_code == 403, amend.content
    assert "correction request" in error_text(amend)
    sign = clinic.sign_now("nurse", plan.id)
    assert sign.status_code == 409, sign.content
    assert "cumulative-dose" in error_text(sign)
    assert rows() == before


def test_2_the_pages_refuse_the_nurse_the_same_corrections(clinic: Clinic):
    earlier, _plan = _blocked_nurse_plan(clinic)
    before = rows()
    nurse = clinic.page("nurse")
    void = nurse.post(
        f"/sessions/{earlier.id}/entered-in-error",
        {
            "reason": "Charted twice by mistake.",
            "toxin_given": "no",
            "confirm": clinic.staff.password,
        },
    )
    assert void.status_code == 403
    amend = nurse.post(
        f"/sessions/{earlier.id}/amend",
        {
            **{f"units-{n}": "10" for n in range(6)},
            "reason": "Fewer units were given.",
            "confirm": clinic.staff.password,
        },
    )
    assert amend.status_code == 403
    assert rows() == before


# --- 3. the same treatment twice in one day (B.31) ----------------------------------------------


def _treated_this_morning(clinic: Clinic, **plan: Any) -> TreatmentSession:
    # Earlier today in the clinic's day, never yesterday: at least a minute after midnight.
    now = timezone.now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    when = max(midnight + timedelta(minutes=1), now - timedelta(hours=2))
    lot = clinic.xeomin if plan.get("product") == "incobotulinumtoxinA" else clinic.botox
    return builders.signed_session(
        clinic.staff, clinic.patient, when, clinic.vial(lot, at=when - timedelta(minutes=1)), **plan
    )


@pytest.mark.parametrize(
    "plan",
    [
        {"protocol": "preempt-155"},
        {
            "product": "incobotulinumtoxinA",
            "indication": "cervical-dystonia",
            "injections": [
                {"site": "splenius-capitis", "side": "left", "units": 40},
                {"site": "sternocleidomastoid", "side": "right", "units": 25},
            ],
        },
    ],
    ids=["preempt", "xeomin-cervical-dystonia"],
)
def test_3_the_same_treatment_twice_in_one_day_is_a_repeat_visit(clinic: Clinic, plan: dict):
    given = copy.deepcopy(plan)
    if "injections" in given:
        given["injections"] = [
            sessions.PointInput(p["site"], p["side"], Decimal(p["units"]))
            for p in given["injections"]
        ]
    _treated_this_morning(clinic, **given)
    lot = clinic.xeomin if plan.get("product") == "incobotulinumtoxinA" else clinic.botox
    response = clinic.call(
        "physician",
        "POST",
        "/sessions",
        {
            "patient_id": str(clinic.patient.id),
            "product": plan.get("product", "onabotulinumtoxinA"),
            "indication": plan.get("indication", "chronic-migraine"),
            "plan_date": timezone.localdate().isoformat(),
            "vial_ids": [str(clinic.vial(lot).id)],
            **{k: v for k, v in plan.items() if k in ("protocol", "injections")},
        },
    )
    assert response.status_code == 201, response.content
    session_id = response.json()["id"]
    check = clinic.call("physician", "POST", f"/sessions/{session_id}/check").json()
    repeat = [f for f in check["findings"] if f["rule"] == "repeat-visit"]
    assert len(repeat) == 1, check["findings"]
    assert repeat[0]["severity"] == "block"
    assert repeat[0]["overridable"] is True
    assert "amendment" in repeat[0]["message"]
    clinic.answer(session_id, skip=("repeat-visit",))
    before = rows()
    sign = clinic.sign_now("physician", session_id)
    assert sign.status_code == 409, sign.content
    assert "repeat-visit" in error_text(sign)
    assert rows() == before
    workspace = (
        clinic.page("physician")
        .get(f"/sessions/{session_id}/workspace", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "amendment of the signed session" in workspace


def test_3_another_indication_the_same_day_is_not_a_repeat_visit(clinic: Clinic):
    _treated_this_morning(clinic, protocol="preempt-155")
    session = sessions.plan_session(
        clinic.staff.actor("physician"),
        clinic.patient.id,
        product="onabotulinumtoxinA",
        indication="axillary-hyperhidrosis",
        plan_date=timezone.localdate(),
        protocol="axillary-hyperhidrosis-100",
    )
    assert "repeat-visit" not in {f["rule"] for f in session.check_result["findings"]}


# --- 5, 7, 8: the stateless check (POST /check) ------------------------------------------------


def example() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return loaded


def stateless(clinic: Clinic, body: dict[str, Any]) -> Any:
    return clinic.call("physician", "POST", "/check", body)


def _plan_of(product: str, indication: str, injections: list[dict[str, Any]], **extra: Any) -> dict:
    body = example()
    body["history"] = []
    body["plan"] = {
        "date": body["plan"]["date"],
        "product": product,
        "indication": indication,
        "injections": injections,
        **extra,
    }
    body["injector"]["indications"] = [indication]
    return body


@pytest.mark.parametrize(
    ("product", "indication", "injections", "rule", "severity", "words"),
    [
        (
            "rimabotulinumtoxinB",
            "cervical-dystonia",
            [{"site": "splenius-capitis", "side": "left", "units": 25000}],
            "off-label",
            "warn",
            "5000 U",
        ),
        (
            "incobotulinumtoxinA",
            "cervical-dystonia",
            [{"site": "splenius-capitis", "side": "left", "units": 390}],
            "off-label",
            "warn",
            "120 U",
        ),
        (
            "incobotulinumtoxinA",
            "blepharospasm",
            [
                {"site": "orbicularis-oculi", "side": "left", "units": 45},
                {"site": "orbicularis-oculi", "side": "right", "units": 45},
                {"site": "corrugator", "side": "left", "units": 30},
                {"site": "corrugator", "side": "right", "units": 30},
            ],
            "session-total",
            "block",
            "100 U",
        ),
    ],
    ids=["myobloc-cd-25000", "xeomin-cd-390", "xeomin-blepharospasm-150"],
)
def test_5_the_ranges_the_facts_give_are_checked(
    clinic: Clinic, product, indication, injections, rule, severity, words
):
    response = stateless(clinic, _plan_of(product, indication, injections))
    assert response.status_code == 200, response.content
    found = [f for f in response.json()["findings"] if f["rule"] == rule]
    assert found
    assert found[0]["severity"] == severity, response.json()["findings"]
    assert words in found[0]["message"]


def test_6_a_history_entry_whose_points_exceed_its_total_is_invalid(clinic: Clinic):
    body = example()
    body["history"][0]["units"] = 10
    body["history"][0]["injections"] = [{"site": "biceps-brachii", "side": "left", "units": 50}] * 6
    response = stateless(clinic, body)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == "history[0].injections"
    assert "300 U" in error_text(response)
    assert "10 U" in error_text(response)


def test_6_a_blank_supervisor_counts_as_none(clinic: Clinic):
    body = example()
    body["injector"] = {
        "credentials": ["registered-nurse"],
        "indications": ["chronic-migraine"],
        "supervised_by": "  ",
    }
    response = stateless(clinic, body)
    assert response.status_code == 200, response.content
    scope = [f for f in response.json()["findings"] if f["rule"] == "injector-scope"]
    assert scope
    assert scope[0]["severity"] == "block"


def test_6_a_birth_date_more_than_120_years_before_the_plan_is_invalid(clinic: Clinic):
    body = example()
    body["patient"]["birth_date"] = "1850-01-01"
    response = stateless(clinic, body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "patient.birth_date"


def test_7_findings_cite_bontrack_policy_for_bontrack_figures(clinic: Clinic):
    body = _plan_of(
        "onabotulinumtoxinA",
        "cervical-dystonia",
        [{"site": "splenius-capitis", "side": "left", "units": 50}],
    )
    body["history"] = [
        {
            "date": (date.fromisoformat(body["plan"]["date"]) - timedelta(days=50)).isoformat(),
            "product": "onabotulinumtoxinA",
            "indication": "cervical-dystonia",
            "units": 100,
        }
    ]
    body["injector"] = {"credentials": ["physician"], "indications": ["chronic-migraine"]}
    findings = stateless(clinic, body).json()["findings"]
    interval = next(f for f in findings if f["rule"] == "retreatment-interval")
    assert interval["source"].startswith("bontrack policy B.17")
    assert "the label's interval" not in interval["message"]
    scope = next(f for f in findings if f["rule"] == "injector-scope")
    assert "B.21" in scope["source"]
    assert "BOTOX-PI" not in scope["source"]


def test_7_a_dilution_no_label_lists_is_arithmetic_never_label_text(clinic: Clinic):
    body = _plan_of(
        "daxibotulinumtoxinA",
        "glabellar-lines",
        [{"site": "procerus", "side": "midline", "units": 8}],
        vial={
            "size_units": 100,
            "diluent_ml": 2,
            "reconstituted_at": example()["plan"]["vial"]["reconstituted_at"],
        },
    )
    findings = stateless(clinic, body).json()["findings"]
    (dilution,) = [f for f in findings if f["rule"] == "reconstitution"]
    assert "1.25 mL gives the label's concentration by arithmetic" in dilution["message"]
    assert "[L]" not in dilution["source"]


def test_8_undiluted_myobloc_has_no_diluted_in_use_block(clinic: Clinic):
    body = _plan_of(
        "rimabotulinumtoxinB",
        "cervical-dystonia",
        [{"site": "splenius-capitis", "side": "left", "units": 2500}],
        vial={"size_units": 5000, "diluent_ml": 0},
    )
    body["now"] = example()["now"]
    findings = stateless(clinic, body).json()["findings"]
    assert [f for f in findings if f["rule"] == "reconstitution"] == []


def test_8_two_vials_of_the_same_kind_give_one_dilution_warning(clinic: Clinic):
    vial = {
        "size_units": 100,
        "diluent_ml": 10,
        "reconstituted_at": example()["plan"]["vial"]["reconstituted_at"],
    }
    body = _plan_of(
        "onabotulinumtoxinA",
        "chronic-migraine",
        [{"site": "procerus", "side": "midline", "units": 5}],
        protocol="preempt-155",
        vials=[vial, vial],
    )
    body["plan"].pop("injections")
    findings = stateless(clinic, body).json()["findings"]
    assert len([f for f in findings if f["rule"] == "reconstitution"]) == 1, findings


# --- 4. a stop verdict (B.32) ------------------------------------------------------------------


def _stopped(clinic: Clinic) -> Any:
    """Owen: 22 headache days before PREEMPT, 20 after cycle 1, 18 after cycle 2 (-18.2 %):
    NICE TA260 says stop. Reachable by e-mail, and due in about two weeks."""
    owen = migraine_patient(
        clinic.staff, clinic.botox, "BT-0006", weeks_ago=(24, 10), days=(22, 20, 18)
    )
    update_patient(
        clinic.staff.actor("physician"),
        owen.patient.id,
        timezone.localdate(),
        email="owen@example.org",
        contact_agreed=True,
        contact_method="email",
    )
    return owen.patient


def test_4_a_stop_verdict_reaches_the_plan_the_due_list_and_the_reminders(clinic: Clinic):
    owen = _stopped(clinic)
    response = clinic.call(
        "physician",
        "POST",
        "/sessions",
        {
            "patient_id": str(owen.id),
            "product": "onabotulinumtoxinA",
            "indication": "chronic-migraine",
            "plan_date": timezone.localdate().isoformat(),
            "protocol": "preempt-155",
        },
    )
    assert response.status_code == 201, response.content
    findings = response.json()["check"]["findings"]
    (warning,) = [f for f in findings if f["rule"] == "response"]
    assert warning["severity"] == "warn"
    assert "18.2 %" in warning["message"]
    assert warning["source"].startswith("NICE TA260")
    workspace = clinic.page("physician").get(
        f"/sessions/{response.json()['id']}/workspace", HTTP_HX_REQUEST="true"
    )
    assert "NICE TA260" in workspace.content.decode()

    due = clinic.call("physician", "GET", "/due?weeks=26").json()
    assert str(owen.id) not in {row["patient_id"] for row in due["rows"]}
    (held,) = [row for row in due["held"] if row["patient_id"] == str(owen.id)]
    assert held["held_because"] == "stop recommended (NICE TA260)"
    page = clinic.page("physician").get("/due/?weeks=26").content.decode()
    assert "stop recommended (NICE TA260)" in page

    mail.outbox.clear()
    sent = clinic.page("physician").post("/reminders/", {"days": "365"})
    assert sent.status_code == 302
    assert [m for m in mail.outbox if "owen@example.org" in m.to] == []
    phoning = clinic.call("physician", "GET", "/reminders?days=365&format=csv").content.decode()
    assert "BT-0006" not in phoning


# --- 6. records that contradict themselves (B.34, B.29, B.35) ----------------------------------


def test_6_an_injection_time_in_the_future_is_refused_at_signing(clinic: Clinic):
    plan = clinic.preempt_today()
    clinic.answer(plan.id)
    before = rows()
    ahead = timezone.now() + timedelta(minutes=6)
    response = clinic.sign_now("physician", plan.id, ahead)
    assert response.status_code == 400, response.content  # a value refused (docs/api.md)
    assert response.json()["errors"][0]["field"] == "administered_at"
    assert "the injection time is in the future" in error_text(response)
    page = clinic.page("physician").post(
        f"/sessions/{plan.id}/sign",
        {
            "confirm": clinic.staff.password,
            "administered_at": timezone.localtime(ahead).strftime("%Y-%m-%dT%H:%M"),
        },
        HTTP_HX_REQUEST="true",
    )
    assert "the injection time is in the future" in page.content.decode()
    assert rows() == before


def test_6_a_consent_dated_in_the_future_is_refused(clinic: Clinic):
    before = rows()
    response = clinic.call(
        "physician",
        "POST",
        f"/patients/{clinic.patient.id}/consents",
        {
            "indication": "blepharospasm",
            "signed_on": (timezone.localdate() + timedelta(days=1)).isoformat(),
            "signed_by": "Alex Doe",
        },
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "signed_on"
    assert "future" in error_text(response)
    assert rows() == before


def test_6_a_birth_date_in_1850_is_refused(clinic: Clinic):
    before = rows()
    response = clinic.call(
        "front_desk",
        "POST",
        "/patients",
        {
            "record_number": "P-1850",
            "given_name": "Old",
            "family_name": "Record",
            "birth_date": "1850-03-01",
        },
    )
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == "birth_date"
    assert rows() == before
