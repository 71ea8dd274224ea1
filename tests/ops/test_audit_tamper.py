"""A database administrator's tampering, and `bontrack audit verify` naming it (DESIGN 3.4).

The chains are keyed (HMAC-SHA-256 under a key held outside the database) and their heads are
anchored in a signed checkpoint file outside the table: truncating the last entries, re-hashing
the chain with bontrack's own functions (without the key) and putting back an older copy of the
table are each named, exit 1. Signed sessions, their amendments and signed consent forms are
checked against their digests under the canonical version each was signed with.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from bontrack.accounts.models import Clinic
from bontrack.audit.chain import GENESIS, chain_hash
from bontrack.audit.models import AuditEntry, SecurityEvent
from bontrack.audit.services import (
    audit_canonical,
    record_security_event,
    security_canonical,
    verify_clinic_chain,
)
from bontrack.audit.triggers import MESSAGE
from bontrack.charting.models import SignedConsentForm
from bontrack.charting.services import consent_forms as forms
from bontrack.cli import main
from bontrack.treatments import services as sessions
from bontrack.treatments.models import SessionEvent, TreatmentSession
from tests import builders
from tests.charting import support
from tests.db_triggers import triggers_lifted

pytestmark = [pytest.mark.django_db, pytest.mark.postgres(sqlite=True)]


@dataclass
class World:
    staff: builders.Staff
    signed: TreatmentSession
    amendment: SessionEvent
    form: SignedConsentForm


@pytest.fixture
def checkpoints(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "anchors" / "audit_checkpoints.jsonl"
    settings.BONTRACK_AUDIT_CHECKPOINTS = path
    return path


@pytest.fixture
def world(checkpoints: Path) -> World:
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
        injections=[sessions.PointInput("sternocleidomastoid", "left", Decimal(30))],
    )
    amendment = sessions.amend(
        s.actor("physician"),
        signed.id,
        reason="It was 25 U, not 30 U",
        injections=[sessions.PointInput("sternocleidomastoid", "left", Decimal(25))],
    )
    title, body = forms.standard_wording("glabellar-lines")
    template = forms.publish_template(
        s.actor("physician"), indication="glabellar-lines", title=title, body=body
    )
    form = forms.sign_consent_form(
        s.actor("nurse"),
        p.id,
        template_id=template.id,
        product="onabotulinumtoxinA",
        signer_name="Alex Doe",
        signer_role="patient",
        signature=support.signature(),
    )
    record_security_event("sign-in", username="a-physician", address="127.0.0.1")
    return World(s, signed, amendment, form)


def db_key(model: Any, pk: Any) -> Any:
    return model._meta.pk.get_db_prep_value(pk, connection)


def execute(sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit", "verify", *args])
    return code, capsys.readouterr().out


def checkpoint(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["audit", "checkpoint"]) == 0
    return capsys.readouterr().out


def test_new_entries_are_keyed_and_an_intact_database_verifies(
    world: World, checkpoints: Path, capsys: pytest.CaptureFixture[str]
):
    entries = AuditEntry.objects.filter(clinic=world.staff.clinic)
    assert entries.exists()
    assert not entries.filter(key_id="").exists()
    assert not SecurityEvent.objects.filter(key_id="").exists()
    # Keyed: bontrack's unkeyed hash of an entry is not what is stored.
    first = entries.order_by("seq").first()
    assert first is not None
    assert chain_hash(audit_canonical(first), GENESIS) != first.hash
    out = checkpoint(capsys)
    assert "checkpoint written" in out
    assert checkpoints.exists()
    code, out = verify(capsys)
    assert code == 0, out
    assert "BROKEN" not in out
    assert "signed sessions" in out


def test_truncating_the_last_entries_after_a_checkpoint_is_named(
    world: World, capsys: pytest.CaptureFixture[str]
):
    clinic = world.staff.clinic.id
    checkpoint(capsys)
    head = verify_clinic_chain(clinic).entries
    kept = max(head - 25, head // 2)  # the last 25 entries, or half of a short chain
    with triggers_lifted():
        execute(
            "DELETE FROM audit_auditentry WHERE clinic_id = %s AND seq > %s",
            [db_key(Clinic, clinic), kept],
        )
    assert verify_clinic_chain(clinic).intact  # what is left still chains
    code, out = verify(capsys)
    assert code == 1
    assert f"clinic {clinic}: the chain ends at entry {kept}" in out
    assert f"anchored entry {head}" in out


def test_re_hashing_the_chain_with_bontracks_own_functions_is_named(
    world: World, capsys: pytest.CaptureFixture[str]
):
    clinic = world.staff.clinic.id
    checkpoint(capsys)
    target = verify_clinic_chain(clinic).entries // 2
    with triggers_lifted():
        execute(
            "UPDATE audit_auditentry SET action = %s WHERE clinic_id = %s AND seq = %s",
            ["print", db_key(Clinic, clinic), target],
        )
        # Re-hash from the edited entry on, as the previous release hashed (no key), and mark
        # every entry unkeyed so that nothing looks keyed any more.
        prev = GENESIS
        for entry in AuditEntry.objects.filter(clinic_id=clinic).order_by("seq"):
            fresh = chain_hash(audit_canonical(entry), prev)
            execute(
                "UPDATE audit_auditentry SET prev_hash = %s, hash = %s, key_id = '' "
                "WHERE clinic_id = %s AND seq = %s",
                [prev, fresh, db_key(Clinic, clinic), entry.seq],
            )
            prev = fresh
    code, out = verify(capsys)
    assert code == 1
    assert f"clinic {clinic}" in out
    assert "checkpoint" in out


def test_re_hashing_keyed_entries_without_the_key_is_named_even_without_a_checkpoint(
    world: World, capsys: pytest.CaptureFixture[str]
):
    prev = GENESIS
    with triggers_lifted():
        for event in SecurityEvent.objects.order_by("seq"):
            fresh = chain_hash(security_canonical(event), prev)
            execute(
                "UPDATE audit_securityevent SET prev_hash = %s, hash = %s WHERE seq = %s",
                [prev, fresh, event.seq],
            )
            prev = fresh
    code, out = verify(capsys)
    assert code == 1
    assert "security log: BROKEN at entry 1: its content does not match its hash" in out


def test_an_older_copy_of_the_chain_than_the_checkpoint_is_named(
    world: World, capsys: pytest.CaptureFixture[str]
):
    """What a restored older backup looks like: the chain and the security log end before the
    heads that a later checkpoint anchored."""
    clinic = world.staff.clinic.id
    older = verify_clinic_chain(clinic).entries
    builders.patient(world.staff, record="P-2")  # more entries, then the checkpoint
    record_security_event("sign-in", username="a-nurse", address="127.0.0.1")
    checkpoint(capsys)
    with triggers_lifted():
        execute(
            "DELETE FROM audit_auditentry WHERE clinic_id = %s AND seq > %s",
            [db_key(Clinic, clinic), older],
        )
        last = SecurityEvent.objects.order_by("-seq").first()
        assert last is not None
        execute("DELETE FROM audit_securityevent WHERE seq = %s", [last.seq])
    code, out = verify(capsys)
    assert code == 1
    assert f"clinic {clinic}: the chain ends at entry {older}" in out
    assert f"security log: the log ends at entry {last.seq - 1}" in out


def test_a_forged_checkpoint_line_is_named(
    world: World, checkpoints: Path, capsys: pytest.CaptureFixture[str]
):
    checkpoint(capsys)
    line = json.loads(checkpoints.read_text().splitlines()[-1])
    for head in line["chains"].values():
        head["seq"] += 1
    with checkpoints.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    code, out = verify(capsys)
    assert code == 1
    assert "checkpoint 2" in out
    assert "signature does not verify" in out


def test_a_raw_insert_of_an_injection_into_a_signed_session_is_refused(world: World):
    injection = world.signed.injections.first()
    assert injection is not None
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        execute(
            "INSERT INTO treatments_injection (id, clinic_id, session_id, position, site, side, "
            "units, route, vial_id) SELECT %s, clinic_id, session_id, position + 100, site, "
            "side, %s, route, vial_id FROM treatments_injection WHERE id = %s",
            [
                db_key(type(injection), uuid.uuid4()),
                Decimal(300),
                db_key(type(injection), injection.id),
            ],
        )
    assert MESSAGE in str(caught.value)
    assert world.signed.injections.count() == 1


def test_audit_verify_names_a_signed_session_whose_record_was_altered(
    world: World, capsys: pytest.CaptureFixture[str]
):
    with triggers_lifted():
        execute(
            "UPDATE treatments_injection SET units = %s WHERE session_id = %s",
            [Decimal(300), db_key(TreatmentSession, world.signed.id)],
        )
    code, out = verify(capsys)
    assert code == 1
    assert f"session {world.signed.id}: its digest does not verify" in out


def test_audit_verify_names_an_altered_amendment(world: World, capsys: pytest.CaptureFixture[str]):
    with triggers_lifted():
        execute(
            "UPDATE treatments_sessionevent SET reason = %s WHERE id = %s",
            ["It was 30 U after all", db_key(SessionEvent, world.amendment.id)],
        )
    code, out = verify(capsys)
    assert code == 1
    assert f"amended event {world.amendment.id} of session {world.signed.id}" in out
    assert "its digest does not verify" in out


def test_audit_verify_names_a_signed_consent_form_whose_pdf_was_replaced(
    world: World, capsys: pytest.CaptureFixture[str]
):
    from bontrack.charting.services.storage import clinical_storage

    storage = clinical_storage()
    storage.delete(world.form.pdf_name)
    storage.save(world.form.pdf_name, io.BytesIO(b"%PDF-1.4 another form"))
    assert hashlib.sha256(b"%PDF-1.4 another form").hexdigest() != world.form.pdf_sha256
    code, out = verify(capsys)
    assert code == 1
    assert f"signed consent form {world.form.id}" in out
    assert "SHA-256" in out


def test_entries_written_by_the_previous_release_still_verify(
    world: World, capsys: pytest.CaptureFixture[str]
):
    """A database made before entries were keyed: every entry unkeyed, hashed with SHA-256."""
    other = builders.staff("Clinic B", prefix="b")
    prev = GENESIS
    with triggers_lifted():
        for entry in AuditEntry.objects.filter(clinic=other.clinic).order_by("seq"):
            fresh = chain_hash(audit_canonical(entry), prev)
            execute(
                "UPDATE audit_auditentry SET prev_hash = %s, hash = %s, key_id = '' "
                "WHERE clinic_id = %s AND seq = %s",
                [prev, fresh, db_key(Clinic, other.clinic.id), entry.seq],
            )
            prev = fresh
    assert not AuditEntry.objects.filter(clinic=other.clinic).exclude(key_id="").exists()
    # New entries go on keyed after the unkeyed ones.
    builders.patient(other, record="B-1")
    assert AuditEntry.objects.filter(clinic=other.clinic).exclude(key_id="").exists()
    code, out = verify(capsys, "--clinic", str(other.clinic.id))
    assert code == 0, out
    assert verify_clinic_chain(other.clinic.id).intact


def test_an_unkeyed_entry_after_a_keyed_one_is_named(
    world: World, capsys: pytest.CaptureFixture[str]
):
    clinic = world.staff.clinic.id
    last = AuditEntry.objects.filter(clinic_id=clinic).order_by("-seq").first()
    assert last is not None
    with triggers_lifted():
        execute(
            "UPDATE audit_auditentry SET hash = %s, key_id = '' WHERE clinic_id = %s AND seq = %s",
            [chain_hash(audit_canonical(last), last.prev_hash), db_key(Clinic, clinic), last.seq],
        )
    report = verify_clinic_chain(clinic)
    assert (report.broken_at, report.problem) == (
        last.seq,
        "it is unkeyed, after keyed entries",
    )
