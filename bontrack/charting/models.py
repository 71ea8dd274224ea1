"""Clinical photos, consent form templates and signed forms, saved plans, appointments and the
reminders sent. Every row carries its clinic; rows are exposed by UUID only. The services in
``services/`` are the only writers.

Files (photos, thumbnails, signatures, signed PDFs) live in the ``clinical`` storage (Django's
storage API, local files under ``var/`` by default), never under a public URL: the pages serve
them through views that check access and write an audit entry.
"""

from __future__ import annotations

import uuid

from django.db import models

from bontrack.core.scoping import SavedInItsClinic

TIMEPOINTS = ("baseline", "before", "after", "follow-up")


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "booked"
    ARRIVED = "arrived", "arrived"
    COMPLETED = "completed", "completed"
    CANCELLED = "cancelled", "cancelled"
    NO_SHOW = "no-show", "no-show"


APPOINTMENT_STATUSES = tuple(AppointmentStatus.values)


class ReminderStatus(models.TextChoices):
    """What the mail server did with a reminder (``ReminderLog.status``)."""

    SENT = "sent", "sent"
    FAILED = "failed", "failed"


class Photo(SavedInItsClinic):
    """One clinical photograph: re-encoded from its pixels (no EXIF, no GPS), with a thumbnail."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="photos", db_index=False
    )
    indication = models.CharField(max_length=64)
    session = models.ForeignKey(
        "treatments.TreatmentSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="photos",
        db_index=False,
    )
    timepoint = models.CharField(max_length=16, choices=[(t, t) for t in TIMEPOINTS])
    view = models.CharField(max_length=64)  # a photo view code of the indication (catalog)
    taken_on = models.DateField()
    # Names in the clinical storage: random, never derived from the patient.
    file_name = models.CharField(max_length=200)
    thumbnail_name = models.CharField(max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    original_format = models.CharField(max_length=16)
    uploaded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "indication", "view", "taken_on"]),
            models.Index(fields=["clinic", "session"]),
            models.Index(fields=["clinic", "uploaded_by"]),
        ]


class ConsentTemplate(SavedInItsClinic):
    """A consent form's wording for one indication, one version. A new version is a new row; a
    published version never changes (the forms signed on it point at it)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    indication = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    requires_witness = models.BooleanField(default=False)
    valid_days = models.PositiveIntegerField(default=365)
    created_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "created_by"])]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "indication", "version"], name="one_consent_template_version"
            )
        ]


class SignedConsentForm(SavedInItsClinic):
    """A consent form signed on screen: the PDF (SHA-256 recorded), the risks it listed, and the
    consent record the consent rule checks at signing."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="consent_forms", db_index=False
    )
    template = models.ForeignKey(
        ConsentTemplate, on_delete=models.PROTECT, related_name="forms", db_index=False
    )
    consent = models.OneToOneField(
        "patients.Consent", on_delete=models.PROTECT, related_name="signed_form"
    )
    product = models.CharField(max_length=64)
    risks = models.JSONField(default=list)  # [{"code", "name", "source"}], as listed on the form
    catalog_version = models.CharField(max_length=16)
    signer_name = models.CharField(max_length=200)
    signer_role = models.CharField(max_length=16)  # patient, guardian
    witness_name = models.CharField(max_length=200, blank=True)
    pdf_name = models.CharField(max_length=200)
    pdf_sha256 = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient"]),
            models.Index(fields=["clinic", "template"]),
            models.Index(fields=["clinic", "recorded_by"]),
        ]


class SavedPlan(SavedInItsClinic):
    """A named pattern of points ("my glabellar 24 U") in one product's units: the clinic's
    (no owner) or one injector's. Using it creates an ordinary plan, checked like any other."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    owner = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="saved_plans",
        db_index=False,
    )
    name = models.CharField(max_length=100)
    product = models.CharField(max_length=64)
    indication = models.CharField(max_length=64)
    protocol = models.CharField(max_length=64, blank=True)
    points = models.JSONField()  # [{"site", "side", "units" (a decimal string), "route"}]
    created_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "owner"]),
            models.Index(fields=["clinic", "created_by"]),
        ]


class PlanOrigin(SavedInItsClinic):
    """Where a plan came from when it was not drawn from scratch: a saved plan, or the patient's
    last signed session of the indication with the same product (repeat last)."""

    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    session = models.OneToOneField(
        "treatments.TreatmentSession", on_delete=models.PROTECT, related_name="origin"
    )
    kind = models.CharField(
        max_length=16, choices=[("saved-plan", "saved-plan"), ("repeat-last", "repeat-last")]
    )
    saved_plan = models.ForeignKey(
        SavedPlan, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    source_session = models.ForeignKey(
        "treatments.TreatmentSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "saved_plan"]),
            models.Index(fields=["clinic", "source_session"]),
        ]


class Appointment(SavedInItsClinic):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    injector = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointments",
        db_index=False,
    )
    indication = models.CharField(max_length=64)
    starts_at = models.DateTimeField()
    minutes = models.PositiveIntegerField(default=30)
    status = models.CharField(
        max_length=16, choices=AppointmentStatus, default=AppointmentStatus.BOOKED
    )
    notes = models.TextField(blank=True)
    # The signed session whose due date proposed it, when it was booked from a proposal.
    proposed_by_session = models.ForeignKey(
        "treatments.TreatmentSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    booked_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "starts_at"]),
            models.Index(fields=["clinic", "patient", "indication"]),
            models.Index(fields=["clinic", "injector"]),
            models.Index(fields=["clinic", "proposed_by_session"]),
            models.Index(fields=["clinic", "booked_by"]),
        ]


class ReminderTemplate(SavedInItsClinic):
    """The clinic's reminder e-mail for one indication; without one, a standard wording."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    indication = models.CharField(max_length=64)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    updated_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "updated_by"])]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "indication"], name="one_reminder_template_per_indication"
            )
        ]


class ReminderLog(SavedInItsClinic):
    """One reminder sent (or refused by the mail server): who, to which address, when, and the
    due date it announced. Never changed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="reminders", db_index=False
    )
    indication = models.CharField(max_length=64)
    due_on = models.DateField(null=True)
    channel = models.CharField(max_length=16, default="email")
    address = models.CharField(max_length=254)
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=16)  # a ReminderStatus
    error = models.TextField(blank=True)
    sent_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    sent_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "indication", "sent_at"]),
            models.Index(fields=["clinic", "sent_by"]),
        ]
