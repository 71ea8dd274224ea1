"""`manage.py reencrypt_credentials`: after a key rotation, encrypt every second-factor secret
under the current key, so that the old keys can be dropped from
``BONTRACK_CREDENTIALS_KEY_FALLBACKS``.

All or nothing: when a secret opens with none of the configured keys, nothing is changed and the
command fails naming the authenticator."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from bontrack.audit.services import record_security_event
from bontrack.security.credentials import SECRET_FIELDS, CredentialKeyError, resealed


class Command(BaseCommand):
    help = (
        "Re-encrypt every TOTP secret and recovery-code seed with BONTRACK_CREDENTIALS_KEY "
        "(after a rotation: the old key in BONTRACK_CREDENTIALS_KEY_FALLBACKS until this has run)"
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        with transaction.atomic():
            # Locked: a recovery code used meanwhile would otherwise be written back as unused.
            found = Authenticator.objects.select_for_update().filter(type__in=list(SECRET_FIELDS))
            for authenticator in found.order_by("pk"):
                try:
                    data = resealed(authenticator.type, authenticator.data)
                except CredentialKeyError as error:
                    raise CommandError(
                        f"authenticator {authenticator.pk} ({authenticator.type} of user "
                        f"{authenticator.user_id}): {error}; nothing was changed"
                    ) from error
                Authenticator.objects.filter(pk=authenticator.pk).update(data=data)
                count += 1
        record_security_event("credentials-reencrypted", authenticators=count)
        self.stdout.write(
            f"the secrets of {count} authenticators are encrypted with BONTRACK_CREDENTIALS_KEY: "
            "the keys in BONTRACK_CREDENTIALS_KEY_FALLBACKS are no longer needed"
        )
