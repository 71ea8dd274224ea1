"""Encrypts the TOTP secrets and recovery-code seeds stored in clear before the MFA adapter
encrypted them (security/credentials.py); values already encrypted are left as they are. Going
back leaves them encrypted: the adapter, not this migration, reads them."""

from django.db import migrations

from bontrack.security.credentials import SECRET_FIELDS, sealed


def encrypt_stored_secrets(apps, schema_editor):
    Authenticator = apps.get_model("mfa", "Authenticator")
    stored = Authenticator.objects.using(schema_editor.connection.alias)
    for pk, kind, data in list(
        stored.filter(type__in=list(SECRET_FIELDS)).values_list("pk", "type", "data")
    ):
        encrypted = sealed(kind, data)
        if encrypted != data:
            stored.filter(pk=pk).update(data=encrypted)


class Migration(migrations.Migration):

    dependencies = [
        ("security", "0001_break_glass_and_amendment_requests"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [
        migrations.RunPython(encrypt_stored_secrets, migrations.RunPython.noop, elidable=False),
    ]
