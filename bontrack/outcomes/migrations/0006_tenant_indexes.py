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
        migrations.RemoveConstraint(
            model_name="wearoffreport", name="one_wear_off_report_per_session"
        ),
        DropFieldIndexes(
            [
                migrations.AlterField(
                    model_name="adverseevent",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="adverseevent",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="adverse_events",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="adverseevent",
                    name="recorded_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="adverseevent",
                    name="session",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="adverse_events",
                        to="treatments.treatmentsession",
                    ),
                ),
                migrations.AlterField(
                    model_name="assessment",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="assessment",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assessments",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="assessment",
                    name="recorded_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="assessment",
                    name="session",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assessments",
                        to="treatments.treatmentsession",
                    ),
                ),
                migrations.AlterField(
                    model_name="continuedespiteverdict",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="continuedespiteverdict",
                    name="decided_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="continuedespiteverdict",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="verdict_decisions",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="wearoffreport",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="wearoffreport",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="wear_off_reports",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="wearoffreport",
                    name="recorded_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="wearoffreport",
                    name="session",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="wear_off_reports",
                        to="treatments.treatmentsession",
                    ),
                ),
            ]
        ),
        AddIndexes(
            [
                migrations.AddIndex(
                    model_name="adverseevent",
                    index=models.Index(
                        fields=["clinic", "patient"], name="outcomes_ad_clinic__8a9e12_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="adverseevent",
                    index=models.Index(
                        fields=["clinic", "session"], name="outcomes_ad_clinic__098101_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="adverseevent",
                    index=models.Index(
                        fields=["clinic", "recorded_by"], name="outcomes_ad_clinic__08bd57_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="assessment",
                    index=models.Index(
                        fields=["clinic", "session"], name="outcomes_as_clinic__16ec75_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="assessment",
                    index=models.Index(
                        fields=["clinic", "recorded_by"], name="outcomes_as_clinic__7a1119_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="continuedespiteverdict",
                    index=models.Index(
                        fields=["clinic", "decided_by"], name="outcomes_co_clinic__ff1de8_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="wearoffreport",
                    index=models.Index(
                        fields=["clinic", "recorded_by"], name="outcomes_we_clinic__fe751f_idx"
                    ),
                ),
            ]
        ),
        migrations.AddConstraint(
            model_name="wearoffreport",
            constraint=models.UniqueConstraint(
                fields=("clinic", "session"), name="one_wear_off_report_per_session"
            ),
        ),
        ApplyTenantShape(),
    ]
