"""Claims of medical sessions: the patient's coverage, the charge sets captured from signed
records, the claim items confirmed per claim and the catalog items confirmed once per clinic
(docs/billing.md, billing.md 7).

Every table here is appended to, never rewritten (DESIGN 3.4; ``audit/triggers.py``): a coverage
is corrected by a newer version that names the one it replaces; a session's charges are revised
by a newer charge set (an amendment, an entered-in-error, a vial another session of the patient
drew from too, a diagnosis chosen since) that names the set it replaces; a confirmation is a row
of its own.
"""

from __future__ import annotations

import uuid

from django.db import models

from bontrack.core.scoping import SavedInItsClinic


class Relationship(models.TextChoices):
    """The patient's relationship to the insured person (billing.md 7.7)."""

    SELF = "self", "self"
    SPOUSE = "spouse", "spouse"
    CHILD = "child", "child"
    OTHER = "other", "other"


class Coverage(SavedInItsClinic):
    """One version of a patient's insurance: who pays, the member id, and when it holds. The
    coverage on a date is the newest version, not replaced by another, valid that date
    (``bontrack/billing/coverage.py``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="coverages", db_index=False
    )
    payer_name = models.CharField(max_length=200)
    payer_id = models.CharField(max_length=80)
    member_id = models.CharField(max_length=80)
    relationship = models.CharField(max_length=8, choices=Relationship)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    recorded_at = models.DateTimeField()
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "valid_from"]),
            models.Index(fields=["clinic", "recorded_by"]),
        ]


class ChargeReason(models.TextChoices):
    """Why a charge set was captured."""

    SIGNED = "signed", "signed"
    AMENDED = "amended", "amended"
    # A voiding set: no lines, the claim is withdrawn.
    ENTERED_IN_ERROR = "entered-in-error", "entered-in-error"
    # Another session of the patient drew from one of this session's vials: the vial's discard
    # moves to the later session's claim (billing.md 7.2).
    VIAL_SHARED = "vial-shared", "vial-shared"
    # A diagnosis was chosen for the indication after a set refused the claim for want of one.
    DIAGNOSIS_CHOSEN = "diagnosis-chosen", "diagnosis-chosen"


class ChargeStatus(models.TextChoices):
    """``incomplete``: the charges could not be derived; ``why`` says what failed."""

    COMPLETE = "complete", "complete"
    INCOMPLETE = "incomplete", "incomplete"


class ChargeSet(SavedInItsClinic):
    """The charges a session's record supports, derived at signing and again after each
    correction (billing.md 7.1), numbered per session. ``charges`` is the domain's charge set as
    ``charge_set_json`` writes it (empty for an incomplete or a voiding set)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    session = models.ForeignKey(
        "treatments.TreatmentSession",
        on_delete=models.PROTECT,
        related_name="charge_sets",
        db_index=False,
    )
    sequence = models.PositiveIntegerField()
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    reason = models.CharField(max_length=20, choices=ChargeReason)
    status = models.CharField(max_length=12, choices=ChargeStatus)
    why = models.TextField(blank=True)
    charges = models.JSONField(default=dict, blank=True)
    date_of_service = models.DateField()
    rendering_provider = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    rendering_to_confirm = models.BooleanField(default=False)
    # Claim items the capture adds to the domain's own (a shared vial, an NDC typed at receiving):
    # [{"code", "message"}].
    claim_items = models.JSONField(default=list, blank=True)
    coverage = models.ForeignKey(
        Coverage, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    diagnosis = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "session", "sequence"], name="charge_set_sequence_per_session"
            )
        ]
        indexes = [
            models.Index(fields=["clinic", "date_of_service"]),
            models.Index(fields=["clinic", "patient"]),
            models.Index(fields=["clinic", "rendering_provider"]),
            models.Index(fields=["clinic", "coverage"]),
            models.Index(fields=["clinic", "created_by"]),
        ]


class ClaimConfirmation(SavedInItsClinic):
    """Someone with the billing permission confirmed one claim item of a charge set (billing.md
    7.8: a dose under one billing unit, the smallest-vial flag, a nurse's rendering provider...).
    Once per item and set."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    charge_set = models.ForeignKey(
        ChargeSet, on_delete=models.PROTECT, related_name="confirmations", db_index=False
    )
    item_code = models.CharField(max_length=40)
    confirmed_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "confirmed_by"])]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "charge_set", "item_code"], name="one_confirmation_per_claim_item"
            )
        ]


class CatalogConfirmation(SavedInItsClinic):
    """A clinic admin confirmed one catalog item for the whole clinic (billing.md 7.8, first
    kind: an [R]/[U] code, the bilateral modifier, whether the JW line repeats the NDC...).

    The item is named by its code and its message, which the domain derives from the catalog
    entry alone, so the pair identifies the entry. It holds for every claim while the billing
    catalog's version is ``catalog_version``: a new catalog version re-opens every item."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    item_code = models.CharField(max_length=40)
    message = models.TextField()
    catalog_version = models.CharField(max_length=20)
    confirmed_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    confirmed_at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "confirmed_by"])]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "catalog_version", "item_code", "message"],
                name="one_confirmation_per_catalog_item_and_version",
            )
        ]
