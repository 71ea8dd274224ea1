"""Follow-up: adverse events (linked to the session that may have caused them), outcome
assessments on the catalog's scales, and the patient's wear-off reports."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.db import models

from bontrack.core.scoping import SavedInItsClinic

SEVERITIES = ("mild", "moderate", "severe", "life-threatening")
RELATEDNESS = ("unrelated", "unlikely", "possible", "probable", "certain")
OUTCOMES = (
    "recovered",
    "recovering",
    "not-recovered",
    "recovered-with-sequelae",
    "fatal",
    "unknown",
)


class AdverseEvent(SavedInItsClinic):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="adverse_events", db_index=False
    )
    session = models.ForeignKey(
        "treatments.TreatmentSession",
        on_delete=models.PROTECT,
        related_name="adverse_events",
        db_index=False,
    )
    term = models.CharField(max_length=64)
    onset_date = models.DateField()
    severity = models.CharField(max_length=20, choices=[(s, s) for s in SEVERITIES])
    serious = models.BooleanField(default=False)
    relatedness = models.CharField(max_length=20, choices=[(r, r) for r in RELATEDNESS])
    outcome = models.CharField(max_length=30, choices=[(o, o) for o in OUTCOMES])
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    recorded_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient"]),
            models.Index(fields=["clinic", "session"]),
            models.Index(fields=["clinic", "recorded_by"]),
        ]


# When in the treatment course a result was measured (DESIGN 3.8: baseline and follow-ups).
TIMEPOINTS = ("baseline", "peak-effect", "before-reinjection", "follow-up")
# Who entered it: a clinician, or the import of a headache diary (which upserts by period).
ASSESSMENT_SOURCES = ("clinician", "diary")


class CurrentReadings(models.Manager["Assessment"]):
    """The readings that count: a reading superseded by a newer one of the same period (a diary
    imported again) stays stored and readable through ``Assessment.readings``, never here."""

    def get_queryset(self) -> models.QuerySet[Assessment]:
        return super().get_queryset().filter(superseded_by__isnull=True)


class Assessment(SavedInItsClinic):
    """One result on an outcome scale (codes.md), stored exactly: a Decimal for a numeric scale,
    the level's name for an ordinal one. Measured on a day (``assessed_on``) or over a period
    (``period_start`` to ``period_end``, e.g. a 28-day headache diary).

    Imported again, a period gets a newer reading (``revision`` + 1) that ``supersedes`` the
    earlier one, which is never rewritten (DESIGN 3.4); the default manager reads the newest."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="assessments", db_index=False
    )
    indication = models.CharField(max_length=64)
    scale = models.CharField(max_length=64)
    value_number = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    value_level = models.CharField(max_length=32, blank=True)
    timepoint = models.CharField(max_length=20, choices=[(t, t) for t in TIMEPOINTS])
    session = models.ForeignKey(
        "treatments.TreatmentSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assessments",
        db_index=False,
    )
    assessed_on = models.DateField(null=True, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    muscle_group = models.CharField(max_length=100, blank=True)
    source = models.CharField(
        max_length=10, choices=[(s, s) for s in ASSESSMENT_SOURCES], default="clinician"
    )
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    recorded_at = models.DateTimeField()
    revision = models.PositiveIntegerField(default=1)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )

    objects = CurrentReadings()
    readings = models.Manager()  # every reading, superseded ones too

    class Meta:
        base_manager_name = "readings"
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(value_number__isnull=False, value_level="")
                    | (models.Q(value_number__isnull=True) & ~models.Q(value_level=""))
                ),
                name="assessment_one_value",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(
                        assessed_on__isnull=False,
                        period_start__isnull=True,
                        period_end__isnull=True,
                    )
                    | models.Q(
                        assessed_on__isnull=True,
                        period_start__isnull=False,
                        period_end__isnull=False,
                    )
                ),
                name="assessment_a_day_or_a_period",
            ),
            models.UniqueConstraint(
                fields=[
                    "clinic",
                    "patient",
                    "indication",
                    "scale",
                    "muscle_group",
                    "period_start",
                    "period_end",
                    "revision",
                ],
                condition=models.Q(period_start__isnull=False),
                name="assessment_one_reading_per_period_and_revision",
            ),
            models.UniqueConstraint(
                fields=[
                    "clinic",
                    "patient",
                    "indication",
                    "scale",
                    "muscle_group",
                    "assessed_on",
                    "revision",
                ],
                condition=models.Q(assessed_on__isnull=False),
                name="assessment_one_reading_per_day_and_revision",
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "patient", "indication", "scale"]),
            models.Index(fields=["clinic", "session"]),
            models.Index(fields=["clinic", "recorded_by"]),
        ]

    @property
    def value(self) -> Decimal | str:
        return self.value_level if self.value_number is None else self.value_number

    @property
    def start(self) -> date:
        day = self.period_start or self.assessed_on
        assert day is not None
        return day

    @property
    def end(self) -> date:
        day = self.period_end or self.assessed_on
        assert day is not None
        return day


class WearOffReport(SavedInItsClinic):
    """The patient's report of the day a session's effect wore off (the due list reads them)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="wear_off_reports",
        db_index=False,
    )
    session = models.ForeignKey(
        "treatments.TreatmentSession",
        on_delete=models.PROTECT,
        related_name="wear_off_reports",
        db_index=False,
    )
    reported_on = models.DateField()
    wore_off_on = models.DateField()
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "session"], name="one_wear_off_report_per_session"
            ),
            models.CheckConstraint(
                condition=models.Q(wore_off_on__lte=models.F("reported_on")),
                name="wear_off_reported_after_it_happened",
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "patient"]),
            models.Index(fields=["clinic", "recorded_by"]),
        ]


class ContinueDespiteVerdict(SavedInItsClinic):
    """A prescriber's "continue despite this verdict" (B.32), appended, never changed: the
    series' stop or non-responder verdict, as it stood when decided (``verdict``, ``as_of``,
    ``summary``), and the written reason. It stands until a newer follow-up changes the verdict;
    while it stands the series neither warns on the next plan nor keeps the patient off the due
    list and the reminders."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="verdict_decisions",
        db_index=False,
    )
    indication = models.CharField(max_length=64)
    scale = models.CharField(max_length=64)
    muscle_group = models.CharField(max_length=100, blank=True)
    verdict = models.CharField(max_length=20)
    as_of = models.DateField()
    summary = models.CharField(max_length=200, blank=True)
    reason = models.TextField()
    decided_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    decided_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "indication"]),
            models.Index(fields=["clinic", "decided_by"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(reason=""), name="continue_despite_verdict_has_a_reason"
            )
        ]


class DueState(SavedInItsClinic):
    """When a patient is due for one indication, and whether a stop or non-responder verdict
    holds them apart (B.32): derived from the signed sessions, wear-off reports, assessments and
    "continue despite this verdict" decisions by ``outcomes.due_state``, rewritten for the
    patient in every transaction that changes one of those, and rebuilt whole by the
    ``rebuild_due`` command. The due list reads it by clinic and due date, so its cost follows the
    rows it lists, not the clinic's or the database's size. Never edited by hand."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    indication = models.CharField(max_length=64)
    product = models.CharField(max_length=64)
    # The latest counting session of the indication (signed, not entered in error).
    last_session = models.ForeignKey(
        "treatments.TreatmentSession", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    last_session_on = models.DateField()
    injector = models.ForeignKey(
        "accounts.Membership",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # The domain's ``Due`` (bontrack.domain.due), field for field; the interval is the catalog's.
    due_on = models.DateField(null=True, blank=True)
    basis = models.CharField(max_length=10)
    earliest = models.DateField(null=True, blank=True)
    wear_off_on = models.DateField(null=True, blank=True)
    wear_off_median_days = models.IntegerField(null=True, blank=True)
    wear_off_reports = models.IntegerField(default=0)
    # Why the patient is held apart ("stop recommended (NICE TA260)"); "" when not held.
    held_because = models.CharField(max_length=300, blank=True)
    catalog_version = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "patient", "indication"], name="due_state_one_per_indication"
            )
        ]
        indexes = [
            models.Index(fields=["clinic", "due_on"], name="due_state_clinic_due_on"),
            models.Index(fields=["clinic", "last_session"], name="due_state_clinic_session"),
            models.Index(fields=["clinic", "injector"], name="due_state_clinic_injector"),
        ]
