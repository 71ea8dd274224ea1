"""A consent's withdrawal becomes a row of its own (DESIGN 3.4: append-only); the withdrawals
recorded on the consent rows so far are carried over before those columns go."""

import uuid

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def carry_withdrawals_over(apps, schema_editor):
    Consent = apps.get_model("patients", "Consent")
    ConsentWithdrawal = apps.get_model("patients", "ConsentWithdrawal")
    now = timezone.now()
    ConsentWithdrawal.objects.bulk_create(
        ConsentWithdrawal(
            clinic_id=consent.clinic_id,
            consent_id=consent.id,
            on=consent.withdrawn_on,
            reason=consent.withdrawn_reason,
            recorded_by_id=consent.recorded_by_id,
            recorded_at=now,
        )
        for consent in Consent.objects.filter(withdrawn_on__isnull=False).iterator()
    )


def put_withdrawals_back(apps, schema_editor):
    Consent = apps.get_model("patients", "Consent")
    ConsentWithdrawal = apps.get_model("patients", "ConsentWithdrawal")
    for withdrawal in ConsentWithdrawal.objects.iterator():
        Consent.objects.filter(id=withdrawal.consent_id).update(
            withdrawn_on=withdrawal.on, withdrawn_reason=withdrawal.reason
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_membership_supervisors"),
        ("patients", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConsentWithdrawal",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("on", models.DateField()),
                ("reason", models.TextField(blank=True)),
                ("recorded_at", models.DateTimeField()),
                (
                    "clinic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                (
                    "consent",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="withdrawal",
                        to="patients.consent",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
            ],
        ),
        migrations.RunPython(carry_withdrawals_over, put_withdrawals_back),
        migrations.RemoveField(model_name="consent", name="withdrawn_on"),
        migrations.RemoveField(model_name="consent", name="withdrawn_reason"),
    ]
