"""B.30: a vial's used, wasted and remaining units are derived from its draws and its closing.

The stored figures (``units_used``, ``units_wasted``, ``discarded_at``) go; a vial discarded
before (by hand, or when the session that used it was signed) becomes an appended closing at that
time, its old figures kept in the closing's note."""

import uuid

import django.db.models.deletion
from django.db import migrations, models


def closings_from_discards(apps, schema_editor):
    Vial = apps.get_model("inventory", "Vial")
    VialClosing = apps.get_model("inventory", "VialClosing")
    SessionVial = apps.get_model("treatments", "SessionVial")
    drawn = set(
        SessionVial.objects.filter(session__signed_at__isnull=False).values_list(
            "vial_id", flat=True
        )
    )
    closings = []
    for vial in Vial.objects.filter(discarded_at__isnull=False).iterator():
        used = format(vial.units_used.normalize(), "f")
        wasted = format(vial.units_wasted.normalize(), "f")
        closings.append(
            VialClosing(
                id=uuid.uuid4(),
                clinic_id=vial.clinic_id,
                vial_id=vial.id,
                at=vial.discarded_at,
                by=None,
                wasted_by_hand=vial.id not in drawn,
                note=f"closed before draws were recorded: {used} U used, {wasted} U wasted",
            )
        )
    VialClosing.objects.bulk_create(closings, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_clinic_require_mfa_and_token_scopes"),
        ("inventory", "0002_vial_units_used_at_signing"),
        ("treatments", "0003_session_vial_draws_corrections_and_canon"),
    ]

    operations = [
        migrations.AddField(
            model_name="vial",
            name="from_stock",
            field=models.BooleanField(default=True),
        ),
        migrations.CreateModel(
            name="VialClosing",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("at", models.DateTimeField()),
                ("wasted_by_hand", models.BooleanField(default=False)),
                ("note", models.TextField(blank=True)),
                (
                    "by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                (
                    "clinic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                (
                    "vial",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="closing",
                        to="inventory.vial",
                    ),
                ),
            ],
        ),
        migrations.RunPython(closings_from_discards, migrations.RunPython.noop),
        migrations.RemoveField(model_name="vial", name="discarded_at"),
        migrations.RemoveField(model_name="vial", name="units_used"),
        migrations.RemoveField(model_name="vial", name="units_wasted"),
    ]
