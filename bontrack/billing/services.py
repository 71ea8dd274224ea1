"""Claims of medical sessions: record a patient's coverage, choose the diagnosis a claim points
at, confirm a claim's items and the clinic's catalog items, read a superbill and a session's
charge sets, export the claims file (billing.md 7.7, 7.8; docs/billing.md).

The only writers of coverage and confirmations (charge sets are captured by
``bontrack/billing/capture.py`` when a session is signed or corrected). Every call reaches its
rows through the access funnel with ``billing.write`` or ``billing.read`` and records what it
read or wrote on the audit trail, in one transaction.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from bontrack.access import PATIENT, SESSION, access, require
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor, clinical_transaction
from bontrack.billing import catalog_items as catalog_confirming
from bontrack.billing import reads
from bontrack.billing.capture import RENDERING_ITEM, capture_charges, local_date
from bontrack.billing.models import (
    CatalogConfirmation,
    ChargeReason,
    ChargeSet,
    ChargeStatus,
    ClaimConfirmation,
    Coverage,
    Relationship,
)
from bontrack.core import csvfiles
from bontrack.core.errors import ConflictError, ServiceError
from bontrack.core.scoping import in_clinic, related_in_clinic
from bontrack.domain.billing import billing_catalog, charge_set_from_json
from bontrack.domain.catalog import catalog
from bontrack.patients.models import Diagnosis
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.records import SessionStatus, status_of
from bontrack.treatments.services import lock_patient

NOT_CAPTURED = (
    "no charges were captured for this session: it is a plan, a dose given elsewhere, or it was "
    "signed before charge capture"
)
MAX_NOTE = 2000


def _clinic_today(actor: Actor) -> date:
    return local_date(actor.membership.clinic.time_zone, timezone.now())


def record_coverage(
    actor: Actor,
    patient_id: UUID | str,
    *,
    payer_name: str,
    payer_id: str,
    member_id: str,
    relationship: str,
    valid_from: date,
    valid_to: date | None = None,
    replaces: UUID | str | None = None,
) -> Coverage:
    """Append a version of the patient's coverage (billing.md 7.7); ``replaces`` names the
    standing version it corrects, which then no longer counts."""
    values = {"payer_name": payer_name, "payer_id": payer_id, "member_id": member_id}
    for field, value in values.items():
        if not value.strip():
            raise ServiceError(field, "must not be empty")
    if relationship not in Relationship.values:
        raise ServiceError("relationship", f"must be one of {', '.join(Relationship.values)}")
    if valid_to is not None and valid_to < valid_from:
        raise ServiceError("valid_to", "is before valid_from")
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.BILLING_WRITE)
        replaced = None
        if replaces is not None:
            try:
                replaced = Coverage.objects.filter(
                    clinic_id=patient.clinic_id, patient_id=patient.id, id=replaces
                ).first()
            except (ValidationError, ValueError):
                replaced = None
            if replaced is None:
                raise ServiceError("replaces", "no coverage of this patient with that id")
            if Coverage.objects.filter(replaces_id=replaced.id).exists():
                raise ConflictError(
                    "replaces", "a newer version already replaces it: correct that one"
                )
        coverage = Coverage.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            payer_name=payer_name.strip(),
            payer_id=payer_id.strip(),
            member_id=member_id.strip(),
            relationship=relationship,
            valid_from=valid_from,
            valid_to=valid_to,
            recorded_by=actor.membership,
            recorded_at=timezone.now(),
            replaces=replaced,
        )
        trail.record(
            "create",
            "coverage",
            coverage.id,
            patient.id,
            replaces=str(replaced.id) if replaced is not None else None,
        )
    return coverage


def list_coverage(actor: Actor, patient_id: UUID | str) -> list[reads.CoverageView]:
    """Every version of the patient's coverage, newest first, each saying whether it stands."""
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.BILLING_READ)
        rows = list(
            Coverage.objects.filter(clinic_id=patient.clinic_id, patient_id=patient.id)
            .select_related("recorded_by__user")
            .order_by("-recorded_at", "-id")
        )
        replaced = {r.replaces_id for r in rows if r.replaces_id is not None}
        trail.record("read", "coverage", "", patient.id)
    return [reads.coverage_view(r, standing=r.id not in replaced) for r in rows]


def choose_diagnosis(
    actor: Actor,
    patient_id: UUID | str,
    *,
    indication: str,
    icd10: str,
    noted_on: date | None = None,
) -> Diagnosis:
    """Record the patient's ICD-10-CM code for an indication, one the billing catalog suggests
    for it on ``noted_on`` (today by default); the claims of the indication refused for want of
    a diagnosis are derived again."""
    if indication not in catalog().indications:
        raise ServiceError("indication", f"unknown indication code {indication!r}")
    with clinical_transaction(actor) as trail:
        patient = access(actor, PATIENT, patient_id, Perm.BILLING_WRITE)
        day = noted_on or _clinic_today(actor)
        suggested = billing_catalog().icd_suggestions(indication, day)
        if not suggested:
            raise ServiceError(
                "indication", f"the billing catalog suggests no ICD-10-CM code for {indication}"
            )
        if icd10 not in {s.code for s in suggested}:
            codes = ", ".join(s.code for s in suggested)
            raise ServiceError(
                "icd10",
                f"not a code the billing catalog suggests for {indication} on "
                f"{day.isoformat()} ({codes})",
            )
        lock_patient(patient.clinic_id, patient.id)
        diagnosis = Diagnosis.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            indication=indication,
            icd10=icd10,
            noted_on=day,
        )
        trail.record("create", "diagnosis", diagnosis.id, patient.id, via="billing")
        waiting = (
            TreatmentSession.objects.filter(
                clinic_id=patient.clinic_id,
                patient_id=patient.id,
                indication=indication,
                signed_at__isnull=False,
                external=False,
            )
            .select_related("clinic", "signed_by")
            .order_by("administered_at", "id")
        )
        for session in waiting:
            latest = reads.latest_charge_set(session.id, session.clinic_id)
            if latest is not None and _lacks_diagnosis(latest):
                capture_charges(session, ChargeReason.DIAGNOSIS_CHOSEN, actor, trail)
    return diagnosis


def _lacks_diagnosis(charge_set: ChargeSet) -> bool:
    if charge_set.status != ChargeStatus.COMPLETE or not charge_set.charges:
        return False
    stored = charge_set_from_json(charge_set.charges)
    return any(r.code == "no-diagnosis" for r in stored.refusals)


def _opened(actor: Actor, session_id: UUID | str, perm: Perm) -> TreatmentSession:
    session = access(actor, SESSION, session_id, perm)
    return (
        in_clinic(TreatmentSession.objects.all(), session.clinic_id, "patient")
        .select_related("clinic", "signed_by")
        .get(pk=session.pk)
    )


def confirm_claim_item(
    actor: Actor,
    session_id: UUID | str,
    *,
    item_code: str,
    note: str = "",
    charge_set_id: UUID | str | None = None,
) -> ClaimConfirmation:
    """Confirm one claim item of the session's current charge set (billing.md 7.8), once.
    ``charge_set_id``, when given, must still be the current set: the claim may have been
    revised since it was read."""
    if len(note) > MAX_NOTE:
        raise ServiceError("note", f"must be at most {MAX_NOTE:,} characters")
    with clinical_transaction(actor) as trail:
        session = _opened(actor, session_id, Perm.BILLING_WRITE)
        lock_patient(session.clinic_id, session.patient_id)
        latest = reads.latest_charge_set(session.id, session.clinic_id)
        if latest is None:
            raise ConflictError(None, NOT_CAPTURED)
        if charge_set_id is not None and str(latest.id) != str(charge_set_id):
            raise ConflictError(
                "charge_set_id", "the charges were revised since: review the current ones"
            )
        open_codes = [i.code for i in reads.claim_items_of(latest)]
        if item_code not in open_codes:
            listed = ", ".join(dict.fromkeys(open_codes)) or "none"
            raise ServiceError(
                "item_code", f"not a claim item of the current charges (items: {listed})"
            )
        if related_in_clinic(latest, "confirmations").filter(item_code=item_code).exists():
            raise ConflictError("item_code", "this item is confirmed already")
        if (
            item_code == RENDERING_ITEM
            and status_of(session) == SessionStatus.AWAITING_CO_SIGNATURE
        ):
            raise ConflictError(
                "item_code",
                "the session awaits its co-signature: the rendering provider is confirmed once "
                "a prescriber has co-signed it",
            )
        confirmation = ClaimConfirmation.objects.create(
            clinic_id=session.clinic_id,
            charge_set=latest,
            item_code=item_code,
            confirmed_by=actor.membership,
            at=timezone.now(),
            note=note.strip(),
        )
        trail.record(
            "create",
            "claim-confirmation",
            confirmation.id,
            session.patient_id,
            session=str(session.id),
            charge_set=str(latest.id),
            item=item_code,
        )
    return confirmation


def read_superbill(actor: Actor, session_id: UUID | str) -> reads.Superbill:
    """The session's superbill (billing.md 7.8: it always prints, marking what is unconfirmed);
    one read entry."""
    with clinical_transaction(actor) as trail:
        session = _opened(actor, session_id, Perm.BILLING_READ)
        bill = reads.superbill(session)
        if bill is None:
            raise ConflictError(None, NOT_CAPTURED)
        trail.record("read", "superbill", session.id, session.patient_id)
    return bill


def charge_history(actor: Actor, session_id: UUID | str) -> tuple[reads.ChargeSetView, ...]:
    """Every charge set of the session, oldest first; one read entry."""
    with clinical_transaction(actor) as trail:
        session = _opened(actor, session_id, Perm.BILLING_READ)
        history = reads.charge_history(session)
        trail.record("read", "charge-sets", session.id, session.patient_id)
    return history


def _claims_of_period(
    actor: Actor, start: date, end: date, action: str, what: str
) -> reads.ClaimsFile:
    """The claims file of a period, after the checks every reader of it makes, with one audit
    entry per patient it names."""
    require(actor, Perm.BILLING_READ)
    if end < start:
        raise ServiceError("end", "is before start")
    if (end - start).days > 366:
        raise ServiceError("end", "a claims file covers at most 366 days")
    with clinical_transaction(actor) as trail:
        found = reads.claims_file(actor.membership.clinic_id, start, end)
        for patient_id in sorted(found.patients, key=str):
            trail.record(action, what, "", patient_id, start=start.isoformat(), end=end.isoformat())
    return found


def claims_listing(actor: Actor, start: date, end: date) -> reads.ClaimsFile:
    """The claims of a period as the claims file holds them, for the page: one read entry per
    patient it names."""
    return _claims_of_period(actor, start, end, "read", "claims")


def claims_export(actor: Actor, start: date, end: date) -> str:
    """The claims file of a period (CSV): a row per line of each exportable claim, then the
    claims left out with why (billing.md 7.8). One export entry per patient it names."""
    found = _claims_of_period(actor, start, end, "export", "claims-csv")
    header, *rows = found.csv_rows()
    return csvfiles.csv_text(header, rows)


def claims_filename(start: date, end: date) -> str:
    return f"bontrack-claims-{start.isoformat()}-{end.isoformat()}.csv"


# --- Catalog items, confirmed once per clinic (billing.md 7.8, first kind) ---------------------

# The clinic admin alone holds users.manage: the clinic's billing settings are theirs.
SETTINGS_PERM = Perm.USERS_MANAGE


def catalog_items(actor: Actor) -> tuple[catalog_confirming.CatalogItem, ...]:
    """Every catalog item the current billing catalog can raise on a claim, with whether, by
    whom and when the clinic confirmed it under this catalog version. Names no patient."""
    require(actor, Perm.BILLING_READ)
    return catalog_confirming.clinic_catalog_items(actor.membership.clinic_id)


def confirm_catalog_item(
    actor: Actor, code: str, message: str, note: str = ""
) -> CatalogConfirmation:
    """The clinic admin confirms one catalog item for every claim of the clinic, under the
    current catalog version (a new version asks again); once per item and version."""
    require(actor, SETTINGS_PERM)
    if len(note) > MAX_NOTE:
        raise ServiceError("note", f"must be at most {MAX_NOTE:,} characters")
    version = billing_catalog().version
    raisable = catalog_confirming.raisable_items(billing_catalog())
    if not any(i.code == code for i in raisable):
        codes = ", ".join(dict.fromkeys(i.code for i in raisable))
        raise ServiceError("code", f"not a catalog item code (codes: {codes})")
    if not any(i.code == code and i.message == message for i in raisable):
        raise ServiceError(
            "message", f"not an item of billing catalog {version}: list the current items"
        )
    clinic_id = actor.membership.clinic_id
    with clinical_transaction(actor) as trail:
        if CatalogConfirmation.objects.filter(
            clinic_id=clinic_id, catalog_version=version, item_code=code, message=message
        ).exists():
            raise ConflictError("message", "this item is confirmed already")
        try:
            with transaction.atomic():
                confirmation = CatalogConfirmation.objects.create(
                    clinic_id=clinic_id,
                    item_code=code,
                    message=message,
                    catalog_version=version,
                    confirmed_by=actor.membership,
                    confirmed_at=timezone.now(),
                    note=note.strip(),
                )
        except IntegrityError:
            raise ConflictError("message", "this item is confirmed already") from None
        trail.record(
            "create",
            "catalog-confirmation",
            confirmation.id,
            None,
            item=code,
            catalog_version=version,
        )
    return confirmation
