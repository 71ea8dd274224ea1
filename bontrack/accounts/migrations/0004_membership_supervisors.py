"""A nurse injector's supervising prescribers become a list (DESIGN 3.4): each membership's single
supervisor, where it had one, is the first entry of its list."""

import django.db.models.deletion
from django.db import migrations, models


def copy_supervisor_to_list(apps, schema_editor):
    Membership = apps.get_model("accounts", "Membership")
    for member in Membership.objects.exclude(supervisor=None):
        member.supervisors.add(member.supervisor_id)


def copy_first_supervisor_back(apps, schema_editor):
    Membership = apps.get_model("accounts", "Membership")
    for member in Membership.objects.all():
        first = member.supervisors.order_by("created_at").first()
        if first is not None:
            member.supervisor = first
            member.save(update_fields=["supervisor"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_clinic_require_mfa_and_token_scopes"),
    ]

    operations = [
        # The single supervisor gives up its reverse name to the list before the list is added.
        migrations.AlterField(
            model_name="membership",
            name="supervisor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.membership",
            ),
        ),
        migrations.AddField(
            model_name="membership",
            name="supervisors",
            field=models.ManyToManyField(
                blank=True, related_name="supervisees", to="accounts.membership"
            ),
        ),
        migrations.RunPython(copy_supervisor_to_list, copy_first_supervisor_back),
        migrations.RemoveField(model_name="membership", name="supervisor"),
    ]
