"""django-allauth's account adapter: no self sign-up (a clinic admin adds members), and a user of
several clinics chooses one after signing in."""

from __future__ import annotations

import time
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from django.conf import settings
from django.http import HttpRequest

from bontrack.accounts.models import Membership


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        memberships = list(
            Membership.objects.filter(user=request.user, active=True).values_list("id", flat=True)[
                :2
            ]
        )
        if len(memberships) == 1:
            request.session["membership_id"] = str(memberships[0])
            return "/"
        return "/clinic/?next=/"

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """Managing one's second factor or password asks for the password again, unless the user
        signed in (or re-authenticated) within ``ACCOUNT_REAUTHENTICATION_TIMEOUT``: a user made
        to enrol right after signing in is not asked twice in a row."""
        from allauth.core import context

        request = context.request
        records = request.session.get(AUTHENTICATION_METHODS_SESSION_KEY, []) if request else []
        if records and time.time() - float(records[-1].get("at", 0)) < float(
            settings.ACCOUNT_REAUTHENTICATION_TIMEOUT
        ):
            return False
        return bool(super().is_reauthentication_required(app=app, **kwargs))

    def get_client_ip(self, request: HttpRequest) -> str:
        from bontrack.core.addresses import client_ip

        return client_ip(request)

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # Users are added by their clinic's admin and sign in by user name: nothing is mailed.
        return None
