"""django-allauth's MFA adapter, with the second factor's secrets encrypted at rest
(``security/credentials.py``). ``settings.MFA_ADAPTER`` names it."""

from __future__ import annotations

from allauth.mfa.adapter import DefaultMFAAdapter

from bontrack.security import credentials


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return credentials.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return credentials.decrypt(encrypted_text)
