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
                    model_name="appointment",
                    name="booked_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="appointment",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="appointment",
                    name="injector",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="appointments",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="appointment",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="appointments",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="appointment",
                    name="proposed_by_session",
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
                    model_name="consenttemplate",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="consenttemplate",
                    name="created_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="photo",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="photo",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="photos",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="photo",
                    name="session",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="photos",
                        to="treatments.treatmentsession",
                    ),
                ),
                migrations.AlterField(
                    model_name="photo",
                    name="uploaded_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="planorigin",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="planorigin",
                    name="saved_plan",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="charting.savedplan",
                    ),
                ),
                migrations.AlterField(
                    model_name="planorigin",
                    name="source_session",
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
                    model_name="reminderlog",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="reminderlog",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reminders",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="reminderlog",
                    name="sent_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="remindertemplate",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="remindertemplate",
                    name="updated_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="savedplan",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="savedplan",
                    name="created_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="savedplan",
                    name="owner",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="saved_plans",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="signedconsentform",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="signedconsentform",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="consent_forms",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="signedconsentform",
                    name="recorded_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="signedconsentform",
                    name="template",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="forms",
                        to="charting.consenttemplate",
                    ),
                ),
            ]
        ),
        AddIndexes(
            [
                migrations.AddIndex(
                    model_name="appointment",
                    index=models.Index(
                        fields=["clinic", "injector"], name="charting_ap_clinic__ac605f_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="appointment",
                    index=models.Index(
                        fields=["clinic", "proposed_by_session"],
                        name="charting_ap_clinic__e67e8b_idx",
                    ),
                ),
                migrations.AddIndex(
                    model_name="appointment",
                    index=models.Index(
                        fields=["clinic", "booked_by"], name="charting_ap_clinic__c85716_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="consenttemplate",
                    index=models.Index(
                        fields=["clinic", "created_by"], name="charting_co_clinic__80c385_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="photo",
                    index=models.Index(
                        fields=["clinic", "session"], name="charting_ph_clinic__0b6c76_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="photo",
                    index=models.Index(
                        fields=["clinic", "uploaded_by"], name="charting_ph_clinic__f872f1_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="planorigin",
                    index=models.Index(
                        fields=["clinic", "saved_plan"], name="charting_pl_clinic__f8fe07_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="planorigin",
                    index=models.Index(
                        fields=["clinic", "source_session"], name="charting_pl_clinic__3afc6b_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="reminderlog",
                    index=models.Index(
                        fields=["clinic", "sent_by"], name="charting_re_clinic__bc3629_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="remindertemplate",
                    index=models.Index(
                        fields=["clinic", "updated_by"], name="charting_re_clinic__ddafb7_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="savedplan",
                    index=models.Index(
                        fields=["clinic", "owner"], name="charting_sa_clinic__49aea8_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="savedplan",
                    index=models.Index(
                        fields=["clinic", "created_by"], name="charting_sa_clinic__3eab0c_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="signedconsentform",
                    index=models.Index(
                        fields=["clinic", "patient"], name="charting_si_clinic__9db96a_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="signedconsentform",
                    index=models.Index(
                        fields=["clinic", "template"], name="charting_si_clinic__4a5fc7_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="signedconsentform",
                    index=models.Index(
                        fields=["clinic", "recorded_by"], name="charting_si_clinic__e617d3_idx"
                    ),
                ),
            ]
        ),
        ApplyTenantShape(),
    ]
