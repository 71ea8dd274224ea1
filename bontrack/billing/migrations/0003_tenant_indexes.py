"""Indexes lead with the clinic: foreign-key indexes become (clinic_id, x_id), lone ones go, and
unique keys include the clinic; then every tenant table takes the keys Citus needs
(``ApplyTenantShape``, DESIGN 3.6). It depends on every app's migrations before it, so that on a
new database no earlier migration creates a single-column foreign key to a tenant table after
the tenant tables' primary keys became (clinic_id, id)."""

import django.db.models.deletion
from django.db import migrations, models
from bontrack.core.field_indexes import AddIndexes, DropFieldIndexes
from bontrack.core.tenant_shape import ApplyTenantShape


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_membership_npi"),
        ("audit", "0002_keyed_entries"),
        ("billing", "0002_catalog_confirmation"),
        ("charting", "0002_reminder_templates_django_syntax"),
        ("interop", "0001_system_clients_and_bulk_exports"),
        ("inventory", "0004_lot_ndc"),
        ("invoicing", "0001_price_list_invoices_payments_refunds"),
        ("outcomes", "0005_due_state"),
        ("patients", "0003_tenant_indexes"),
        ("security", "0003_decisions_are_declined"),
        ("treatments", "0007_tenant_indexes"),
    ]
    operations = [
        migrations.RemoveConstraint(model_name="chargeset", name="charge_set_sequence_per_session"),
        migrations.RemoveConstraint(
            model_name="claimconfirmation", name="one_confirmation_per_claim_item"
        ),
        DropFieldIndexes(
            [
                migrations.AlterField(
                    model_name="catalogconfirmation",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="catalogconfirmation",
                    name="confirmed_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="chargeset",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="chargeset",
                    name="coverage",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="billing.coverage",
                    ),
                ),
                migrations.AlterField(
                    model_name="chargeset",
                    name="created_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="chargeset",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="chargeset",
                    name="rendering_provider",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="chargeset",
                    name="session",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="charge_sets",
                        to="treatments.treatmentsession",
                    ),
                ),
                migrations.AlterField(
                    model_name="claimconfirmation",
                    name="charge_set",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="confirmations",
                        to="billing.chargeset",
                    ),
                ),
                migrations.AlterField(
                    model_name="claimconfirmation",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="claimconfirmation",
                    name="confirmed_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="coverage",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="coverage",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="coverages",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="coverage",
                    name="recorded_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
            ]
        ),
        AddIndexes(
            [
                migrations.AddIndex(
                    model_name="catalogconfirmation",
                    index=models.Index(
                        fields=["clinic", "confirmed_by"], name="billing_cat_clinic__950e4b_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="chargeset",
                    index=models.Index(
                        fields=["clinic", "patient"], name="billing_cha_clinic__4243f1_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="chargeset",
                    index=models.Index(
                        fields=["clinic", "rendering_provider"],
                        name="billing_cha_clinic__2e50cd_idx",
                    ),
                ),
                migrations.AddIndex(
                    model_name="chargeset",
                    index=models.Index(
                        fields=["clinic", "coverage"], name="billing_cha_clinic__7363bb_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="chargeset",
                    index=models.Index(
                        fields=["clinic", "created_by"], name="billing_cha_clinic__77f7a1_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="claimconfirmation",
                    index=models.Index(
                        fields=["clinic", "confirmed_by"], name="billing_cla_clinic__5cf6c8_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="coverage",
                    index=models.Index(
                        fields=["clinic", "recorded_by"], name="billing_cov_clinic__905f43_idx"
                    ),
                ),
            ]
        ),
        migrations.AddConstraint(
            model_name="chargeset",
            constraint=models.UniqueConstraint(
                fields=("clinic", "session", "sequence"), name="charge_set_sequence_per_session"
            ),
        ),
        migrations.AddConstraint(
            model_name="claimconfirmation",
            constraint=models.UniqueConstraint(
                fields=("clinic", "charge_set", "item_code"), name="one_confirmation_per_claim_item"
            ),
        ),
        ApplyTenantShape(),
    ]
