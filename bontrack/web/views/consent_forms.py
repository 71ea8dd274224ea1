"""Consent forms: the clinic's versioned templates, signing one on screen (the signature pad;
a witness where the form asks for one), the signed PDF (its SHA-256 checked on every read), and
recording a withdrawal."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.charting.models import ConsentTemplate
from bontrack.charting.services import consent_forms as forms
from bontrack.core.csvfiles import content_disposition
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.patients import services as patients
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.views.patients import plan_choices


def local_path(value: str, default: str) -> str:
    """A page of this site to go back to (never another site's address)."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


@clinic_view(Perm.PLAN_WRITE, methods=("GET", "POST"))
def sign_form(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    """The form for one indication and product, with the catalog's risks, and the pad."""
    day = present.clinic_today(actor.clinic.time_zone)
    data = request.POST if request.method == "POST" else request.GET
    indication = data.get("indication", "") or "glabellar-lines"
    if indication not in catalog().indications:
        indication = "glabellar-lines"
    choices = plan_choices(indication, data.get("product", ""))
    product = choices["product"]
    template = forms.current_template(actor.membership.clinic_id, indication)
    error = ""
    if request.method == "POST":
        try:
            form = forms.sign_consent_form(
                actor,
                patient_id,
                template_id=data.get("template_id", ""),
                product=product,
                signer_name=data.get("signer_name", ""),
                signer_role=data.get("signer_role", "patient"),
                signature=data.get("signature", ""),
                witness_name=data.get("witness_name", ""),
                witness_signature=data.get("witness_signature", ""),
            )
            messages.success(
                request,
                f"Consent signed and stored as a PDF (SHA-256 {form.pdf_sha256[:12]}…): valid for "
                f"{present.indication_short(indication).lower()} until "
                f"{form.consent.expires_on:%-d %B %Y}.",
            )
            return HttpResponseRedirect(
                local_path(data.get("next", ""), f"/patients/{patient_id}/#consent-forms")
            )
        except ServiceError as service_error:
            if service_error.status in (403, 404):
                raise
            error = service_error.message
    patient = patients.read_patient(actor, patient_id)
    return render(
        request,
        "web/consent_sign.html",
        {
            **choices,
            "banner": present.patient_banner(patient, day, True),
            "patient": patient,
            "template": template,
            "risks": forms.consent_risks(indication, product),
            "indication_name": present.indication_name(indication),
            "product_name": present.product_name(product),
            "child": present.age_on(patient.birth_date, day) < forms.ADULT_AGE,
            "signer_name": data.get("signer_name") or f"{patient.given_name} {patient.family_name}",
            "error": error,
            "can_publish": actor.membership.can(Perm.FORMS_MANAGE),
            "next": data.get("next", ""),
            "nav": "patients",
        },
    )


@clinic_view(Perm.CHART_READ)
def form_pdf(request: HttpRequest, actor: Actor, form_id: UUID) -> HttpResponse:
    stored = forms.read_consent_pdf(actor, form_id)
    response = HttpResponse(stored.data, content_type="application/pdf")
    name = f"consent-{stored.form.signed_at:%Y-%m-%d}-{str(stored.form.id)[:8]}.pdf"
    response["Content-Disposition"] = content_disposition(name, "inline")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-SHA256"] = stored.form.pdf_sha256
    response["X-Content-Intact"] = "yes" if stored.intact else "NO: the stored file was altered"
    return response


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def withdraw(
    request: HttpRequest, actor: Actor, patient_id: UUID, consent_id: UUID
) -> HttpResponse:
    reason = request.POST.get("reason", "").strip()
    if len(reason) < 3:
        messages.error(request, "The withdrawal was not recorded: give its reason.")
    else:
        try:
            day = present.clinic_today(actor.clinic.time_zone)
            raw = request.POST.get("on", "")
            on = date.fromisoformat(raw) if raw else day
            patients.withdraw_consent(actor, consent_id, on=on, reason=reason)
            messages.success(
                request, "Withdrawal recorded: the consent stays on file, marked withdrawn."
            )
        except ValueError:
            messages.error(request, "The withdrawal was not recorded: give a date.")
        except ServiceError as error:
            if error.status in (403, 404):
                raise
            messages.error(request, f"The withdrawal was not recorded: {error.message}")
    return HttpResponseRedirect(f"/patients/{patient_id}/#consent-forms")


@clinic_view(Perm.CHART_READ, methods=("GET", "POST"))
def templates(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Every version of the clinic's consent forms; a new version (clinic admin, prescriber)."""
    cat = catalog()
    error = ""
    indication = request.GET.get("indication", "") or request.POST.get("indication", "")
    if request.method == "POST":
        try:
            published = forms.publish_template(
                actor,
                indication=indication,
                title=request.POST.get("title", ""),
                body=request.POST.get("body", ""),
                requires_witness=request.POST.get("requires_witness") == "on",
                valid_days=int(request.POST.get("valid_days") or 365),
            )
            messages.success(
                request,
                f"Version {published.version} of the "
                f"{present.indication_short(indication).lower()} form published: new signatures "
                "use it.",
            )
            return HttpResponseRedirect(
                local_path(request.POST.get("next", ""), f"/consent-forms/?indication={indication}")
            )
        except ValueError:
            error = "valid days: give a whole number"
        except ServiceError as service_error:
            if service_error.status in (403, 404):
                raise
            error = service_error.message
    rows = ConsentTemplate.objects.filter(clinic_id=actor.membership.clinic_id).select_related(
        "created_by__user"
    )
    if indication not in cat.indications:
        indication = "glabellar-lines"
    current = forms.current_template(actor.membership.clinic_id, indication)
    title, body = (current.title, current.body) if current else forms.standard_wording(indication)
    return render(
        request,
        "web/consent_templates.html",
        {
            "templates": [
                {"t": t, "indication": present.indication_short(t.indication)}
                for t in rows.order_by("indication", "-version")
            ],
            "indications": [(i.code, i.name) for i in cat.indications.values()],
            "indication": indication,
            "title": request.POST.get("title", title),
            "body": request.POST.get("body", body),
            "requires_witness": current.requires_witness if current else False,
            "valid_days": current.valid_days if current else 365,
            "can_publish": actor.membership.can(Perm.FORMS_MANAGE),
            "next": request.GET.get("next", ""),
            "error": error,
            "nav": "consent-forms",
        },
    )
