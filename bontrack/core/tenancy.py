"""Which tables belong to one clinic (DESIGN 3.6), in one place.

A tenant table carries ``clinic_id`` and every one of its rows belongs to that clinic: on a
sharded PostgreSQL (Citus) it is distributed by ``clinic_id``, and every statement on it must be
constrained to one clinic. The other tables are listed here by name, each with the reason it is
not distributed: reference tables are replicated to every node, coordinator tables stay on the
coordinator. A table with ``clinic_id`` that is in neither list is a tenant table, so a new table
is classified on purpose, never by omission.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models

# Small, read on almost every request, joined to tenant rows: replicated to every node.
REFERENCE_TABLES: dict[str, str] = {
    "accounts_clinic": "the clinics themselves",
    "accounts_membership": "who may act in which clinic; read before a clinic is known",
    "accounts_apitoken": "an API token is found by its hash before a clinic is known",
    "auth_user": "a user may belong to several clinics",
    "interop_systemclient": "a backend client is found by its id at the token endpoint",
    "interop_systemtoken": "a backend token is found by its hash before a clinic is known",
}

# Service-wide state, never joined to a clinic's rows: kept on the coordinator.
COORDINATOR_TABLES: dict[str, str] = {
    "audit_securityevent": "the security log is one chain for the whole service",
    "interop_usedassertion": "replay protection of client assertions at the token endpoint",
}


def tenant_models() -> list[type[models.Model]]:
    """Every installed model stored per clinic, in a stable order."""
    found = [
        model
        for model in apps.get_models()
        if _has_clinic_column(model)
        and model._meta.db_table not in REFERENCE_TABLES
        and model._meta.db_table not in COORDINATOR_TABLES
    ]
    return sorted(found, key=lambda model: model._meta.db_table)


def tenant_tables() -> frozenset[str]:
    return frozenset(model._meta.db_table for model in tenant_models())


def _has_clinic_column(model: type[models.Model]) -> bool:
    return any(
        getattr(field, "column", None) == "clinic_id" for field in model._meta.concrete_fields
    )
