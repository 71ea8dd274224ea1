"""The client's address, for the audit trail, the security log and lockout.

Served directly, it is ``REMOTE_ADDR``. Behind reverse proxies that append to
``X-Forwarded-For``, set ``BONTRACK_TRUSTED_PROXIES`` to their number: the address is then the
one the outermost trusted proxy saw (a client cannot forge it by sending the header itself).
Without this, every request behind a proxy would share the proxy's address, and one address's
lockout would lock out the whole clinic.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    proxies = int(getattr(settings, "BONTRACK_TRUSTED_PROXIES", 0) or 0)
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies][:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]
