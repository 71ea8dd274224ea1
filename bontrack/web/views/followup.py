"""Follow-up from the patient and session pages: record a result on a scale, the day a session's
effect wore off, and a headache diary (CSV, with a dry run). Each form calls a service; the
service's refusal comes back as a message naming the field."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from bontrack.access import PATIENT, SESSION, access
from bontrack.accounts.permissions import Perm
from bontrack.audit.services import Actor
from bontrack.core.errors import ServiceError
from bontrack.domain.catalog import catalog
from bontrack.outcomes import decisions
from bontrack.outcomes import services as followup
from bontrack.outcomes.diary import MAX_BYTES
from bontrack.outcomes.models import WearOffReport
from bontrack.patients import services as patients
from bontrack.treatments.models import TreatmentSession
from bontrack.treatments.records import counts_toward_limits, status_of
from bontrack.web import present
from bontrack.web.access import clinic_view
from bontrack.web.forms import AssessmentForm, DiaryForm, WearOffForm, first_error
from bontrack.web.outcomes import value_field
from bontrack.web.patient_page import patient_page_context


def _refused(request: HttpRequest, what: str, error: ServiceError) -> None:
    if error.status in (403, 404):
        raise error
    field = f"{error.field.replace('_', ' ')}: " if error.field else ""
    messages.error(request, f"{what} was not recorded: {field}{error.message}")


def _value(scale_code: str, text: str) -> Decimal | str:
    """A numeric scale's value as an exact Decimal, an ordinal scale's as its level's name."""
    scale = catalog().scales.get(scale_code)
    text = text.strip()
    if scale is None or scale.kind == "ordinal":
        return text
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ServiceError("value", f"give a number, not {text!r}") from None
    if not number.is_finite():
        raise ServiceError("value", "give a number")
    return number


# Where a refusal of the result form is shown: beside the field it names. The period's two ends
# share one message; a refusal naming no field of the form (the indication) heads the form.
RESULT_FIELDS = {
    "scale": "scale",
    "timepoint": "timepoint",
    "assessed_on": "assessed_on",
    "period_start": "period",
    "period_end": "period",
    "period": "period",
    "value": "value",
    "muscle_group": "muscle_group",
    "session_id": "session_id",
}
RESULT_VALUES = (
    "scale",
    "timepoint",
    "assessed_on",
    "period_start",
    "period_end",
    "value",
    "muscle_group",
    "session_id",
)


def _result_refused(
    request: HttpRequest, actor: Actor, patient_id: UUID, errors: dict[str, str]
) -> HttpResponse:
    """The patient page again with the result form open where it was: what was typed kept, each
    problem beside its field (not at the top of the page, where it is missed)."""
    context = patient_page_context(actor, patient_id)
    indication = request.POST.get("indication", "")
    section = next((s for s in context.get("outcomes", ()) if s["code"] == indication), None)
    if section is None:  # no such form on the page: say it where messages are said
        messages.error(request, f"The result was not recorded: {' '.join(errors.values())}")
        return HttpResponseRedirect(f"/patients/{patient_id}/")
    values = {name: request.POST.get(name, "")[:100] for name in RESULT_VALUES}
    slots: dict[str, str] = {}
    for field, message in errors.items():
        slot = RESULT_FIELDS.get(field, "form")
        slots[slot] = f"{slots[slot]} {message}" if slot in slots else message
    offered = [code for code, _ in section["scales"]]
    scale = values["scale"] if values["scale"] in offered else (offered[0] if offered else "")
    field = value_field(scale, indication)
    field.update(
        value=values["value"],
        muscle_group=values["muscle_group"],
        error=slots.get("value", ""),
        muscle_error=slots.get("muscle_group", ""),
    )
    section["value_field"] = field
    section["record"] = {"values": values, "errors": slots}
    return render(request, "web/patient.html", context, status=422)


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def record_assessment(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    access(actor, PATIENT, patient_id, Perm.PLAN_WRITE)  # another clinic's id: 404 before all
    form = AssessmentForm(request.POST)
    indication = request.POST.get("indication", "")
    if not form.is_valid():
        return _result_refused(
            request,
            actor,
            patient_id,
            {field: str(errors[0]) for field, errors in form.errors.items()},
        )
    data = form.cleaned_data
    period = (data["period_start"], data["period_end"]) if data["period_start"] else None
    try:
        followup.record_assessment(
            actor,
            patient_id,
            indication=data["indication"],
            scale=data["scale"],
            value=_value(data["scale"], data["value"]),
            timepoint=data["timepoint"],
            assessed_on=data["assessed_on"],
            period=period,
            session_id=data["session_id"],
            muscle_group=data["muscle_group"],
        )
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        return _result_refused(request, actor, patient_id, {error.field or "": error.message})
    scale = catalog().scales[data["scale"]]
    messages.success(request, f"{scale.name}: {data['value'].strip()} recorded.")
    return HttpResponseRedirect(f"/patients/{patient_id}/#outcomes-{indication}")


@clinic_view(Perm.OVERRIDE, methods=("POST",))
def continue_despite(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    """A prescriber's "continue despite this verdict", with its reason (B.32)."""
    access(actor, PATIENT, patient_id, Perm.OVERRIDE)  # another clinic's id: 404 before all
    indication = request.POST.get("indication", "")[:64]
    back = HttpResponseRedirect(f"/patients/{patient_id}/#outcomes-{indication}")
    try:
        decisions.continue_despite(
            actor,
            patient_id,
            indication=indication,
            scale=request.POST.get("scale", "")[:64],
            muscle_group=request.POST.get("muscle_group", "")[:100],
            reason=request.POST.get("reason", ""),
        )
        messages.success(
            request,
            "Recorded: treatment continues despite this verdict until a newer follow-up "
            "changes it.",
        )
    except ServiceError as error:
        _refused(request, "The decision", error)
    return back


@clinic_view(Perm.PLAN_WRITE)
def value_input(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The value field of the result form for the scale chosen (htmx swaps it in)."""
    prefix = request.GET.get("prefix", "")[:64]
    return render(
        request,
        "web/partials/value_field.html",
        {"field": value_field(request.GET.get("scale", ""), prefix)},
    )


@clinic_view(Perm.PLAN_WRITE, methods=("POST",))
def wear_off(request: HttpRequest, actor: Actor, session_id: UUID) -> HttpResponse:
    access(actor, SESSION, session_id, Perm.PLAN_WRITE)  # another clinic's id: 404 before all
    form = WearOffForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The wear-off was not recorded: {first_error(form)}")
    else:
        try:
            report = followup.record_wear_off(actor, session_id, **form.cleaned_data)
            days = (report.wore_off_on - report.session.plan_date).days
            messages.success(
                request, f"Recorded: the effect wore off {days} days after the session."
            )
        except ServiceError as error:
            _refused(request, "The wear-off", error)
    return HttpResponseRedirect(f"/sessions/{session_id}/#wear-off")


@clinic_view(Perm.PLAN_WRITE, methods=("GET", "POST"))
def diary(request: HttpRequest, actor: Actor, patient_id: UUID) -> HttpResponse:
    """Upload a headache diary: a dry run shows what would be stored and the bad rows by line,
    column and reason; an import stores the counts (importing twice adds nothing)."""
    patient = patients.read_patient(actor, patient_id)
    day = present.clinic_today(actor.clinic.time_zone)
    context: dict[str, Any] = {
        "banner": present.patient_banner(patient, day, True),
        "patient": patient,
        "nav": "patients",
        "max_bytes": MAX_BYTES,
    }
    if request.method == "POST":
        form = DiaryForm(request.POST, request.FILES)
        if not form.is_valid():
            context["error"] = first_error(form)
        elif form.cleaned_data["file"].size > MAX_BYTES:
            context["error"] = f"file: is larger than {MAX_BYTES:,} bytes"
        else:
            upload = form.cleaned_data["file"]
            dry_run = form.cleaned_data["mode"] == "dry-run"
            try:
                result = followup.import_diary(
                    actor, patient_id, upload.read(MAX_BYTES + 1), dry_run=dry_run
                )
                context.update(result=result, file_name=upload.name)
            except ServiceError as error:
                if error.status in (403, 404):
                    raise
                context["error"] = error.message
    return render(request, "web/diary.html", context)


def wear_off_context(actor: Actor, session: TreatmentSession) -> dict[str, Any]:
    """What the signed session's page shows of its wear-off: the report, or the form to record
    it (a signed session that counts, for those who plan and sign)."""
    report = WearOffReport.objects.filter(clinic_id=session.clinic_id, session=session).first()
    counting = session.is_signed and counts_toward_limits(status_of(session))
    return {
        "wear_off": report,
        "wear_off_days": (report.wore_off_on - session.plan_date).days if report else None,
        "wear_off_shown": counting or report is not None,
        "can_report_wear_off": counting
        and report is None
        and actor.membership.can(Perm.PLAN_WRITE),
        "today": present.clinic_today(actor.clinic.time_zone),
    }
