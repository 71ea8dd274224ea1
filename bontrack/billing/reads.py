"""What a claim shows, read once for the API, the pages and the claims file alike: a session's
superbill (``superbill``), its charge sets as captured (``charge_history``), and the clinic's
claims of a period (``claims_file``), each claim exportable or left out with why (billing.md
7.8).

Every function here reads; none checks access or writes an audit entry: the services
(``bontrack/billing/services.py``) open the session or the clinic's rows first and record the
reads.

A claim is exportable when its session's latest charge set is complete and claimable (no
refusal), every claim item of it is confirmed, every catalog item of it is confirmed for the
clinic under the current catalog version (``catalog_items.py``), the patient's coverage holds on
the date of service, the rendering provider has an NPI, and a nurse injector's session is
co-signed. A cosmetic session is invoiced, never claimed: it appears in no claims file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from django.db.models import Prefetch

from bontrack.accounts.models import Membership
from bontrack.billing.catalog_items import (
    CatalogItem,
    confirmations_of,
    left_out_words,
    with_confirmations,
)
from bontrack.billing.coverage import coverage_on, holding_on, standing_by_patient
from bontrack.billing.models import (
    CatalogConfirmation,
    ChargeReason,
    ChargeSet,
    ChargeStatus,
    ClaimConfirmation,
)
from bontrack.billing.models import Coverage as CoverageRow
from bontrack.core.scoping import joined_in_clinic, not_replaced
from bontrack.domain.billing import (
    BillingTag,
    ChargeLine,
    ClaimItem,
    billing_catalog,
    charge_set_from_json,
)
from bontrack.domain.billing.charges import CATALOG_ITEM_CODES, ndc_for_claim
from bontrack.domain.catalog import catalog
from bontrack.patients.models import Patient
from bontrack.treatments.models import SessionEvent, SessionEventKind, TreatmentSession
from bontrack.treatments.records import SessionStatus, status_of

# Every visit is charted in the clinic's office (billing.md 5.6).
PLACE_OF_SERVICE = "11"
NO_COVERAGE = "record the patient's insurance"
RESTRICTED = "restricted patient: break glass or ask their care team"


@dataclass(frozen=True, slots=True)
class CoverageView:
    id: UUID
    payer_name: str
    payer_id: str
    member_id: str
    relationship: str
    valid_from: date
    valid_to: date | None
    recorded_at: datetime
    recorded_by: str
    replaces: UUID | None
    standing: bool  # no newer version replaces it


def coverage_view(row: CoverageRow, standing: bool = True) -> CoverageView:
    return CoverageView(
        id=row.id,
        payer_name=row.payer_name,
        payer_id=row.payer_id,
        member_id=row.member_id,
        relationship=row.relationship,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by.display_name,
        replaces=row.replaces_id,
        standing=standing,
    )


@dataclass(frozen=True, slots=True)
class Provider:
    id: UUID
    name: str
    npi: str  # "" until the clinic admin records it
    to_confirm: bool  # a nurse injector's session (billing.md 7.9)


@dataclass(frozen=True, slots=True)
class ItemToConfirm:
    """A claim item (confirmed per claim) with whether, by whom and when it was confirmed."""

    code: str
    message: str
    confirmed: bool
    confirmed_by: str = ""
    confirmed_at: datetime | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class LineView:
    """A claim line; ``to_confirm``: its catalog entry is tagged [R] or [U] (billing.md A)."""

    line: ChargeLine
    to_confirm: bool


@dataclass(frozen=True, slots=True)
class HcpcsTotal:
    """Billing units of one HCPCS code on the claim: given, discarded (JW), and both."""

    hcpcs: str
    product: str
    administered: int
    discarded: int

    @property
    def billed(self) -> int:
        return self.administered + self.discarded


@dataclass(frozen=True, slots=True)
class Superbill:
    session_id: UUID
    charge_set_id: UUID
    sequence: int
    reason: str
    status: str
    why: str
    captured_at: datetime
    catalog_version: str
    clinic: str
    patient_id: UUID
    patient_name: str
    birth_date: date
    record_number: str
    coverage: CoverageView | None
    date_of_service: date
    place_of_service: str
    product: str
    indication: str
    rendering_provider: Provider | None
    diagnosis: str
    diagnosis_display: str
    lines: tuple[LineView, ...]
    claim_items: tuple[ItemToConfirm, ...]
    catalog_items: tuple[CatalogItem, ...]  # confirmed once per clinic (Billing settings)
    refusals: tuple[ClaimItem, ...]
    totals: tuple[HcpcsTotal, ...]
    claimable: bool
    invoice_only: bool
    voided: bool
    left_out_because: tuple[str, ...]  # empty: the claims file exports it

    @property
    def exportable(self) -> bool:
        return not self.invoice_only and not self.left_out_because


@dataclass(frozen=True, slots=True)
class ChargeSetView:
    id: UUID
    sequence: int
    reason: str
    status: str
    why: str
    replaces: UUID | None
    created_at: datetime
    created_by: str
    date_of_service: date
    claimable: bool
    invoice_only: bool
    lines: tuple[ChargeLine, ...]
    to_confirm: tuple[ClaimItem, ...]
    refusals: tuple[ClaimItem, ...]
    catalog_version: str
    current: bool


def latest_charge_set(session_id: UUID, clinic_id: UUID) -> ChargeSet | None:
    """The session's charge set that no newer one replaces."""
    return (
        ChargeSet.objects.select_related("rendering_provider__user", "created_by__user")
        .filter(clinic_id=clinic_id, session_id=session_id)
        .order_by("-sequence")
        .first()
    )


def claim_items_of(charge_set: ChargeSet) -> list[ClaimItem]:
    """The items confirmed per claim: the domain's (those not in the catalog's own list) and
    the capture's (a shared vial, a nurse's rendering provider)."""
    items: list[ClaimItem] = []
    if charge_set.charges:
        stored = charge_set_from_json(charge_set.charges)
        items += [i for i in stored.to_confirm if i.code not in CATALOG_ITEM_CODES]
    items += [ClaimItem(i["code"], i["message"]) for i in charge_set.claim_items]
    return items


def _items_with_confirmations(
    items: Sequence[ClaimItem], confirmations: Iterable[ClaimConfirmation]
) -> tuple[ItemToConfirm, ...]:
    done = {c.item_code: c for c in confirmations}
    out = []
    for item in items:
        found = done.get(item.code)
        out.append(
            ItemToConfirm(
                code=item.code,
                message=item.message,
                confirmed=found is not None,
                confirmed_by=found.confirmed_by.display_name if found else "",
                confirmed_at=found.at if found else None,
                note=found.note if found else "",
            )
        )
    return tuple(out)


def rendering_of(
    charge_set: ChargeSet, events: Iterable[SessionEvent]
) -> tuple[Membership | None, bool]:
    """Who renders the claim: as captured, and for a nurse injector's session co-signed since,
    the co-signing prescriber (billing.md 7.9)."""
    if charge_set.rendering_to_confirm:
        co_signatures = [e for e in events if e.kind == SessionEventKind.CO_SIGNED]
        if co_signatures:
            return max(co_signatures, key=lambda e: (e.at, str(e.id))).by, True
    return charge_set.rendering_provider, charge_set.rendering_to_confirm


def _totals(lines: Iterable[ChargeLine], product: str) -> tuple[HcpcsTotal, ...]:
    """Billing units per HCPCS code; a session is of one product, so each code is that
    product's and no total crosses products."""
    given: dict[str, int] = {}
    wasted: dict[str, int] = {}
    for line in lines:
        if line.kind == "drug":
            given[line.code] = given.get(line.code, 0) + line.billing_units
        elif line.kind == "waste":
            wasted[line.code] = wasted.get(line.code, 0) + line.billing_units
    return tuple(
        HcpcsTotal(code, product, given.get(code, 0), wasted.get(code, 0))
        for code in sorted(set(given) | set(wasted))
    )


def _left_out(
    charge_set: ChargeSet,
    session: TreatmentSession,
    events: Sequence[SessionEvent],
    coverage: CoverageRow | None,
    provider: Membership | None,
    refusals: Sequence[ClaimItem],
    items: Sequence[ItemToConfirm],
    catalog_items: Sequence[CatalogItem],
) -> tuple[str, ...]:
    """Why the claim is not exported, in the order a biller fixes them; empty when it is."""
    if charge_set.reason == ChargeReason.ENTERED_IN_ERROR:
        return ("entered in error: the claim is withdrawn",)
    if charge_set.status == ChargeStatus.INCOMPLETE:
        return (charge_set.why or "the charges could not be derived",)
    why = [r.message for r in refusals]
    if coverage is None:
        why.append(NO_COVERAGE)
    if provider is None:
        why.append("no rendering provider: the session's signer is not a prescriber")
    elif not provider.npi:
        why.append(f"record {provider.display_name}'s NPI (the rendering provider)")
    if status_of(session, events) == SessionStatus.AWAITING_CO_SIGNATURE:
        why.append("awaiting the co-signature of a supervising prescriber")
    why += [f"confirm: {i.message}" for i in items if not i.confirmed]
    why += [left_out_words(i) for i in catalog_items if not i.confirmed]
    return tuple(why)


def superbill(session: TreatmentSession, charge_set: ChargeSet | None = None) -> Superbill | None:
    """The superbill of a session's latest charge set (None when none was captured: a plan, or
    a session signed before charge capture). ``session`` with its patient and clinic."""
    charge_set = charge_set or latest_charge_set(session.id, session.clinic_id)
    if charge_set is None:
        return None
    events = list(
        SessionEvent.objects.filter(
            clinic_id=session.clinic_id, session_id=session.id
        ).select_related("by__user")
    )
    confirmations = list(
        ClaimConfirmation.objects.filter(
            clinic_id=charge_set.clinic_id, charge_set=charge_set
        ).select_related("confirmed_by__user")
    )
    coverage = coverage_on(session.clinic_id, session.patient_id, charge_set.date_of_service)
    catalog_confirmed = confirmations_of(session.clinic_id, billing_catalog().version)
    return _superbill(
        session, session.patient, charge_set, events, confirmations, coverage, catalog_confirmed
    )


def _superbill(
    session: TreatmentSession,
    patient: Patient,
    charge_set: ChargeSet,
    events: Sequence[SessionEvent],
    confirmations: Iterable[ClaimConfirmation],
    coverage: CoverageRow | None,
    catalog_confirmed: Mapping[tuple[str, str], CatalogConfirmation],
) -> Superbill:
    stored = charge_set_from_json(charge_set.charges) if charge_set.charges else None
    lines = stored.lines if stored is not None else ()
    refusals = stored.refusals if stored is not None else ()
    raised = stored.to_confirm if stored is not None else ()
    catalog_items = with_confirmations(
        (i for i in raised if i.code in CATALOG_ITEM_CODES),
        catalog_confirmed,
        billing_catalog().version,
    )
    items = _items_with_confirmations(claim_items_of(charge_set), confirmations)
    member, to_confirm = rendering_of(charge_set, events)
    known = billing_catalog().icd_code(charge_set.diagnosis) if charge_set.diagnosis else None
    indication = catalog().indications.get(session.indication)
    invoice_only = stored is not None and stored.invoice_only
    return Superbill(
        session_id=session.id,
        charge_set_id=charge_set.id,
        sequence=charge_set.sequence,
        reason=charge_set.reason,
        status=charge_set.status,
        why=charge_set.why,
        captured_at=charge_set.created_at,
        catalog_version=stored.catalog_version if stored is not None else "",
        clinic=session.clinic.name,
        patient_id=patient.id,
        patient_name=f"{patient.given_name} {patient.family_name}",
        birth_date=patient.birth_date,
        record_number=patient.record_number,
        coverage=coverage_view(coverage) if coverage is not None else None,
        date_of_service=charge_set.date_of_service,
        place_of_service=PLACE_OF_SERVICE,
        product=session.product,
        indication=indication.name if indication is not None else session.indication,
        rendering_provider=Provider(member.id, member.display_name, member.npi, to_confirm)
        if member is not None
        else None,
        diagnosis=charge_set.diagnosis,
        diagnosis_display=known.display if known is not None else "",
        lines=tuple(
            LineView(line, line.tag in (BillingTag.RECALLED, BillingTag.UNCERTAIN))
            for line in lines
        ),
        claim_items=items,
        catalog_items=catalog_items,
        refusals=refusals,
        totals=_totals(lines, session.product),
        claimable=stored is not None and stored.claimable,
        invoice_only=invoice_only,
        voided=charge_set.reason == ChargeReason.ENTERED_IN_ERROR,
        left_out_because=()
        if invoice_only
        else _left_out(
            charge_set, session, events, coverage, member, refusals, items, catalog_items
        ),
    )


def charge_history(session: TreatmentSession) -> tuple[ChargeSetView, ...]:
    """Every charge set of the session, oldest first: as signed, and each revision."""
    sets = list(
        ChargeSet.objects.filter(clinic_id=session.clinic_id, session_id=session.id)
        .select_related("created_by__user")
        .order_by("sequence")
    )
    views = []
    for n, s in enumerate(sets):
        stored = charge_set_from_json(s.charges) if s.charges else None
        views.append(
            ChargeSetView(
                id=s.id,
                sequence=s.sequence,
                reason=s.reason,
                status=s.status,
                why=s.why,
                replaces=s.replaces_id,
                created_at=s.created_at,
                created_by=s.created_by.display_name,
                date_of_service=s.date_of_service,
                claimable=stored is not None and stored.claimable,
                invoice_only=stored is not None and stored.invoice_only,
                lines=stored.lines if stored is not None else (),
                to_confirm=stored.to_confirm if stored is not None else (),
                refusals=stored.refusals if stored is not None else (),
                catalog_version=stored.catalog_version if stored is not None else "",
                current=n == len(sets) - 1,
            )
        )
    return tuple(views)


# --- The claims file --------------------------------------------------------------------------

CLAIM_COLUMNS = (
    "claim_id",
    "session_id",
    "record_number",
    "family_name",
    "given_name",
    "birth_date",
    "payer_name",
    "payer_id",
    "member_id",
    "relationship",
    "date_of_service",
    "place_of_service",
    "rendering_provider",
    "rendering_npi",
    "diagnosis_a",
    "line",
    "code",
    "modifiers",
    "billing_units",
    "ndc",
    "diagnosis_pointer",
)
LEFT_OUT_COLUMNS = ("left_out_session_id", "record_number", "date_of_service", "why")


@dataclass(frozen=True, slots=True)
class LeftOut:
    session_id: UUID
    record_number: str  # "" for a restricted patient
    date_of_service: date
    why: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClaimsFile:
    rows: tuple[tuple[str, ...], ...]  # one per line of each exportable claim (CLAIM_COLUMNS)
    left_out: tuple[LeftOut, ...]
    patients: frozenset[UUID]  # whose claims or left-out claims the file names

    def csv_rows(self) -> list[tuple[str, ...]]:
        """The claims, then a blank line and the claims left out with why (billing.md 7.8)."""
        out: list[tuple[str, ...]] = [CLAIM_COLUMNS, *self.rows, ()]
        out.append(LEFT_OUT_COLUMNS)
        out += [
            (str(s.session_id), s.record_number, s.date_of_service.isoformat(), "; ".join(s.why))
            for s in self.left_out
        ]
        return out


def claims_file(clinic_id: UUID, start: date, end: date) -> ClaimsFile:
    """The clinic's claims with a date of service from ``start`` to ``end``: the latest charge
    set of each session, exported line by line or left out with why. A restricted patient's
    claim is left out without naming them."""
    sets = list(
        ChargeSet.objects.filter(
            clinic_id=clinic_id,
            date_of_service__gte=start,
            date_of_service__lte=end,
            **joined_in_clinic(ChargeSet, clinic_id, "session", "patient"),
        )
        .filter(not_replaced(ChargeSet, "replaces"))
        .select_related(
            "session__clinic",
            "session__signed_by",
            "patient",
            "rendering_provider__user",
            "created_by__user",
        )
        .prefetch_related(
            Prefetch(
                "confirmations",
                queryset=ClaimConfirmation.objects.filter(clinic_id=clinic_id).select_related(
                    "confirmed_by__user"
                ),
            )
        )
        .order_by("date_of_service", "created_at", "id")
    )
    session_ids = [s.session_id for s in sets]
    events: dict[UUID, list[SessionEvent]] = {i: [] for i in session_ids}
    for e in SessionEvent.objects.filter(
        clinic_id=clinic_id, session_id__in=session_ids
    ).select_related("by__user"):
        events[e.session_id].append(e)
    coverages = standing_by_patient(clinic_id, (s.patient_id for s in sets))
    catalog_confirmed = confirmations_of(clinic_id, billing_catalog().version)
    rows: list[tuple[str, ...]] = []
    left_out: list[LeftOut] = []
    patients: set[UUID] = set()
    for s in sets:
        coverage = holding_on(coverages.get(s.patient_id, []), s.date_of_service)
        bill = _superbill(
            s.session,
            s.patient,
            s,
            events[s.session_id],
            s.confirmations.all(),
            coverage,
            catalog_confirmed,
        )
        if bill.invoice_only:
            continue  # billing.md 7.3: a cosmetic session is invoiced, never claimed
        if s.patient.restricted:
            left_out.append(LeftOut(s.session_id, "", s.date_of_service, (RESTRICTED,)))
            continue
        patients.add(s.patient_id)
        if bill.left_out_because:
            left_out.append(
                LeftOut(s.session_id, bill.record_number, s.date_of_service, bill.left_out_because)
            )
            continue
        rows += _claim_rows(bill, s.patient)
    return ClaimsFile(tuple(rows), tuple(left_out), frozenset(patients))


def _claim_rows(bill: Superbill, patient: Patient) -> list[tuple[str, ...]]:
    coverage = bill.coverage
    provider = bill.rendering_provider
    assert coverage is not None
    assert provider is not None
    common = (
        str(bill.charge_set_id),
        str(bill.session_id),
        patient.record_number,
        patient.family_name,
        patient.given_name,
        patient.birth_date.isoformat(),
        coverage.payer_name,
        coverage.payer_id,
        coverage.member_id,
        coverage.relationship,
        bill.date_of_service.isoformat(),
        bill.place_of_service,
        provider.name,
        provider.npi,
        bill.diagnosis,
    )
    return [
        (
            *common,
            str(n),
            view.line.code,
            " ".join(view.line.modifiers),
            str(view.line.billing_units),
            ndc_for_claim(view.line.ndc) if view.line.ndc else "",
            view.line.diagnosis_pointer or "",
        )
        for n, view in enumerate(bill.lines, start=1)
    ]
