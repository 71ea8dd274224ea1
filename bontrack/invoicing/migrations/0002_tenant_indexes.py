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
        DropFieldIndexes(
            [
                migrations.AlterField(
                    model_name="invoice",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="invoice",
                    name="issued_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="invoice",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="payment",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="payment",
                    name="invoice",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payments",
                        to="invoicing.invoice",
                    ),
                ),
                migrations.AlterField(
                    model_name="payment",
                    name="recorded_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="priceentry",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="priceentry",
                    name="recorded_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="priceentry",
                    name="replaces",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="invoicing.priceentry",
                    ),
                ),
                migrations.AlterField(
                    model_name="refund",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="refund",
                    name="invoice",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="refunds",
                        to="invoicing.invoice",
                    ),
                ),
                migrations.AlterField(
                    model_name="refund",
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
                    model_name="invoice",
                    index=models.Index(
                        fields=["clinic", "patient"], name="invoicing_i_clinic__2b9ea5_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="invoice",
                    index=models.Index(
                        fields=["clinic", "issued_by"], name="invoicing_i_clinic__5696da_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="payment",
                    index=models.Index(
                        fields=["clinic", "invoice"], name="invoicing_p_clinic__ed9211_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="payment",
                    index=models.Index(
                        fields=["clinic", "recorded_by"], name="invoicing_p_clinic__1a3208_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="priceentry",
                    index=models.Index(
                        fields=["clinic", "recorded_by"], name="invoicing_p_clinic__608674_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="priceentry",
                    index=models.Index(
                        fields=["clinic", "replaces"], name="invoicing_p_clinic__ac996a_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="refund",
                    index=models.Index(
                        fields=["clinic", "invoice"], name="invoicing_r_clinic__d97427_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="refund",
                    index=models.Index(
                        fields=["clinic", "recorded_by"], name="invoicing_r_clinic__785ae1_idx"
                    ),
                ),
            ]
        ),
        ApplyTenantShape(),
    ]
