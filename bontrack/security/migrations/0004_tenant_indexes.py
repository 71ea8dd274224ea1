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
        ("treatments", "0006_session_technique_and_weight_used"),
    ]
    operations = [
        DropFieldIndexes(
            [
                migrations.AlterField(
                    model_name="amendmentdecision",
                    name="amendment",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="treatments.sessionevent",
                    ),
                ),
                migrations.AlterField(
                    model_name="amendmentdecision",
                    name="by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="amendmentdecision",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="amendmentrequest",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="amendmentrequest",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="amendment_requests",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="amendmentrequest",
                    name="recorded_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="amendmentrequest",
                    name="session",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="treatments.treatmentsession",
                    ),
                ),
                migrations.AlterField(
                    model_name="breakglassaccess",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="breakglassaccess",
                    name="membership",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="breakglassaccess",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
            ]
        ),
        AddIndexes(
            [
                migrations.AddIndex(
                    model_name="amendmentdecision",
                    index=models.Index(
                        fields=["clinic", "amendment"], name="security_am_clinic__6e15b9_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="amendmentdecision",
                    index=models.Index(
                        fields=["clinic", "by"], name="security_am_clinic__c12095_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="amendmentrequest",
                    index=models.Index(
                        fields=["clinic", "patient"], name="security_am_clinic__bfac63_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="amendmentrequest",
                    index=models.Index(
                        fields=["clinic", "session"], name="security_am_clinic__a783f3_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="amendmentrequest",
                    index=models.Index(
                        fields=["clinic", "recorded_by"], name="security_am_clinic__c55ea5_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="breakglassaccess",
                    index=models.Index(
                        fields=["clinic", "patient"], name="security_br_clinic__da8239_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="breakglassaccess",
                    index=models.Index(
                        fields=["clinic", "membership"], name="security_br_clinic__3ff9e7_idx"
                    ),
                ),
            ]
        ),
        ApplyTenantShape(),
    ]
