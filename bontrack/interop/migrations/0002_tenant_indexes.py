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
        ("patients", "0002_consent_withdrawal_appended"),
        ("security", "0003_decisions_are_declined"),
        ("treatments", "0006_session_technique_and_weight_used"),
    ]
    operations = [
        DropFieldIndexes(
            [
                migrations.AlterField(
                    model_name="exportjob",
                    name="client",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="interop.systemclient",
                    ),
                ),
                migrations.AlterField(
                    model_name="exportjob",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="exportjob",
                    name="membership",
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
                    model_name="exportjob",
                    index=models.Index(
                        fields=["clinic", "membership"], name="interop_exp_clinic__f6af0c_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="exportjob",
                    index=models.Index(
                        fields=["clinic", "client"], name="interop_exp_clinic__e1f756_idx"
                    ),
                ),
            ]
        ),
        ApplyTenantShape(),
    ]
