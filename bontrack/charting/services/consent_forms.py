"""Consent forms: versioned wording per indication, the risks drawn from the catalog for the
indication and product, signed on screen (patient or guardian, and a witness where the form asks
for one), stored as a PDF whose SHA-256 is recorded. Signing one records the consent that the
consent rule checks when a session is signed (B.22, B.29); a withdrawal is recorded beside it
(``patients.services.withdraw_consent``), never a deletion."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from bontrack.access import CONSENT_FORM, CONSENT_TEMPLATE, PATIENT, access, require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.charting.images import ImageRejectedError, signature_png
from bontrack.charting.models import ConsentTemplate, SignedConsentForm
from bontrack.charting.services import storage
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.core.scoping import in_clinic
from bontrack.domain.catalog import catalog
from bontrack.patients.services import record_consent
from bontrack.treatments.services import local_date

SIGNER_ROLES = ("patient", "guardian")
ADULT_AGE = 18  # B.9: a patient under 18 on the day is a child, whose guardian signs


def standard_wording(indication: str) -> tuple[str, str]:
    """A starting title and body for a clinic that has written none yet."""
    name = catalog().indications[indication].name
    title = f"Consent to botulinum toxin treatment: {name.lower()}"
    body = (
        f"I agree to be treated with botulinum toxin for {name.lower()}. The clinician has "
        "explained what the treatment is, how it is given, how long its effect usually lasts, "
        "the other treatments available, and what may happen if I am not treated.\n\n"
        "The effect is temporary and repeat treatments are needed to keep it. Units of one "
        "botulinum toxin product cannot be exchanged for another's.\n\n"
        "I know the risks listed below, and that the effect of the toxin may spread beyond the "
        "injection site: I will seek help at once if I have trouble swallowing, speaking or "
        "breathing, or new weakness, in the hours or weeks after treatment.\n\n"
        "I have told the clinician about my medicines, illnesses (in particular of nerves or "
        "muscles), allergies, and whether I am pregnant or breastfeeding. I may withdraw this "
        "consent at any time."
    )
    return title, body


@dataclass(frozen=True)
class Risk:
    code: str
    name: str
    source: str


def consent_risks(indication: str, product: str) -> list[Risk]:
    """The catalog's adverse reactions reported for the indication and product, and those of
    every treatment (the boxed warning's spread of effect, hypersensitivity)."""
    cat = catalog()
    found = [
        t
        for t in cat.adverse_event_terms.values()
        if t.code != "other" and t.reported_for(indication, product)
    ]
    everyone = [t for t in found if not t.indications]
    specific = [t for t in found if t.indications]
    return [Risk(t.code, t.name, t.cite.text()) for t in everyone + specific]


def current_template(clinic_id: UUID | str, indication: str) -> ConsentTemplate | None:
    return (
        ConsentTemplate.objects.filter(clinic_id=clinic_id, indication=indication)
        .order_by("-version")
        .first()
    )


def publish_template(
    actor: Actor,
    *,
    indication: str,
    title: str,
    body: str,
    requires_witness: bool = False,
    valid_days: int = 365,
) -> ConsentTemplate:
    """A new version of the indication's form; earlier versions stay as they were."""
    require(actor, Perm.FORMS_MANAGE)
    if indication not in catalog().indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    if not title.strip():
        raise ServiceError("title", "must not be empty")
    if len(body.strip()) < 40:
        raise ServiceError("body", "write what the patient agrees to (at least 40 characters)")
    if not 1 <= valid_days <= 365:
        raise ServiceError("valid_days", "must be between 1 and 365 days (B.29: at most a year)")
    with clinical_transaction(actor) as trail:
        clinic = actor.membership.clinic_id
        latest = ConsentTemplate.objects.filter(clinic_id=clinic, indication=indication).aggregate(
            n=Max("version")
        )["n"]
        template = ConsentTemplate.objects.create(
            clinic_id=clinic,
            indication=indication,
            version=(latest or 0) + 1,
            title=title.strip(),
            body=body.strip(),
            requires_witness=requires_witness,
            valid_days=valid_days,
            created_by=actor.membership,
        )
        trail.record("create", "consent-template", template.id, version=template.version)
    return template


def _age(born: Any, day: Any) -> int:
    return int(day.year - born.year - ((day.month, day.day) < (born.month, born.day)))


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_pdf(context: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # a heavy import, only where a PDF is made

    html = render_to_string("charting/consent_pdf.html", context)
    return bytes(HTML(string=html, base_url=None).write_pdf())


def sign_consent_form(
    actor: Actor,
    patient_id: UUID | str,
    *,
    template_id: UUID | str,
    product: str,
    signer_name: str,
    signer_role: str,
    signature: str,
    witness_name: str = "",
    witness_signature: str = "",
    signed_at: datetime | None = None,
) -> SignedConsentForm:
    """The patient (or guardian) signed the form on the pad: store the PDF, record its SHA-256,
    and record the consent the consent rule reads (valid from today for the form's days)."""
    signed_at = signed_at or timezone.now()
    if timezone.is_naive(signed_at):
        raise ServiceError("signed_at", "must include a UTC offset")
    if product not in catalog().products:
        raise ServiceError("product", f"unknown product code {product!r}")
    if signer_role not in SIGNER_ROLES:
        raise ServiceError("signer_role", "must be patient or guardian")
    if not signer_name.strip():
        raise ServiceError("signer_name", "name who signs (the patient, or a child's guardian)")
    try:
        signed_png = signature_png(signature)
    except ImageRejectedError as error:
        raise ServiceError("signature", str(error)) from None
    with storage.saved_files() as written, clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.PLAN_WRITE)
        template = access(actor, CONSENT_TEMPLATE, template_id, Perm.PLAN_WRITE)
        latest = current_template(patient.clinic_id, template.indication)
        if latest is not None and latest.id != template.id:
            raise ConflictError(
                "template_id", f"a newer version ({latest.version}) of this form was published"
            )
        day = local_date(actor.clinic.time_zone, signed_at)
        if _age(patient.birth_date, day) < ADULT_AGE and signer_role != "guardian":
            raise ServiceError("signer_role", "the patient is a child: their guardian signs")
        witness_png = b""
        if template.requires_witness or witness_signature:
            if not witness_name.strip():
                raise ServiceError("witness_name", "this clinic's form needs a witness: name them")
            try:
                witness_png = signature_png(witness_signature)
            except ImageRejectedError as error:
                raise ServiceError("witness_signature", f"witness: {error}") from None
        risks = consent_risks(template.indication, product)
        cat = catalog()
        context = {
            "clinic": actor.clinic,
            "patient": patient,
            "template": template,
            "indication_name": cat.indications[template.indication].name,
            "product": cat.products[product],
            "risks": risks,
            "signer_name": signer_name.strip(),
            "signer_role": signer_role,
            "signature": _data_url(signed_png),
            "witness_name": witness_name.strip(),
            "witness_signature": _data_url(witness_png) if witness_png else "",
            # Wall-clock time in the clinic (naive: the date filter would turn it into UTC).
            "signed_at": timezone.localtime(signed_at, _zone(actor.clinic.time_zone)).replace(
                tzinfo=None
            ),
            "time_zone": actor.clinic.time_zone,
            "recorded_by": actor.membership.display_name,
            "catalog_version": cat.version,
            "expires_on": day + timedelta(days=template.valid_days),
        }
        pdf = render_pdf(context)
        digest = hashlib.sha256(pdf).hexdigest()
        consent = record_consent(
            actor,
            patient.id,
            indication=template.indication,
            signed_on=day,
            signed_by=signer_name.strip(),
            expires_on=day + timedelta(days=template.valid_days),
        )
        form = SignedConsentForm.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            template=template,
            consent=consent,
            product=product,
            risks=[{"code": r.code, "name": r.name, "source": r.source} for r in risks],
            catalog_version=cat.version,
            signer_name=signer_name.strip(),
            signer_role=signer_role,
            witness_name=witness_name.strip(),
            pdf_name=storage.save(
                written, storage.new_name("consents", patient.clinic_id, ".pdf"), pdf
            ),
            pdf_sha256=digest,
            signed_at=signed_at,
            recorded_by=actor.membership,
        )
        trail.record(
            "sign",
            "consent-form",
            form.id,
            patient.id,
            template_version=template.version,
            sha256=digest,
        )
    return form


def _zone(name: str) -> Any:
    import zoneinfo

    return zoneinfo.ZoneInfo(name)


@dataclass(frozen=True)
class StoredPdf:
    form: SignedConsentForm
    data: bytes

    @property
    def intact(self) -> bool:
        return hashlib.sha256(self.data).hexdigest() == self.form.pdf_sha256


def read_consent_pdf(actor: Actor, form_id: UUID | str) -> StoredPdf:
    """The signed PDF as stored, and whether its SHA-256 still matches; one read entry."""
    with clinical_transaction(actor) as trail:
        form = access(actor, CONSENT_FORM, form_id, Perm.CHART_READ)
        found = StoredPdf(form, storage.read(form.pdf_name))
        trail.record("read", "consent-form", form.id, form.patient_id, intact=found.intact)
    return found


def patient_consent_forms(actor: Actor, patient_id: UUID | str) -> list[SignedConsentForm]:
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.CHART_READ)
        forms = list(
            in_clinic(SignedConsentForm.objects.all(), patient.clinic_id, "template", "consent")
            .filter(patient=patient)
            .order_by("-signed_at")
        )
        trail.record("read", "consent-forms", patient.id, patient.id, count=len(forms))
    return forms
