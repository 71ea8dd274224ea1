"""Who may do what: roles and their permissions, as data (DESIGN.md 3.4).

Every view and API operation names the permission it needs; ``bontrack/access.py`` enforces it
with the clinic boundary.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CLINIC_ADMIN = "clinic-admin"
    PRESCRIBER = "prescriber"
    NURSE_INJECTOR = "nurse-injector"
    FRONT_DESK = "front-desk"
    AUDITOR = "auditor"
    # A registered SMART backend-services client (bontrack/interop/smart.py): reads the clinic's
    # records through /fhir with a short-lived token; it never signs in and never writes.
    SYSTEM_CLIENT = "system-client"


# The roles that inject: a plan's injector, the signer of a session, an appointment's injector.
INJECTOR_ROLES: frozenset[Role] = frozenset({Role.PRESCRIBER, Role.NURSE_INJECTOR})


class Perm(StrEnum):
    DEMOGRAPHICS_READ = "demographics.read"
    DEMOGRAPHICS_WRITE = "demographics.write"
    CHART_READ = "chart.read"
    PLAN_WRITE = "plan.write"
    SIGN = "session.sign"
    OVERRIDE = "session.override"
    # Amend a signed session, mark it entered in error, decide on correction requests (B.33).
    CORRECT = "session.correct"
    INVENTORY_READ = "inventory.read"
    INVENTORY_WRITE = "inventory.write"
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"
    # Publish a new version of a consent form's wording (bontrack/charting).
    FORMS_MANAGE = "forms.manage"
    # Start a clinic-wide FHIR Bulk Data export (/fhir/$export): a scope of its own, so that a
    # token made to read one chart at a time cannot copy the whole clinic.
    BULK_EXPORT = "bulk.export"
    # Charges, superbills, claims files, invoices and billing reports: what billing needs of a
    # session (codes, units, dates), never its notes (docs/billing.md).
    BILLING_READ = "billing.read"
    # Record coverage, prices and payments, issue invoices, confirm claim items.
    BILLING_WRITE = "billing.write"


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.CLINIC_ADMIN: frozenset(
        {
            Perm.DEMOGRAPHICS_READ,
            Perm.DEMOGRAPHICS_WRITE,
            Perm.CHART_READ,
            Perm.INVENTORY_READ,
            Perm.INVENTORY_WRITE,
            Perm.USERS_MANAGE,
            Perm.AUDIT_READ,
            Perm.FORMS_MANAGE,
            Perm.BULK_EXPORT,
            Perm.BILLING_READ,
            Perm.BILLING_WRITE,
        }
    ),
    Role.PRESCRIBER: frozenset(
        {
            Perm.DEMOGRAPHICS_READ,
            Perm.DEMOGRAPHICS_WRITE,
            Perm.CHART_READ,
            Perm.PLAN_WRITE,
            Perm.SIGN,
            Perm.OVERRIDE,
            Perm.CORRECT,
            Perm.INVENTORY_READ,
            Perm.INVENTORY_WRITE,
            Perm.FORMS_MANAGE,
            Perm.BULK_EXPORT,
            Perm.BILLING_READ,
            Perm.BILLING_WRITE,
        }
    ),
    Role.NURSE_INJECTOR: frozenset(
        {
            Perm.DEMOGRAPHICS_READ,
            Perm.DEMOGRAPHICS_WRITE,
            Perm.CHART_READ,
            Perm.PLAN_WRITE,
            Perm.SIGN,
            Perm.INVENTORY_READ,
            Perm.INVENTORY_WRITE,
            Perm.BULK_EXPORT,
            Perm.BILLING_READ,
        }
    ),
    Role.FRONT_DESK: frozenset(
        {
            Perm.DEMOGRAPHICS_READ,
            Perm.DEMOGRAPHICS_WRITE,
            Perm.INVENTORY_READ,
            Perm.BILLING_READ,
            Perm.BILLING_WRITE,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            Perm.DEMOGRAPHICS_READ,
            Perm.CHART_READ,
            Perm.INVENTORY_READ,
            Perm.AUDIT_READ,
            Perm.BULK_EXPORT,
            Perm.BILLING_READ,
        }
    ),
    Role.SYSTEM_CLIENT: frozenset(
        {Perm.DEMOGRAPHICS_READ, Perm.CHART_READ, Perm.INVENTORY_READ, Perm.BULK_EXPORT}
    ),
}

# The scopes that only read. A token holding none but these writes nothing, whatever the route
# (breaking glass, revoking tokens and starting an export included); ``bulk.export`` is not a
# write, but it is not implied by any read scope either.
READ_SCOPES: frozenset[str] = frozenset(
    {
        Perm.DEMOGRAPHICS_READ.value,
        Perm.CHART_READ.value,
        Perm.INVENTORY_READ.value,
        Perm.AUDIT_READ.value,
        Perm.BULK_EXPORT.value,
        Perm.BILLING_READ.value,
    }
)


def may_write(scopes: frozenset[str] | None) -> bool:
    """Whether a request acting with these token scopes (None: no token, or a token of the whole
    role) may write at all."""
    return scopes is None or bool(scopes - READ_SCOPES)


# The credentials each role may hold (codes.md); a prescriber needs one that can prescribe.
ROLE_CREDENTIALS: dict[Role, frozenset[str]] = {
    Role.PRESCRIBER: frozenset(
        {"physician", "nurse-practitioner", "physician-assistant", "dentist"}
    ),
    Role.NURSE_INJECTOR: frozenset({"registered-nurse"}),
}


def has_perm(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(Role(role), frozenset())
