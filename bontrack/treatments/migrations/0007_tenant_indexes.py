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
        ("inventory", "0005_tenant_indexes"),
        ("invoicing", "0001_price_list_invoices_payments_refunds"),
        ("outcomes", "0005_due_state"),
        ("patients", "0003_tenant_indexes"),
        ("security", "0003_decisions_are_declined"),
        ("treatments", "0006_session_technique_and_weight_used"),
    ]
    operations = [
        migrations.RemoveConstraint(model_name="sessionvial", name="vial_once_per_session"),
        DropFieldIndexes(
            [
                migrations.AlterField(
                    model_name="correctiondecision",
                    name="by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="correctiondecision",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="correctiondecision",
                    name="event",
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
                    model_name="correctionrequest",
                    name="by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="correctionrequest",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="correctionrequest",
                    name="session",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="correction_requests",
                        to="treatments.treatmentsession",
                    ),
                ),
                migrations.AlterField(
                    model_name="findingdecision",
                    name="by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="findingdecision",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="findingdecision",
                    name="session",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="decisions",
                        to="treatments.treatmentsession",
                    ),
                ),
                migrations.AlterField(
                    model_name="injection",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="injection",
                    name="session",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="injections",
                        to="treatments.treatmentsession",
                    ),
                ),
                migrations.AlterField(
                    model_name="injection",
                    name="vial",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="injections",
                        to="inventory.vial",
                    ),
                ),
                migrations.AlterField(
                    model_name="sessionevent",
                    name="by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="sessionevent",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="sessionevent",
                    name="session",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="events",
                        to="treatments.treatmentsession",
                    ),
                ),
                migrations.AlterField(
                    model_name="sessionvial",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="sessionvial",
                    name="session",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="session_vials",
                        to="treatments.treatmentsession",
                    ),
                ),
                migrations.AlterField(
                    model_name="sessionvial",
                    name="vial",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="session_uses",
                        to="inventory.vial",
                    ),
                ),
                migrations.AlterField(
                    model_name="treatmentsession",
                    name="clinic",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.clinic",
                    ),
                ),
                migrations.AlterField(
                    model_name="treatmentsession",
                    name="injector",
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
                    model_name="treatmentsession",
                    name="patient",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="sessions",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="treatmentsession",
                    name="planned_by",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="treatmentsession",
                    name="signed_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
            ]
        ),
        migrations.AlterField(
            model_name="treatmentsession",
            name="external_key",
            field=models.CharField(blank=True, max_length=64),
        ),
        AddIndexes(
            [
                migrations.AddIndex(
                    model_name="correctiondecision",
                    index=models.Index(
                        fields=["clinic", "by"], name="treatments__clinic__3eee61_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="correctiondecision",
                    index=models.Index(
                        fields=["clinic", "event"], name="treatments__clinic__e22c0f_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="correctionrequest",
                    index=models.Index(
                        fields=["clinic", "session"], name="treatments__clinic__f1db3f_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="correctionrequest",
                    index=models.Index(
                        fields=["clinic", "by"], name="treatments__clinic__2e77f3_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="findingdecision",
                    index=models.Index(
                        fields=["clinic", "session"], name="treatments__clinic__310fa1_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="findingdecision",
                    index=models.Index(
                        fields=["clinic", "by"], name="treatments__clinic__6f46e6_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="injection",
                    index=models.Index(
                        fields=["clinic", "session"], name="treatments__clinic__dff3f5_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="injection",
                    index=models.Index(
                        fields=["clinic", "vial"], name="treatments__clinic__75f43b_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="sessionevent",
                    index=models.Index(
                        fields=["clinic", "session"], name="treatments__clinic__5af20a_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="sessionevent",
                    index=models.Index(
                        fields=["clinic", "by"], name="treatments__clinic__8a98a6_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="sessionvial",
                    index=models.Index(
                        fields=["clinic", "vial"], name="treatments__clinic__59e773_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="treatmentsession",
                    index=models.Index(
                        fields=["clinic", "planned_by"], name="treatments__clinic__eb6ee6_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="treatmentsession",
                    index=models.Index(
                        fields=["clinic", "injector"], name="treatments__clinic__faf493_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="treatmentsession",
                    index=models.Index(
                        fields=["clinic", "signed_by"], name="treatments__clinic__1881db_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="treatmentsession",
                    index=models.Index(
                        fields=["clinic", "external_key"], name="treatments__clinic__a6d2f7_idx"
                    ),
                ),
            ]
        ),
        migrations.AddConstraint(
            model_name="sessionvial",
            constraint=models.UniqueConstraint(
                fields=("clinic", "session", "vial"), name="vial_once_per_session"
            ),
        ),
        ApplyTenantShape(),
    ]
