"""Claims of medical sessions on the pages: a session's superbill and its PDF (one template), the
claim items confirmed from it, a patient's Billing page (coverage versions, the diagnosis each
indication's claims point at, the patient's claims), the clinic's claims file of a period
with its CSV, and the clinic's Billing settings, where the clinic admin confirms the catalog
items once for every claim (docs/billing.md).

What is shown is ``bontrack.billing.reads`` as the API shows it; every rule and every audit entry
is the billing services' (``bontrack/billing/services.py``). A superbill names codes, units,
dates and the diagnosis a claim needs, never the session's notes or findings: the front desk
works here without the chart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from bontrack.access import PATIENT, access
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.billing import reads, services
from bontrack.billing.models import ChargeSet, Coverage, Relationship
from bontrack.core.csvfiles import MEDIA_TYPE, content_disposition
from bontrack.core.errors import ServiceError
from bontrack.core.scoping import in_clinic, not_replaced
from bontrack.domain.billing import BillingTag, billing_catalog
from bontrack.domain.billing.charges import ndc_for_claim
from bontrack.domain.catalog import catalog
from bontrack.patients.models import Consent, Diagnosis, Patient
from bontrack.treatments.models import TreatmentSession
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.forms import ClinicalForm, first_error
from bontrack.web.views.sessions import note_stylesheet

KIND_WORDS = {"procedure": "procedure", "drug": "drug given", "waste": "drug discarded"}
REASON_WORDS = {
    "signed": "captured at signing",
    "amended": "revised after an amendment",
    "entered-in-error": "withdrawn: entered in error",
    "vial-shared": "revised: a vial shared with a later session",
    "diagnosis-chosen": "revised: a diagnosis was chosen",
}
# A claims file covers at most this many days (the service refuses more); the page offers the
# last 30 days by default.
DEFAULT_DAYS = 30


def _to_confirm(tag: str) -> bool:
    return tag in (BillingTag.RECALLED, BillingTag.UNCERTAIN)


def _refusal(error: ServiceError) -> str:
    """A refusal in the page's words, naming the field; 403 and 404 go to their pages."""
    if error.status in (403, 404):
        raise error
    return f"{error.field.replace('_', ' ')}: {error.message}" if error.field else error.message


# --- The superbill ---------------------------------------------------------------------------


def _line_row(view: reads.LineView) -> dict[str, Any]:
    line = view.line
    return {
        "line": line,
        "kind": KIND_WORDS.get(line.kind, line.kind),
        "modifiers": " ".join(line.modifiers),
        "ndc_claim": ndc_for_claim(line.ndc) if line.ndc else "",
        "to_confirm": view.to_confirm,
    }


def superbill_context(actor: Actor, bill: reads.Superbill, pdf: bool) -> dict[str, Any]:
    """What the superbill shows on the page and in its PDF (one template: superbill.html)."""
    tz = actor.clinic.time_zone
    return {
        "bill": bill,
        "layout": "web/superbill_print.html" if pdf else "web/base.html",
        "pdf": pdf,
        "stylesheet": note_stylesheet() if pdf else "",
        "product_name": present.product_name(bill.product),
        "lines": [_line_row(v) for v in bill.lines],
        "items": [
            {"item": i, "confirmed_at": present.local(i.confirmed_at, tz)} for i in bill.claim_items
        ],
        "catalog_items": [
            {"item": i, "confirmed_at": present.local(i.confirmed_at, tz)}
            for i in bill.catalog_items
        ],
        "captured_at": present.local(bill.captured_at, tz),
        "reason_words": REASON_WORDS.get(bill.reason, bill.reason),
        "can_confirm": not pdf and not bill.voided and actor.membership.can(Perm.BILLING_WRITE),
        "can_read_chart": actor.membership.can(Perm.CHART_READ),
        "printed_at": present.local(timezone.now(), tz),
        "nav": "billing",
    }


def _no_superbill(request: HttpRequest, session_id: UUID, refused: ServiceError) -> HttpResponse:
    """A plan, or a session signed before charges were captured: nothing to bill yet."""
    return render(
        request,
        "web/superbill_none.html",
        {"session_id": session_id, "message": _refusal(refused), "nav": "billing"},
        status=refused.status,
    )


def _superbill_page(
    request: HttpRequest, actor: Actor, session_id: UUID, error: str = "", status: int = 200
) -> HttpResponse:
    try:
        bill = services.read_superbill(actor, session_id)
    except ServiceError as refused:
        return _no_superbill(request, session_id, refused)
    context = superbill_context(actor, bill, pdf=False)
    return render(request, "web/superbill.html", {**context, "error": error}, status=status)


@clinic_view(Perm.BILLING_READ)
def superbill_page(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    return _superbill_page(request, actor, session_id)


@clinic_view(Perm.BILLING_READ)
def superbill_pdf(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    from weasyprint import HTML  # a heavy import, only where a PDF is made

    try:
        bill = services.read_superbill(actor, session_id)
    except ServiceError as refused:
        return _no_superbill(request, session_id, refused)
    html = render_to_string(
        "web/superbill.html", superbill_context(actor, bill, pdf=True), request=request
    )
    pdf = HTML(string=html, base_url=None).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"superbill-{bill.date_of_service.isoformat()}-{str(bill.session_id)[:8]}.pdf"
    response["Content-Disposition"] = content_disposition(name, "inline")
    return response


class ConfirmationForm(ClinicalForm):
    item_code = forms.CharField(max_length=40)
    charge_set_id = forms.UUIDField(required=False)
    note = forms.CharField(required=False, max_length=services.MAX_NOTE)


@clinic_view(Perm.BILLING_WRITE, methods=("POST",))
def confirm_item(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    """Confirm one claim item of the superbill's charges (billing.md 7.8)."""
    form = ConfirmationForm(request.POST)
    if not form.is_valid():
        message = f"Not confirmed: {first_error(form)}"
        return _superbill_page(request, actor, session_id, message, 400)
    data = form.cleaned_data
    try:
        services.confirm_claim_item(
            actor,
            session_id,
            item_code=data["item_code"],
            note=data["note"],
            charge_set_id=data["charge_set_id"],
        )
    except ServiceError as refused:
        message = f"Not confirmed: {_refusal(refused)}"
        return _superbill_page(request, actor, session_id, message, refused.status)
    messages.success(request, f"Confirmed: {data['item_code']}.")
    return HttpResponseRedirect(f"/sessions/{session_id}/superbill/#items-to-confirm")


# --- A patient's Billing page ----------------------------------------------------------------


class CoverageForm(ClinicalForm):
    payer_name = forms.CharField(max_length=Coverage._meta.get_field("payer_name").max_length)
    payer_id = forms.CharField(max_length=Coverage._meta.get_field("payer_id").max_length)
    member_id = forms.CharField(max_length=Coverage._meta.get_field("member_id").max_length)
    relationship = forms.ChoiceField(choices=Relationship.choices)
    valid_from = forms.DateField()
    valid_to = forms.DateField(required=False)
    replaces = forms.UUIDField(required=False)


class ClaimDiagnosisForm(ClinicalForm):
    indication = forms.CharField(max_length=64)
    icd10 = forms.CharField(max_length=16)


@dataclass(frozen=True)
class IndicationDiagnosis:
    """One medical indication of the patient: the code its claims point at, and the codes the
    billing catalog suggests for it today."""

    indication: str
    name: str
    chosen: str
    chosen_on: date | None
    suggestions: tuple[dict[str, Any], ...]


def _patient_indications(patient: Patient) -> list[str]:
    """The indications the patient was consented, treated or diagnosed for, in catalog order."""
    found: set[str] = set()
    found.update(
        Consent.objects.filter(clinic_id=patient.clinic_id, patient_id=patient.id).values_list(
            "indication", flat=True
        )
    )
    found.update(
        TreatmentSession.objects.filter(
            clinic_id=patient.clinic_id, patient_id=patient.id, external=False
        ).values_list("indication", flat=True)
    )
    found.update(
        Diagnosis.objects.filter(clinic_id=patient.clinic_id, patient_id=patient.id).values_list(
            "indication", flat=True
        )
    )
    return [code for code in catalog().indications if code in found]


def _claim_diagnoses(patient: Patient, today: date) -> list[IndicationDiagnosis]:
    """Per medical indication of the patient, the latest code noted (the one a claim points at,
    as charge capture reads it) and today's suggestions; cosmetic indications are never
    claimed and are left out."""
    known = catalog().indications
    latest: dict[str, Diagnosis] = {}
    for row in Diagnosis.objects.filter(
        clinic_id=patient.clinic_id, patient_id=patient.id
    ).order_by("noted_on", "created_at"):
        latest[row.indication] = row
    rows = []
    for code in _patient_indications(patient):
        if known[code].cosmetic:
            continue
        suggested = billing_catalog().icd_suggestions(code, today)
        chosen = latest.get(code)
        if not suggested and chosen is None:
            continue
        rows.append(
            IndicationDiagnosis(
                indication=code,
                name=present.indication_short(code),
                chosen=chosen.icd10 if chosen is not None else "",
                chosen_on=chosen.noted_on if chosen is not None else None,
                suggestions=tuple(
                    {
                        "code": s.code,
                        "display": s.display,
                        "to_confirm": _to_confirm(s.tag),
                    }
                    for s in suggested
                ),
            )
        )
    return rows


def _patient_claims(patient: Patient) -> list[dict[str, Any]]:
    """The patient's sessions with captured charges, newest first, each with its current set."""
    current = (
        in_clinic(ChargeSet.objects.all(), patient.clinic_id, "session")
        .filter(patient_id=patient.id)
        .filter(not_replaced(ChargeSet, "replaces"))
        .order_by("-date_of_service", "-created_at")
    )
    return [
        {
            "set": s,
            "indication": present.indication_short(s.session.indication),
            "product": present.product_name(s.session.product),
            "reason": REASON_WORDS.get(s.reason, s.reason),
            "invoice_only": bool(s.charges.get("invoice_only")),
            "claimable": bool(s.charges.get("claimable")),
        }
        for s in current
    ]


def _current_coverage(
    versions: Iterable[reads.CoverageView], today: date
) -> reads.CoverageView | None:
    """Of the versions (newest first), the standing one that holds today (billing/coverage.py's
    rule over the versions the service listed)."""
    return next(
        (
            v
            for v in versions
            if v.standing and v.valid_from <= today and (v.valid_to is None or today <= v.valid_to)
        ),
        None,
    )


def _coverage_initial(
    request: HttpRequest, versions: list[reads.CoverageView], today: date
) -> dict[str, Any]:
    """A new version starts blank from today; ``?correct=<id>`` starts from that version."""
    chosen = request.GET.get("correct", "")
    found = next((v for v in versions if str(v.id) == chosen and v.standing), None)
    if found is None:
        return {"relationship": Relationship.SELF, "valid_from": today}
    return {
        "payer_name": found.payer_name,
        "payer_id": found.payer_id,
        "member_id": found.member_id,
        "relationship": found.relationship,
        "valid_from": found.valid_from,
        "valid_to": found.valid_to,
        "replaces": found.id,
    }


def _patient_billing(
    request: HttpRequest,
    actor: Actor,
    patient_id: UUID,
    form: CoverageForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    patient = access(actor, PATIENT, patient_id, Perm.BILLING_READ)
    versions = services.list_coverage(actor, patient.id)
    today = present.clinic_today(actor.clinic.time_zone)
    return render(
        request,
        "web/billing_patient.html",
        {
            "patient": patient,
            "banner": present.patient_banner(patient, today, False),
            "today": today,
            "versions": versions,
            "current": _current_coverage(versions, today),
            "form": form or CoverageForm(initial=_coverage_initial(request, versions, today)),
            "correcting": bool(request.GET.get("correct")),
            "relationships": Relationship.choices,
            "diagnoses": _claim_diagnoses(patient, today),
            "claims": _patient_claims(patient),
            "can_write": actor.membership.can(Perm.BILLING_WRITE),
            "can_read_chart": actor.membership.can(Perm.CHART_READ),
            "error": error,
            "nav": "billing",
        },
        status=status,
    )


@clinic_view(Perm.BILLING_READ)
def patient_billing(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    return _patient_billing(request, actor, patient_id)


@clinic_view(Perm.BILLING_WRITE, methods=("POST",))
def record_coverage(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    form = CoverageForm(request.POST)
    if not form.is_valid():
        message = f"The insurance was not recorded: {first_error(form)}"
        return _patient_billing(request, actor, patient_id, form, message, 400)
    data = form.cleaned_data
    try:
        coverage = services.record_coverage(
            actor,
            patient_id,
            payer_name=data["payer_name"],
            payer_id=data["payer_id"],
            member_id=data["member_id"],
            relationship=data["relationship"],
            valid_from=data["valid_from"],
            valid_to=data["valid_to"],
            replaces=data["replaces"],
        )
    except ServiceError as refused:
        message = f"The insurance was not recorded: {_refusal(refused)}"
        return _patient_billing(request, actor, patient_id, form, message, refused.status)
    messages.success(
        request,
        f"Insurance recorded: {coverage.payer_name}, member {coverage.member_id}, "
        f"from {coverage.valid_from:%-d %b %Y}.",
    )
    return HttpResponseRedirect(f"/patients/{patient_id}/billing/#coverage")


@clinic_view(Perm.BILLING_WRITE, methods=("POST",))
def choose_diagnosis(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    form = ClaimDiagnosisForm(request.POST)
    if not form.is_valid():
        message = f"The diagnosis was not recorded: {first_error(form)}"
        return _patient_billing(request, actor, patient_id, error=message, status=400)
    data = form.cleaned_data
    try:
        services.choose_diagnosis(
            actor, patient_id, indication=data["indication"], icd10=data["icd10"]
        )
    except ServiceError as refused:
        message = f"The diagnosis was not recorded: {_refusal(refused)}"
        return _patient_billing(request, actor, patient_id, error=message, status=refused.status)
    messages.success(
        request,
        f"Claim diagnosis recorded: {data['icd10']} for "
        f"{present.indication_short(data['indication'])}.",
    )
    return HttpResponseRedirect(f"/patients/{patient_id}/billing/#diagnoses")


# --- The claims file -------------------------------------------------------------------------


def _period(request: HttpRequest, actor: Actor) -> tuple[date, date, str]:
    """The dates of service asked for (``?start=&end=``), else the last 30 days; and what was
    wrong with them."""
    today = present.clinic_today(actor.clinic.time_zone)
    start, end = today - timedelta(days=DEFAULT_DAYS - 1), today
    problems = []
    for name in ("start", "end"):
        text = request.GET.get(name, "").strip()
        if not text:
            continue
        try:
            day = date.fromisoformat(text)
        except ValueError:
            problems.append(f"{name}: give a date, e.g. {today.isoformat()}")
            continue
        if name == "start":
            start = day
        else:
            end = day
    return start, end, "; ".join(problems)


def _claims(found: reads.ClaimsFile) -> list[dict[str, Any]]:
    """The exportable claims, one entry per claim with its lines (the file has a row per
    line)."""
    claims: dict[str, dict[str, Any]] = {}
    for row in found.rows:
        cells = dict(zip(reads.CLAIM_COLUMNS, row, strict=True))
        claim = claims.setdefault(
            cells["claim_id"],
            {**cells, "day": date.fromisoformat(cells["date_of_service"]), "lines": []},
        )
        claim["lines"].append(cells)
    return list(claims.values())


def _claims_page(
    request: HttpRequest,
    actor: Actor,
    start: date,
    end: date,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    found: reads.ClaimsFile | None = None
    if not error:
        try:
            found = services.claims_listing(actor, start, end)
        except ServiceError as refused:
            error, status = _refusal(refused), refused.status
    return render(
        request,
        "web/billing_claims.html",
        {
            "start": start,
            "end": end,
            "claims": _claims(found) if found is not None else [],
            "left_out": found.left_out if found is not None else (),
            "listed": found is not None,
            "error": error,
            "nav": "billing",
        },
        status=status,
    )


@clinic_view(Perm.BILLING_READ)
def claims_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    start, end, error = _period(request, actor)
    return _claims_page(request, actor, start, end, error, 400 if error else 200)


@clinic_view(Perm.BILLING_READ)
def claims_csv(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The claims file through the billing service (its export entries), or the page saying
    what was wrong with the dates."""
    start, end, error = _period(request, actor)
    if error:
        return _claims_page(request, actor, start, end, error, 400)
    try:
        text = services.claims_export(actor, start, end)
    except ServiceError as refused:
        return _claims_page(request, actor, start, end, _refusal(refused), refused.status)
    response = HttpResponse(text, content_type=MEDIA_TYPE)
    response["Content-Disposition"] = content_disposition(services.claims_filename(start, end))
    response["Cache-Control"] = "no-store"
    return response


# --- Billing settings: the catalog items a clinic confirms once --------------------------------


class CatalogConfirmationForm(ClinicalForm):
    item_code = forms.CharField(max_length=40)
    message = forms.CharField(max_length=2000)
    note = forms.CharField(required=False, max_length=services.MAX_NOTE)


def _settings_page(
    request: HttpRequest, actor: Actor, error: str = "", status: int = 200
) -> HttpResponse:
    tz = actor.clinic.time_zone
    items = services.catalog_items(actor)
    return render(
        request,
        "web/billing_settings.html",
        {
            "items": [
                {"item": i, "confirmed_at": present.local(i.confirmed_at, tz)} for i in items
            ],
            "open": sum(1 for i in items if not i.confirmed),
            "catalog_version": billing_catalog().version,
            "can_confirm": actor.membership.can(services.SETTINGS_PERM),
            "error": error,
            "nav": "billing",
        },
        status=status,
    )


@clinic_view(Perm.BILLING_READ)
def settings_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _settings_page(request, actor)


@clinic_view(services.SETTINGS_PERM, methods=("POST",))
def confirm_catalog_item(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The clinic admin confirms one catalog item for every claim (billing.md 7.8)."""
    form = CatalogConfirmationForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, actor, f"Not confirmed: {first_error(form)}", 400)
    data = form.cleaned_data
    try:
        services.confirm_catalog_item(actor, data["item_code"], data["message"], data["note"])
    except ServiceError as refused:
        message = f"Not confirmed: {_refusal(refused)}"
        return _settings_page(request, actor, message, refused.status)
    messages.success(request, f"Confirmed for the clinic: {data['item_code']}.")
    return HttpResponseRedirect("/billing/settings/#catalog-items")
