"""Self-pay money on the pages: the Prices page, a session's invoice (issue it, see its lines and
balance, record a payment or a refund) and its PDF, and the Takings page of a day with its CSV.

The front desk works here: these pages show a session's product, units and area, never its sites,
notes or findings. The services (bontrack/invoicing/services.py) hold every rule and write every
audit entry; the API calls the same ones.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar
from uuid import UUID

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core.csvfiles import content_disposition, csv_response
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.invoicing import reads, services
from bontrack.invoicing.models import PaymentMethod
from bontrack.invoicing.pricing import PriceKind, area_words, product_words
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.forms import ClinicalForm, first_error
from bontrack.web.views.sessions import note_stylesheet

KIND_WORDS = {
    PriceKind.PER_UNIT: "per unit",
    PriceKind.PER_AREA: "per area",
    PriceKind.PER_SESSION: "per session",
}
UNIT_WORDS = {"U": "U", "area": "area", "session": "session"}


class MoneyField(forms.DecimalField):
    clinical_messages: ClassVar[dict[str, str]] = {
        "max_decimal_places": "give at most 2 decimals, e.g. 12.50",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)


class PriceForm(ClinicalForm):
    product = forms.ChoiceField(choices=())
    kind = forms.ChoiceField(choices=[(k.value, KIND_WORDS[k]) for k in PriceKind])
    area = forms.ChoiceField(choices=(), required=False)
    indication = forms.ChoiceField(choices=(), required=False)
    amount = MoneyField(min_value=0)
    currency = forms.CharField(max_length=3, required=False)
    tax_rate = forms.DecimalField(max_digits=6, decimal_places=3, min_value=0, max_value=100)
    valid_from = forms.DateField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        known = catalog()
        self.fields["product"].choices = [(code, product_words(code)) for code in known.products]
        self.fields["area"].choices = [("", "no area")] + [
            (code, f"{p.name} · {product_words(p.product)}") for code, p in known.protocols.items()
        ]
        self.fields["indication"].choices = [("", "every indication")] + [
            (code, i.name) for code, i in known.indications.items()
        ]


class IssueForm(ClinicalForm):
    self_pay = forms.BooleanField(required=False)
    kind = forms.ChoiceField(
        choices=[("", "the most specific price")] + [(k.value, KIND_WORDS[k]) for k in PriceKind],
        required=False,
    )


class PaymentForm(ClinicalForm):
    amount = MoneyField(min_value=0)
    method = forms.ChoiceField(choices=PaymentMethod.choices)
    reference = forms.CharField(max_length=100, required=False)


class RefundForm(ClinicalForm):
    amount = MoneyField(min_value=0)
    method = forms.ChoiceField(choices=PaymentMethod.choices)
    reason = forms.CharField(max_length=2000)


def _refusal(error: ServiceError) -> str:
    if error.status in (403, 404):
        raise error
    return f"{error.field.replace('_', ' ')}: {error.message}" if error.field else error.message


# --- Prices ----------------------------------------------------------------------------------


def _price_row(entry: Any) -> dict[str, Any]:
    return {
        "entry": entry,
        "product": product_words(entry.product),
        "kind": KIND_WORDS.get(entry.kind, entry.kind),
        "area": area_words(entry.area) if entry.area else "",
        "indication": present.indication_short(entry.indication) if entry.indication else "",
        "tax_rate": present.units(entry.tax_rate),
    }


def _prices_page(
    request: HttpRequest, actor: Actor, form: PriceForm | None = None, error: str = ""
) -> HttpResponse:
    found = services.price_list(actor)
    currency = next((e.currency for e in found.current), "")
    return render(
        request,
        "web/prices.html",
        {
            "on": found.on,
            "current": [_price_row(e) for e in found.current],
            "upcoming": [_price_row(e) for e in found.upcoming],
            "can_write": actor.membership.can(Perm.BILLING_WRITE),
            "form": form
            or PriceForm(initial={"tax_rate": 0, "valid_from": found.on, "currency": currency}),
            "error": error,
            "nav": "prices",
        },
        status=400 if error else 200,
    )


@clinic_view(Perm.BILLING_READ)
def prices_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _prices_page(request, actor)


@clinic_view(Perm.BILLING_WRITE, methods=("POST",))
def add_price(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = PriceForm(request.POST)
    if not form.is_valid():
        return _prices_page(request, actor, form, f"The price was not set: {first_error(form)}")
    data = form.cleaned_data
    try:
        entry = services.set_price(
            actor,
            product=data["product"],
            kind=data["kind"],
            amount=data["amount"],
            tax_rate=data["tax_rate"],
            currency=data["currency"] or None,
            area=data["area"],
            indication=data["indication"],
            valid_from=data["valid_from"],
        )
    except ServiceError as error:
        return _prices_page(request, actor, form, f"The price was not set: {_refusal(error)}")
    messages.success(
        request,
        f"Price set: {product_words(entry.product)}, {KIND_WORDS[PriceKind(entry.kind)]}, "
        f"{entry.currency} {entry.amount} from {entry.valid_from:%-d %b %Y}.",
    )
    return HttpResponseRedirect("/prices/")


# --- A session's invoice ---------------------------------------------------------------------


def _lines(lines: Any) -> list[dict[str, Any]]:
    return [
        {
            "line": line,
            "quantity": present.units(line.quantity),
            "unit": UNIT_WORDS.get(line.unit, line.unit),
            "tax_rate": present.units(line.tax_rate),
        }
        for line in lines
    ]


def _payments(found: reads.InvoiceRead, tz: str) -> list[dict[str, Any]]:
    """Payments and refunds in the order they happened."""
    rows = [
        {
            "kind": "payment",
            "at": present.local(p.received_at, tz),
            "amount": p.amount,
            "method": reads.METHOD_WORDS.get(p.method, p.method),
            "note": p.reference,
            "by": p.recorded_by,
        }
        for p in found.payments
    ] + [
        {
            "kind": "refund",
            "at": present.local(r.at, tz),
            "amount": r.amount,
            "method": reads.METHOD_WORDS.get(r.method, r.method),
            "note": r.reason,
            "by": r.recorded_by,
        }
        for r in found.refunds
    ]
    return sorted(rows, key=lambda row: row["at"])


def invoice_context(found: reads.InvoiceRead, tz: str) -> dict[str, Any]:
    """What the invoice shows on the page and in its PDF (one template: invoice_document.html)."""
    return {
        "invoice": found,
        "lines": _lines(found.lines),
        "movements": _payments(found, tz),
        "issued_at": present.local(found.invoice.issued_at, tz),
    }


def _invoice_page(
    request: HttpRequest, actor: Actor, session_id: UUID, error: str = "", status: int = 200
) -> HttpResponse:
    billing = services.session_billing(actor, session_id)
    tz = actor.clinic.time_zone
    found = billing.invoice
    can_write = actor.membership.can(Perm.BILLING_WRITE)
    context: dict[str, Any] = {
        "billing": billing,
        "session": billing.session,
        "product": product_words(billing.treated.units.product),
        "units": billing.treated.units.text,
        "area": area_words(billing.treated.protocol) if billing.treated.protocol else "",
        "preview": _lines(billing.preview.lines) if billing.preview else [],
        "priced": billing.preview,
        "can_write": can_write,
        "can_read_chart": actor.membership.can(Perm.CHART_READ),
        "error": error,
        "kinds": [(k.value, KIND_WORDS[k]) for k in PriceKind],
        "methods": PaymentMethod.choices,
        "nav": "takings",
    }
    if found is not None:
        context.update(invoice_context(found, tz))
        context["can_pay"] = can_write and found.balance > 0
        context["can_refund"] = can_write and found.refundable > 0
    return render(request, "web/invoice.html", context, status=status)


@clinic_view(Perm.BILLING_READ)
def invoice_page(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    return _invoice_page(request, actor, session_id)


@clinic_view(Perm.BILLING_WRITE, methods=("POST",))
def issue(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    form = IssueForm(request.POST)
    if not form.is_valid():
        return _invoice_page(request, actor, session_id, first_error(form), 400)
    try:
        invoice = services.issue_invoice(
            actor,
            session_id,
            self_pay=form.cleaned_data["self_pay"],
            kind=form.cleaned_data["kind"] or None,
        )
    except ServiceError as error:
        message = f"The invoice was not issued: {_refusal(error)}"
        return _invoice_page(request, actor, session_id, message, 400)
    messages.success(request, f"Invoice {invoice.number} issued.")
    return HttpResponseRedirect(f"/sessions/{session_id}/invoice")


@clinic_view(Perm.BILLING_WRITE, methods=("POST",))
def payment(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    form = PaymentForm(request.POST)
    if not form.is_valid():
        message = f"The payment was not recorded: {first_error(form)}"
        return _invoice_page(request, actor, session_id, message, 400)
    try:
        invoice = services.invoice_of_session(actor, session_id, Perm.BILLING_WRITE)
        paid = services.record_payment(actor, invoice.id, **form.cleaned_data)
    except ServiceError as error:
        message = f"The payment was not recorded: {_refusal(error)}"
        return _invoice_page(request, actor, session_id, message, 400)
    method = reads.METHOD_WORDS.get(paid.method, paid.method)
    messages.success(request, f"Payment recorded: {invoice.currency} {paid.amount} by {method}.")
    return HttpResponseRedirect(f"/sessions/{session_id}/invoice")


@clinic_view(Perm.BILLING_WRITE, methods=("POST",))
def refund(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    form = RefundForm(request.POST)
    if not form.is_valid():
        message = f"The refund was not recorded: {first_error(form)}"
        return _invoice_page(request, actor, session_id, message, 400)
    try:
        invoice = services.invoice_of_session(actor, session_id, Perm.BILLING_WRITE)
        paid_back = services.record_refund(actor, invoice.id, **form.cleaned_data)
    except ServiceError as error:
        message = f"The refund was not recorded: {_refusal(error)}"
        return _invoice_page(request, actor, session_id, message, 400)
    messages.success(request, f"Refund recorded: {invoice.currency} {paid_back.amount}.")
    return HttpResponseRedirect(f"/sessions/{session_id}/invoice")


@clinic_view(Perm.BILLING_READ)
def invoice_pdf(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    from weasyprint import HTML  # a heavy import, only where a PDF is made

    try:
        invoice = services.invoice_of_session(actor, session_id, Perm.BILLING_READ)
    except ServiceError as error:
        messages.error(request, _refusal(error))
        return HttpResponseRedirect(f"/sessions/{session_id}/invoice")
    found = services.read_invoice(actor, invoice.id, action="print")
    html = render_to_string(
        "web/invoice_pdf.html",
        {
            **invoice_context(found, actor.clinic.time_zone),
            "stylesheet": note_stylesheet(),
            "printed_at": present.local(timezone.now(), actor.clinic.time_zone),
        },
        request=request,
    )
    pdf = HTML(string=html, base_url=None).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition(f"invoice-{found.number}.pdf", "inline")
    return response


# --- Takings ---------------------------------------------------------------------------------


def _day(request: HttpRequest, actor: Actor) -> tuple[date, str]:
    """The day asked for (``?date=YYYY-MM-DD``), else the clinic's today; and what was wrong."""
    today = present.clinic_today(actor.clinic.time_zone)
    text = request.GET.get("date", "").strip()
    if not text:
        return today, ""
    try:
        return date.fromisoformat(text), ""
    except ValueError:
        return today, f"date: give a date, e.g. {today.isoformat()}"


@clinic_view(Perm.BILLING_READ)
def takings_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    day, error = _day(request, actor)
    found = services.day_takings(actor, day)
    desk = services.day_desk(actor, day)
    return render(
        request,
        "web/takings.html",
        {
            "day": day,
            "rows": [
                {"row": r, "method": reads.METHOD_WORDS.get(r.method, r.method)} for r in found.rows
            ],
            "totals": found.totals(),
            "invoices": desk.invoices,
            "not_invoiced": desk.not_invoiced,
            "error": error,
            "nav": "takings",
        },
        status=400 if error else 200,
    )


@clinic_view(Perm.BILLING_READ)
def takings_export(request: HttpRequest, actor: Actor) -> HttpResponse:
    day, _ = _day(request, actor)
    found = services.takings_csv(actor, day)
    return csv_response(found.name, found.columns, found.rows)
