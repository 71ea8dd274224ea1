"""A clinic's opening hours (appointments outside them need confirming; the proposed next visit
falls within them) and the address and number patients reach it at (reminders)."""

import bontrack.accounts.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_membership_supervisors'),
    ]

    operations = [
        migrations.AddField(
            model_name='clinic',
            name='contact_email',
            field=models.EmailField(blank=True, max_length=254),
        ),
        migrations.AddField(
            model_name='clinic',
            name='contact_phone',
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name='clinic',
            name='opening_hours',
            field=models.JSONField(default=bontrack.accounts.models.default_opening_hours),
        ),
    ]
