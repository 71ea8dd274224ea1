"""The API tests' world of two clinics, and helpers to call the API and compare what it wrote.

Clinic A: two patients with consents, a lot with opened and unopened vials, a session signed by
the physician (upper-limb spasticity, 300 U, two weeks ago), one signed by the nurse and awaiting
the physician's co-signature, a plan whose cumulative-dose block (300 U + 155 U in 12 weeks) the
physician has already overridden, so that it can be signed now, and a plan of the nurse's with an
unacknowledged warning; and around the treatment: an appointment, a photo, a signed consent
form and a saved plan. Clinic B (prefix "b"): its own staff, a patient and a lot.

Each test gets a new world. Its parts are built through the services (tests/builders.py) the
first time the test names them, so that a call that needs only a lot does not pay for three
signed sessions; ``prepare()`` builds what a call names before anything is measured, ``build_all()``
builds everything.
"""

from __future__ import annotations

import io
import json
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from django.test import Client
from django.utils import timezone

from bontrack.accounts.models import Membership
from bontrack.audit.models import AuditEntry, SecurityEvent
from bontrack.audit.services import Actor
from bontrack.charting.models import (
    Appointment,
    ConsentTemplate,
    Photo,
    PlanOrigin,
    ReminderLog,
    SavedPlan,
    SignedConsentForm,
)
from bontrack.inventory.models import Lot, Vial
from bontrack.inventory.services import reconstitute_vial
from bontrack.invoicing.models import Invoice, Payment, PriceEntry, Refund
from bontrack.outcomes.models import AdverseEvent, Assessment, WearOffReport
from bontrack.patients.models import Consent, Diagnosis, Patient
from bontrack.security.models import AmendmentDecision, AmendmentRequest, BreakGlassAccess
from bontrack.treatments.models import (
    CorrectionDecision,
    CorrectionRequest,
    FindingDecision,
    Injection,
    SessionEvent,
    SessionVial,
    TreatmentSession,
)
from tests import builders
from tests.builders import sessions
from tests.charting import support as charting

# The personas of DESIGN 4 ("Permissions as data, tested as a matrix").
ROLES = builders.PERSONAS

# Rows a request could create or change in a clinic; the first five are the ones the brief names.
TRACKED: tuple[type[Model], ...] = (
    TreatmentSession,
    Patient,
    Lot,
    Vial,
    AuditEntry,
    Consent,
    Diagnosis,
    Injection,
    SessionVial,
    FindingDecision,
    SessionEvent,
    AdverseEvent,
    Assessment,
    WearOffReport,
    BreakGlassAccess,
    AmendmentRequest,
    AmendmentDecision,
    Appointment,
    Photo,
    ConsentTemplate,
    SignedConsentForm,
    SavedPlan,
    PlanOrigin,
    ReminderLog,
    CorrectionRequest,
    CorrectionDecision,
    PriceEntry,
    Invoice,
    Payment,
    Refund,
)
# The clinic A objects a path or a test may name, e.g. /patients/{patient}.
OBJECTS = (
    "patient",
    "patient2",
    "consent",
    "lot",
    "opened_vial",
    "fresh_vial",
    "plan_vial",
    "signed",
    "nurse_signed",
    "plan",
    "plan2",
    "system_client",
    "api_token",
    "restricted",
    "amendment_request",
    "appointment",
    "photo",
    "consent_form",
    "saved_plan",
    "correction_request",
    "nurse_member",
    "cosmetic_signed",
    "invoice",
)


def error_shape_problems(response: Any) -> list[str]:
    """What is wrong with a 4xx body, measured against {"errors": [{"field", "message"}]}."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return [f"not JSON ({response.get('Content-Type')}): {response.content[:120]!r}"]
    if not isinstance(body, dict) or set(body) != {"errors"}:
        return [f"top level is not exactly {{'errors'}}: {body!r}"]
    items = body["errors"]
    if not isinstance(items, list) or not items:
        return [f"errors is not a non-empty list: {items!r}"]
    problems = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"field", "message"}:
            problems.append(f"item is not exactly {{field, message}}: {item!r}")
        elif not (item["field"] is None or isinstance(item["field"], str)):
            problems.append(f"field is neither a string nor null: {item!r}")
        elif not isinstance(item["message"], str) or not item["message"].strip():
            problems.append(f"message is not a non-empty string: {item!r}")
    return problems


@dataclass(frozen=True)
class Upload:
    """A multipart/form-data body (a file upload): field name -> (file name, content), and the
    form's other fields."""

    files: dict[str, tuple[str, bytes]]
    fields: dict[str, str] = field(default_factory=dict)


def temporary_clinical_storages(folder: Path) -> dict[str, Any]:
    """Django's STORAGES with the clinical files (photos, consent PDFs) kept in ``folder``."""
    from django.conf import settings

    return {
        **settings.STORAGES,
        "clinical": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder), "base_url": "/nowhere/"},
        },
    }


def use_temporary_clinical_storage(settings: Any, folder: Path) -> None:
    """Photos and signed forms written by a test go to its own folder, never to var/."""
    settings.STORAGES = temporary_clinical_storages(folder)


def differences(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    """The tracked tables whose rows differ between two ``World.rows()`` snapshots."""
    return [
        f"{name}: {len(before[name])} rows before, {len(after[name])} after"
        + ("" if len(before[name]) != len(after[name]) else " (a row changed)")
        for name in before
        if before[name] != after[name]
    ]


class _Ids(dict[str, str]):
    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    def __missing__(self, name: str) -> str:
        return str(getattr(self.world, name).id)


class World:
    def __init__(self) -> None:
        self.client = Client()
        self.now = timezone.now().replace(microsecond=0)
        self.two_weeks_ago = self.now - timedelta(days=14)
        # When the plan is signed, in the tests that sign it; its findings are answered for then.
        self.administered = self.now - timedelta(minutes=10)
        self._tokens: dict[str, str] = {}

    # -- clinics and people -----------------------------------------------------------------
    @cached_property
    def a(self) -> builders.Staff:
        return builders.staff()

    @cached_property
    def b(self) -> builders.Staff:
        staff = builders.staff("Clinic B", prefix="b")
        builders.patient(staff, "B-1")
        builders.lot(staff, number="B-LOT-1", vials=1)
        return staff

    def staff_of(self, role: str) -> builders.Staff:
        return self.a if builders.PERSONA_MEMBERS[role][0] == "a" else self.b

    def member(self, role: str) -> Membership:
        membership: Membership = getattr(self.staff_of(role), builders.PERSONA_MEMBERS[role][1])
        return membership

    def username(self, role: str) -> str:
        return str(self.member(role).user.get_username())

    def password(self, role: str) -> str:
        return self.staff_of(role).password

    def token(self, role: str) -> str:
        """A bearer token, asked for over the API as a client would (once per role)."""
        if role not in self._tokens:
            response = self.client.post(
                "/api/v1/auth/token",
                {"username": self.username(role), "password": self.password(role)},
                content_type="application/json",
            )
            assert response.status_code == 201, response.content
            self._tokens[role] = response.json()["token"]
        return self._tokens[role]

    # -- clinic A's records -----------------------------------------------------------------
    @cached_property
    def patient(self) -> Patient:
        patient = builders.patient(self.a, weight_kg=70)
        builders.consent(self.a, patient, "chronic-migraine")
        builders.consent(self.a, patient, "upper-limb-spasticity")
        return patient

    @cached_property
    def consent(self) -> Consent:
        return Consent.objects.get(patient=self.patient, indication="chronic-migraine")

    @cached_property
    def patient2(self) -> Patient:
        patient = builders.patient(self.a, "P-2", weight_kg=64)
        builders.consent(self.a, patient, "chronic-migraine")
        return patient

    @cached_property
    def lot(self) -> Lot:
        lot = builders.lot(self.a, number="A-LOT-1", vials=10)
        self._unopened = list(lot.vials.order_by("pk"))
        return lot

    def _unopened_vial(self, first: bool = False) -> Vial:
        """One of the pool's vials still unopened (a signing may have opened more vials of the
        lot when its dose needed them)."""
        self.lot  # noqa: B018 (the lot fills the pool of unopened vials)
        while True:
            vial = self._unopened.pop(0 if first else -1)
            if not Vial.objects.filter(pk=vial.pk, reconstituted_at__isnull=False).exists():
                return vial

    def _open(self, at: Any = None) -> Vial:
        return reconstitute_vial(
            self.a.actor("physician"),
            self._unopened_vial().id,
            diluent_ml=Decimal(4),
            reconstituted_at=at or self.now - timedelta(hours=1),
        )

    @cached_property
    def opened_vial(self) -> Vial:
        return self._open()

    @cached_property
    def fresh_vial(self) -> Vial:
        return self._unopened_vial(first=True)

    @cached_property
    def plan_vial(self) -> Vial:
        return self._open()

    @cached_property
    def signed(self) -> TreatmentSession:
        """Signed by the physician two weeks ago: upper-limb spasticity, 6 x 50 U."""
        return builders.signed_session(
            self.a,
            self.patient,
            self.two_weeks_ago,
            self._open(self.two_weeks_ago - timedelta(hours=1)),
            indication="upper-limb-spasticity",
            injections=[sessions.PointInput("biceps-brachii", "left", Decimal(50))] * 6,
        )

    @cached_property
    def nurse_signed(self) -> TreatmentSession:
        """Planned and signed by the nurse two weeks ago (chronic migraine): awaiting the
        co-signature of a prescriber."""
        nurse = self.a.actor("nurse")
        session = sessions.plan_session(
            nurse,
            self.patient2.id,
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            plan_date=self.two_weeks_ago.date(),
            protocol="preempt-155",
            vial_ids=[self._open(self.two_weeks_ago - timedelta(hours=1)).id],
        )
        self.answer_findings(session, self.two_weeks_ago)
        return sessions.sign_session(nurse, session.id, administered_at=self.two_weeks_ago)

    @cached_property
    def plan(self) -> TreatmentSession:
        """The physician's plan for today (chronic migraine, PREEMPT 155 U): with the signed
        300 U two weeks ago it makes an overridable cumulative-dose block, already overridden
        (and every other finding answered) for a signature at ``administered``."""
        self.signed  # noqa: B018
        plan = sessions.plan_session(
            self.a.actor("physician"),
            self.patient.id,
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            plan_date=timezone.localdate(),
            protocol="preempt-155",
            vial_ids=[self.plan_vial.id],
        )
        block = next(f for f in plan.check_result["findings"] if f["severity"] == "block")
        assert block["overridable"], block
        self._block_fingerprint = block["fingerprint"]
        self.answer_findings(plan, self.administered)
        return plan

    @cached_property
    def plan2(self) -> TreatmentSession:
        """The nurse's plan for patient 2, two weeks after the last session: a warning
        (retreatment interval) that nobody has acknowledged."""
        self.nurse_signed  # noqa: B018
        plan = sessions.plan_session(
            self.a.actor("nurse"),
            self.patient2.id,
            product="onabotulinumtoxinA",
            indication="chronic-migraine",
            plan_date=timezone.localdate(),
            protocol="preempt-155",
        )
        warn = next(f for f in plan.check_result["findings"] if f["severity"] == "warn")
        self._warn_fingerprint = warn["fingerprint"]
        return plan

    @cached_property
    def system_client(self) -> Any:
        """A SMART backend-services client registered by the clinic admin."""
        from bontrack.interop.smart import register_client
        from tests.interop.bulk_support import ec_key

        return register_client(
            self.a.actor("admin"), name="Registry", jwks={"keys": [ec_key().public_jwk]}
        )

    @cached_property
    def api_token(self) -> Any:
        """Another API token of the physician's (not the one the tests call with)."""
        from bontrack.api.auth import issue_token

        return issue_token(self.a.physician, "spare", 30)[0]

    @cached_property
    def restricted(self) -> Patient:
        """A chart restricted by a second prescriber: no persona is in its care team."""
        from bontrack.patients.services import update_patient

        keeper = builders.another_prescriber(self.a)
        patient = builders.patient(self.a, "P-R")
        return update_patient(
            Actor(keeper, "127.0.0.1"), patient.id, timezone.localdate(), restricted=True
        )

    @cached_property
    def amendment_request(self) -> Any:
        """The patient's request to amend their record, not decided yet."""
        from bontrack.security.services import record_amendment_request

        return record_amendment_request(
            self.a.actor("physician"),
            self.patient.id,
            request="My phone number on the chart is an old one",
            received_on=timezone.localdate(),
        )

    @cached_property
    def appointment(self) -> Appointment:
        """The patient's chronic-migraine visit with the physician tomorrow, booked at the desk."""
        from bontrack.charting.services.appointments import book_appointment

        return book_appointment(
            self.a.actor("front_desk"),
            self.patient.id,
            indication="chronic-migraine",
            starts_at=self.now + timedelta(days=1),
            injector_id=self.a.physician.id,
            confirm=True,  # tomorrow at this hour may be outside the opening hours
        )

    @cached_property
    def photo(self) -> Photo:
        """The patient's glabellar photo at maximal frown, taken today before treatment."""
        from bontrack.charting.services.photos import upload_photo

        data = charting.jpeg()
        return upload_photo(
            self.a.actor("nurse"),
            self.patient.id,
            upload=io.BytesIO(data),
            size=len(data),
            indication="glabellar-lines",
            view="maximal-frown",
            timepoint="before",
            taken_on=timezone.localdate(),
            today=timezone.localdate(),
        )

    @cached_property
    def consent_form(self) -> SignedConsentForm:
        """The clinic's chronic-migraine form, signed by the patient on the pad (a stored PDF)."""
        from bontrack.charting.services import consent_forms

        title, body = consent_forms.standard_wording("chronic-migraine")
        template = consent_forms.publish_template(
            self.a.actor("admin"), indication="chronic-migraine", title=title, body=body
        )
        return consent_forms.sign_consent_form(
            self.a.actor("physician"),
            self.patient.id,
            template_id=template.id,
            product="onabotulinumtoxinA",
            signer_name="Alex Doe",
            signer_role="patient",
            signature=charting.signature(),
        )

    @cached_property
    def saved_plan(self) -> SavedPlan:
        """The points of the signed spasticity session, saved as the clinic's pattern."""
        from bontrack.charting.services.plans import save_plan

        return save_plan(
            self.a.actor("physician"),
            name="Biceps 300 U",
            session_id=self.signed.id,
            shared=True,
        )

    @cached_property
    def correction_request(self) -> CorrectionRequest:
        """The nurse's request to amend the physician's signed session (its notes), open."""
        from bontrack.treatments import corrections

        return corrections.file_request(
            self.a.actor("nurse"),
            self.signed.id,
            corrects_digest=self.signed.digest,
            reason="The notes were left out of the record",
            proposal=corrections.Proposal(
                "amend",
                tuple(
                    sessions.PointInput(p.site, p.side, p.units, p.route)
                    for p in sessions.current_points(self.signed)
                ),
                "Tolerated well.",
            ),
        )

    @cached_property
    def cosmetic_signed(self) -> TreatmentSession:
        """A glabellar session of patient C-1 signed an hour ago (20 U), priced per unit and not
        invoiced yet."""
        from tests.invoicing.support import priced_session

        return priced_session(self.a, "C-1")

    @cached_property
    def invoice(self) -> Invoice:
        """The invoice of patient C-2's glabellar session (264.00 USD): 100.00 paid by card,
        10.00 of it refunded."""
        from tests.invoicing.support import paid_and_refunded

        return paid_and_refunded(self.a, "C-2")

    @property
    def nurse_member(self) -> Membership:
        """The nurse injector's membership (its supervising prescribers are the admin's)."""
        return self.a.nurse

    @property
    def block_fingerprint(self) -> str:
        """The overridable cumulative-dose block of ``plan``."""
        self.plan  # noqa: B018
        return self._block_fingerprint

    @property
    def warn_fingerprint(self) -> str:
        """The unacknowledged retreatment-interval warning of ``plan2``."""
        self.plan2  # noqa: B018
        return self._warn_fingerprint

    def answer_findings(self, session: TreatmentSession, at: Any) -> None:
        """Acknowledge every warning and override every block, as the physician."""
        for f in sessions.stored_result_at(session, at)["findings"]:
            kind = "acknowledge" if f["severity"] == "warn" else "override"
            sessions.decide(
                self.a.actor("physician"),
                session.id,
                fingerprint_=f["fingerprint"],
                kind=kind,
                reason="Reviewed with the patient before treatment.",
            )

    # -- building ---------------------------------------------------------------------------
    def prepare(self, *texts: str) -> None:
        """Build every object named as ``{name}`` in the texts (paths, usually)."""
        for text in texts:
            for name in re.findall(r"\{(\w+)\}", text):
                getattr(self, name)

    def build_all(self) -> None:
        self.b  # noqa: B018
        # The unopened vial last: a signing built after it could open it for its dose.
        for name in sorted(OBJECTS, key=lambda name: name == "fresh_vial"):
            getattr(self, name)

    # -- calls ------------------------------------------------------------------------------
    def call(
        self,
        role: str | None,
        method: str,
        path: str,
        body: Any = None,
        raw: str | None = None,
    ) -> Any:
        """Call /api/v1{path} as ``role`` (None: without credentials); ``{name}`` in the path
        is clinic A's object of that name. ``raw`` sends a body exactly as given."""
        kwargs: dict[str, Any] = {}
        if role is not None:
            kwargs["HTTP_AUTHORIZATION"] = f"Bearer {self.token(role)}"
        if raw is not None:
            kwargs["data"] = raw
            kwargs["content_type"] = "application/json"
        elif isinstance(body, Upload):
            kwargs["data"] = {
                **body.fields,
                **{
                    name: SimpleUploadedFile(
                        filename, content, mimetypes.guess_type(filename)[0] or "text/plain"
                    )
                    for name, (filename, content) in body.files.items()
                },
            }
        elif body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        url = "/api/v1" + path.format_map(_Ids(self))
        return getattr(self.client, method.lower())(url, **kwargs)

    # -- what the database holds ------------------------------------------------------------
    def rows(self, clinic: str = "a") -> dict[str, list[dict[str, Any]]]:
        """Every tracked row of the clinic, in full: equal snapshots mean nothing was written."""
        chosen = (self.a if clinic == "a" else self.b).clinic
        return {
            m.__name__: list(m.objects.filter(clinic=chosen).order_by("pk").values())
            for m in TRACKED
        }

    def clinic_a_ids(self) -> set[str]:
        """Every id of a clinic A row that another clinic must never be shown."""
        found: set[str] = set()
        for model in (
            Patient,
            Lot,
            Vial,
            TreatmentSession,
            Consent,
            Appointment,
            Photo,
            SignedConsentForm,
            SavedPlan,
        ):
            rows = model.objects.filter(clinic=self.a.clinic).values_list("pk", flat=True)
            found |= {str(pk) for pk in rows}
        return found

    @staticmethod
    def security_seq() -> int:
        head = SecurityEvent.objects.order_by("-seq").first()
        return head.seq if head else 0
