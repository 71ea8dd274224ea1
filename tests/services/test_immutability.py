"""Append-only in the database (DESIGN 3.4): the triggers exist after migrate, refuse UPDATE and
DELETE (and, on PostgreSQL, TRUNCATE) of audit rows and signed records, leave plans editable; the
ORM refuses too; and `bontrack audit verify` notices a row changed behind the triggers' back.

Every test here runs on both engines (`postgres(sqlite=True)`): in the SQLite pass of `make test`
and again in its PostgreSQL pass. Only the TRUNCATE test is PostgreSQL's alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from bontrack.accounts.models import Clinic
from bontrack.audit.models import AuditEntry, SecurityEvent
from bontrack.audit.services import (
    record_security_event,
    verify_clinic_chain,
    verify_security_chain,
)
from bontrack.audit.triggers import MESSAGE, PROTECTED, installed_triggers, trigger_names
from bontrack.billing import services as billing
from bontrack.charting.services import consent_forms
from bontrack.cli import main
from bontrack.core.errors import SignedRecordError
from bontrack.inventory.services import close_vial
from bontrack.outcomes.decisions import continue_despite
from bontrack.outcomes.services import record_adverse_event
from bontrack.patients.services import update_patient, withdraw_consent
from bontrack.security import services as security_services
from bontrack.treatments import corrections
from bontrack.treatments import services as sessions
from bontrack.treatments.models import Injection, SessionEvent, TreatmentSession
from bontrack.treatments.records import current_digest
from tests import builders
from tests.charting import support as charting_support
from tests.db_triggers import triggers_lifted
from tests.invoicing.support import paid_and_refunded
from tests.services.followup import migraine_patient

# The closest marker wins: the TRUNCATE test's own `postgres` mark makes it PostgreSQL-only.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres(sqlite=True)]


@dataclass
class Records:
    staff: builders.Staff
    signed: TreatmentSession
    plan: TreatmentSession
    event: SessionEvent
    security: SecurityEvent
    decided: TreatmentSession  # a signed session whose findings were acknowledged or overridden


@pytest.fixture
def records() -> Records:
    """A signed session (with its injections and audit entries), an amendment of it, a plan that
    is not signed yet, and a security event: one row of every protected kind."""
    s = builders.staff()
    p = builders.patient(s, weight_kg=70)
    builders.consent(s, p, "cervical-dystonia")
    stock = builders.lot(s)
    signed = builders.signed_session(
        s,
        p,
        timezone.now() - timedelta(hours=1),
        builders.open_vial(s, stock, at=timezone.now() - timedelta(hours=2)),
        indication="cervical-dystonia",
        injections=[
            sessions.PointInput("sternocleidomastoid", "left", Decimal(30)),
            sessions.PointInput("sternocleidomastoid", "right", Decimal(30)),
        ],
    )
    event = sessions.amend(
        s.actor("physician"),
        signed.id,
        reason="Right side was 25 U, not 30 U",
        injections=[
            sessions.PointInput("sternocleidomastoid", "left", Decimal(30)),
            sessions.PointInput("sternocleidomastoid", "right", Decimal(25)),
        ],
    )
    plan = sessions.plan_session(
        s.actor("physician"),
        p.id,
        product="onabotulinumtoxinA",
        indication="cervical-dystonia",
        plan_date=timezone.localdate() + timedelta(days=90),
        injections=[sessions.PointInput("sternocleidomastoid", "left", Decimal(20))],
    )
    # A restricted chart opened by break-glass, and a patient's request to amend with its
    # decision: appended records too (bontrack/security).
    restricted = builders.patient(s, record="R-1")
    update_patient(s.actor("physician"), restricted.id, timezone.localdate(), restricted=True)
    security_services.break_glass(
        s.actor("nurse"), restricted.id, "Covering the clinic while the physician is away"
    )
    asked = security_services.record_amendment_request(
        s.actor("physician"),
        p.id,
        request="My allergy list is wrong",
        received_on=timezone.localdate(),
    )
    security_services.decide_amendment_request(
        s.actor("physician"), asked.id, decision="declined", reason="The list matches the letter"
    )
    close_vial(s.actor("nurse"), builders.open_vial(s, stock).id, note="End of the list")
    # A nurse's correction request, declined; a stop verdict continued despite (B.33, B.32).
    asked_to_correct = corrections.file_request(
        s.actor("nurse"),
        signed.id,
        corrects_digest=current_digest(signed),
        reason="Charted on the wrong patient",
        proposal=corrections.Proposal(kind="entered-in-error", toxin_given=True),
    )
    corrections.decline_request(
        s.actor("physician"), asked_to_correct.id, reason="It is this patient's session"
    )
    stopped = migraine_patient(s, stock, "M-1", weeks_ago=(24, 12), days=(22, 20, 18))
    continue_despite(
        s.actor("physician"),
        stopped.patient.id,
        indication="chronic-migraine",
        scale="headache-days-28d",
        reason="Fewer days in bed: one more cycle, then review.",
    )
    # An adverse event; a consent form signed on screen, and a consent withdrawn (appended).
    record_adverse_event(
        s.actor("physician"),
        signed.id,
        term="injection-site-pain",
        onset_date=timezone.localdate(),
        severity="mild",
        serious=False,
        relatedness="probable",
        outcome="recovered",
    )
    title, body = consent_forms.standard_wording("glabellar-lines")
    template = consent_forms.publish_template(
        s.actor("physician"), indication="glabellar-lines", title=title, body=body
    )
    form = consent_forms.sign_consent_form(
        s.actor("nurse"),
        p.id,
        template_id=template.id,
        product="onabotulinumtoxinA",
        signer_name="Alex Doe",
        signer_role="patient",
        signature=charting_support.signature(),
    )
    withdraw_consent(
        s.actor("nurse"), form.consent_id, on=timezone.localdate(), reason="Changed her mind"
    )
    record_security_event("sign-in", username="a-physician", address="127.0.0.1")
    security = SecurityEvent.objects.order_by("-seq").first()
    assert security is not None
    assert signed.is_signed
    assert not plan.is_signed
    # Signed again the same day: the short interval is a finding the physician decided on.
    decided = builders.signed_session(
        s,
        p,
        timezone.now() - timedelta(minutes=30),
        builders.open_vial(s, stock, at=timezone.now() - timedelta(hours=1)),
        indication="cervical-dystonia",
        injections=[sessions.PointInput("splenius-capitis", "left", Decimal(10))],
    )
    assert decided.decisions.exists()
    # Billing: signing and amending captured the session's charge sets; a coverage version and
    # a confirmed claim item (60 U from a 200 U vial: the smallest-vial item, billing.md 7.6).
    billing.record_coverage(
        s.actor("front_desk"),
        p.id,
        payer_name="Medicare Part B",
        payer_id="MCR-JE",
        member_id="1EG4-TE5-MK72",
        relationship="self",
        valid_from=timezone.localdate() - timedelta(days=365),
    )
    billing.confirm_claim_item(s.actor("physician"), signed.id, item_code="smallest-vial")
    # A catalog item the clinic admin confirmed once for every claim (billing.md 7.8).
    first = billing.catalog_items(s.actor("admin"))[0]
    billing.confirm_catalog_item(s.actor("admin"), first.code, first.message)
    # Self-pay money: a price, an invoice, a payment and a refund, each appended.
    paid_and_refunded(s, "C-1")
    return Records(s, signed, plan, event, security, decided)


def key(model: type[models.Model], pk: Any) -> Any:
    """A primary key as this engine stores it (SQLite keeps UUIDs as 32 hex characters)."""
    return model._meta.pk.get_db_prep_value(pk, connection)  # type: ignore[union-attr]


def clinic_key(clinic_id: UUID) -> Any:
    return key(Clinic, clinic_id)


def execute(sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def refused(sql: str, params: list[Any]) -> str:
    """Run ``sql`` in a savepoint, expect the database to refuse it, return the error's text.
    The savepoint's rollback leaves the test's transaction usable on PostgreSQL too."""
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        execute(sql, params)
    assert MESSAGE in str(caught.value), caught.value
    return str(caught.value)


def count(table: str, column: str, value: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} = %s", [value])
        return int(cursor.fetchone()[0])


# (table, column naming the protected rows, how to find their value, a column to UPDATE, new value)
PROTECTED_ROWS = {
    "audit_auditentry": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "action",
        "delete",
    ),
    "audit_securityevent": ("seq", lambda r: r.security.seq, "username", "somebody-else"),
    "treatments_treatmentsession": (
        "id",
        lambda r: key(TreatmentSession, r.signed.id),
        "notes",
        "changed afterwards",
    ),
    "treatments_injection": (
        "session_id",
        lambda r: key(TreatmentSession, r.signed.id),
        "units",
        Decimal(999),
    ),
    # A signed session's draws (B.30).
    "treatments_sessionvial": (
        "session_id",
        lambda r: key(TreatmentSession, r.signed.id),
        "drawn_units",
        Decimal(999),
    ),
    # A vial's closing (B.30), appended.
    "inventory_vialclosing": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "note",
        "rewritten",
    ),
    "treatments_sessionevent": (
        "id",
        lambda r: key(SessionEvent, r.event.id),
        "reason",
        "rewritten",
    ),
    "security_breakglassaccess": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "reason",
        "rewritten",
    ),
    "security_amendmentrequest": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "request",
        "rewritten",
    ),
    "security_amendmentdecision": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "decision",
        "accepted",
    ),
    "treatments_correctionrequest": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "reason",
        "rewritten",
    ),
    "treatments_correctiondecision": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "outcome",
        "accepted",
    ),
    "outcomes_continuedespiteverdict": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "reason",
        "rewritten",
    ),
    # The acknowledgements and overrides a session was signed with.
    "treatments_findingdecision": (
        "session_id",
        lambda r: key(TreatmentSession, r.decided.id),
        "reason",
        "rewritten",
    ),
    "charting_signedconsentform": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "pdf_sha256",
        "0" * 64,
    ),
    "patients_consentwithdrawal": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "reason",
        "rewritten",
    ),
    "outcomes_adverseevent": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "severity",
        "severe",
    ),
    # Billing (billing.md 7): coverage versions, charge sets, claim and catalog items confirmed.
    "billing_coverage": ("clinic_id", lambda r: clinic_key(r.staff.clinic.id), "member_id", "X"),
    "billing_chargeset": ("clinic_id", lambda r: clinic_key(r.staff.clinic.id), "why", "rewritten"),
    "billing_claimconfirmation": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "note",
        "rewritten",
    ),
    "billing_catalogconfirmation": (
        "clinic_id",
        lambda r: clinic_key(r.staff.clinic.id),
        "note",
        "rewritten",
    ),
}

# The invoicing app's appended rows: a price's version, an invoice, a payment, a refund.
PROTECTED_ROWS |= {
    "invoicing_priceentry": ("clinic_id", lambda r: clinic_key(r.staff.clinic.id), "amount", 1),
    "invoicing_invoice": ("clinic_id", lambda r: clinic_key(r.staff.clinic.id), "total", 1),
    "invoicing_payment": ("clinic_id", lambda r: clinic_key(r.staff.clinic.id), "amount", 1),
    "invoicing_refund": ("clinic_id", lambda r: clinic_key(r.staff.clinic.id), "reason", "x"),
}

# Closed once signed (DESIGN 3.4): not even a new row may join a signed session's record.
CLOSED_TABLES = ("treatments_injection", "treatments_sessionvial", "treatments_findingdecision")


def test_the_triggers_exist_after_migrate():
    assert installed_triggers() >= trigger_names(connection.vendor)
    # A table added to the protected list gets its rows tried below too.
    assert set(PROTECTED_ROWS) == {table for _, table, _ in PROTECTED}


@pytest.mark.parametrize("table", PROTECTED_ROWS)
def test_raw_update_is_refused(records: Records, table: str):
    column, value_of, changed, new = PROTECTED_ROWS[table]
    value = value_of(records)
    rows = count(table, column, value)
    assert rows > 0
    refused(f"UPDATE {table} SET {changed} = %s WHERE {column} = %s", [new, value])
    assert count(table, column, value) == rows
    assert count(table, changed, new) == 0


@pytest.mark.parametrize("table", PROTECTED_ROWS)
def test_raw_delete_is_refused(records: Records, table: str):
    column, value_of, _, _ = PROTECTED_ROWS[table]
    value = value_of(records)
    rows = count(table, column, value)
    assert rows > 0
    refused(f"DELETE FROM {table} WHERE {column} = %s", [value])
    assert count(table, column, value) == rows


@pytest.mark.parametrize("table", CLOSED_TABLES)
def test_raw_insert_into_a_signed_sessions_record_is_refused(records: Records, table: str):
    column, value_of, _, _ = PROTECTED_ROWS[table]
    value = value_of(records)
    rows = count(table, column, value)
    assert rows > 0
    with connection.cursor() as cursor:
        columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
    copied = [c for c in columns if c != "id"]
    # An injection's key is a UUID given here; the draws' and decisions' keys the database numbers.
    fresh_id = ["id"] if table == "treatments_injection" else []
    picks = ", ".join(["%s"] * len(fresh_id) + copied)
    refused(
        f"INSERT INTO {table} ({', '.join(fresh_id + copied)}) "
        f"SELECT {picks} FROM {table} WHERE {column} = %s",
        [key(Injection, uuid4()) for _ in fresh_id] + [value],
    )
    assert count(table, column, value) == rows


@pytest.mark.postgres
@pytest.mark.parametrize("table", PROTECTED_ROWS)
def test_truncate_is_refused_on_postgresql(records: Records, table: str):
    column, value_of, _, _ = PROTECTED_ROWS[table]
    value = value_of(records)
    rows = count(table, column, value)
    # The fixture's rows were inserted in this test's transaction: check their deferred foreign
    # keys now, or PostgreSQL refuses the TRUNCATE for "pending trigger events" instead.
    execute("SET CONSTRAINTS ALL IMMEDIATE", [])
    # CASCADE, so that PostgreSQL's own refusal to truncate a table that others reference cannot
    # pass for the trigger's: the message must be the trigger's, naming a protected table.
    message = refused(f"TRUNCATE {table} CASCADE", [])
    assert f"TRUNCATE on {table}" in message
    assert count(table, column, value) == rows


def test_the_orm_bypassing_save_is_refused_by_the_database(records: Records):
    with pytest.raises(DatabaseError, match=MESSAGE), transaction.atomic():
        TreatmentSession.objects.filter(pk=records.signed.pk).update(notes="changed afterwards")
    with pytest.raises(DatabaseError, match=MESSAGE), transaction.atomic():
        Injection.objects.filter(session=records.signed).update(units=Decimal(1))
    with pytest.raises(DatabaseError, match=MESSAGE), transaction.atomic():
        AuditEntry.objects.filter(clinic=records.staff.clinic).delete()
    with pytest.raises(DatabaseError, match=MESSAGE), transaction.atomic():
        SecurityEvent.objects.all().delete()
    records.signed.refresh_from_db()
    assert records.signed.notes == ""
    assert sessions.verify_digest(records.signed)


def test_a_plan_stays_editable(records: Records):
    plan = key(TreatmentSession, records.plan.id)
    assert execute("UPDATE treatments_treatmentsession SET notes = %s WHERE id = %s", ["x", plan])
    assert execute("UPDATE treatments_injection SET units = %s WHERE session_id = %s", [15, plan])
    records.plan.refresh_from_db()
    assert records.plan.notes == "x"
    assert [i.units for i in records.plan.injections.all()] == [Decimal(15)]
    # The services change a plan by rewriting its injections: DELETE of a plan's rows works.
    sessions.update_plan(
        records.staff.actor("physician"),
        records.plan.id,
        injections=[sessions.PointInput("sternocleidomastoid", "right", Decimal(10))],
    )
    assert [(i.side, i.units) for i in records.plan.injections.all()] == [("right", Decimal(10))]


def test_the_orm_refuses_to_change_or_delete_a_signed_session(records: Records):
    signed = TreatmentSession.objects.get(pk=records.signed.pk)
    signed.notes = "changed afterwards"
    with pytest.raises(SignedRecordError):
        signed.save()
    with pytest.raises(SignedRecordError):
        signed.delete()
    injection = signed.injections.first()
    assert injection is not None
    with pytest.raises(SignedRecordError):
        injection.delete()
    injection.units = Decimal(999)
    with pytest.raises(SignedRecordError):
        injection.save()
    assert TreatmentSession.objects.get(pk=signed.pk).notes == ""
    assert signed.injections.count() == 2
    assert sessions.verify_digest(TreatmentSession.objects.get(pk=signed.pk))


def entry(records: Records, seq: int) -> AuditEntry:
    return AuditEntry.objects.get(clinic=records.staff.clinic, seq=seq)


def verify_cli(clinic_id: UUID, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit", "verify", "--clinic", str(clinic_id)])
    return code, capsys.readouterr().out


def test_audit_verify_reports_an_intact_chain(records: Records, capsys: pytest.CaptureFixture[str]):
    report = verify_clinic_chain(records.staff.clinic.id)
    assert report.intact, report
    assert report.entries == AuditEntry.objects.filter(clinic=records.staff.clinic).count() > 5
    assert verify_security_chain().intact
    code, out = verify_cli(records.staff.clinic.id, capsys)
    assert code == 0
    assert f"intact, {report.entries} entries" in out


def test_audit_verify_names_the_entry_whose_content_was_changed(
    records: Records, capsys: pytest.CaptureFixture[str]
):
    clinic = records.staff.clinic.id
    target = verify_clinic_chain(clinic).entries // 2
    original = entry(records, target).action
    forged = "export" if original != "export" else "print"
    with triggers_lifted():
        assert execute(
            "UPDATE audit_auditentry SET action = %s WHERE clinic_id = %s AND seq = %s",
            [forged, clinic_key(clinic), target],
        )
    # The triggers are back: not even the forger can put the original back.
    assert installed_triggers() >= trigger_names(connection.vendor)
    refused(
        "UPDATE audit_auditentry SET action = %s WHERE clinic_id = %s AND seq = %s",
        [original, clinic_key(clinic), target],
    )
    assert entry(records, target).action == forged
    report = verify_clinic_chain(clinic)
    assert not report.intact
    assert report.broken_at == target
    assert report.problem == "its content does not match its hash"
    code, out = verify_cli(clinic, capsys)
    assert code == 1
    assert f"BROKEN at entry {target}: its content does not match its hash" in out


def test_audit_verify_names_a_deleted_entry(records: Records):
    clinic = records.staff.clinic.id
    target = verify_clinic_chain(clinic).entries // 2
    with triggers_lifted():
        assert execute(
            "DELETE FROM audit_auditentry WHERE clinic_id = %s AND seq = %s",
            [clinic_key(clinic), target],
        )
    report = verify_clinic_chain(clinic)
    assert (report.broken_at, report.problem) == (target + 1, f"entry {target} is missing")


def test_audit_verify_notices_a_rewritten_security_event(records: Records):
    with triggers_lifted():
        assert execute(
            "UPDATE audit_securityevent SET username = %s WHERE seq = %s",
            ["somebody-else", records.security.seq],
        )
    report = verify_security_chain()
    assert (report.broken_at, report.problem) == (
        records.security.seq,
        "its content does not match its hash",
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("run", [1, 2])
def test_transactional_tests_start_with_the_triggers_on(run: int):
    """Run twice: the second run follows the first's flush (done with the triggers lifted by
    conftest.py), and still finds every trigger in place and refusing."""
    assert installed_triggers() >= trigger_names(connection.vendor)
    assert not Clinic.objects.exists()
    s = builders.staff()
    builders.patient(s)
    assert AuditEntry.objects.filter(clinic=s.clinic).exists()
    refused("DELETE FROM audit_auditentry WHERE clinic_id = %s", [clinic_key(s.clinic.id)])
