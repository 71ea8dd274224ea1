"""Consent forms: versions, risks from the catalog for the indication and product, the signed PDF
whose SHA-256 survives a round trip, the consent rule at signing, withdrawal recorded."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.charting.models import SignedConsentForm
from bontrack.charting.services import consent_forms as forms
from bontrack.charting.services.storage import clinical_storage
from bontrack.core.errors import ConflictError, ForbiddenError, ServiceError
from bontrack.patients.models import Consent
from bontrack.patients.services import withdraw_consent
from bontrack.treatments import services as sessions
from tests import builders
from tests.charting import support

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    s = builders.staff()
    p = builders.patient(s)
    title, body = forms.standard_wording("glabellar-lines")
    template = forms.publish_template(
        s.actor("physician"), indication="glabellar-lines", title=title, body=body
    )
    return s, p, template


def _sign(s, p, template, **values):
    values.setdefault("product", "onabotulinumtoxinA")
    values.setdefault("signer_name", "Alex Doe")
    values.setdefault("signer_role", "patient")
    values.setdefault("signature", support.signature())
    return forms.sign_consent_form(s.actor("nurse"), p.id, template_id=template.id, **values)


def test_risks_are_the_catalogs_for_the_indication_and_the_product():
    botox = {r.code for r in forms.consent_risks("glabellar-lines", "onabotulinumtoxinA")}
    daxxify = {r.code for r in forms.consent_risks("glabellar-lines", "daxibotulinumtoxinA")}
    assert {"distant-spread", "hypersensitivity-reaction", "eyelid-ptosis"} <= botox
    assert "facial-paresis" in daxxify  # Daxxify's label reports it for glabellar lines
    assert "facial-paresis" not in botox  # BOTOX Cosmetic's does not
    assert "other" not in botox
    assert "retrobulbar-haemorrhage" not in botox  # a strabismus risk
    cd = {r.code for r in forms.consent_risks("cervical-dystonia", "abobotulinumtoxinA")}
    assert {"dysphagia", "dry-mouth"} <= cd


def test_the_signed_pdf_and_its_hash_survive_a_round_trip(world):
    s, p, template = world
    form = _sign(s, p, template)
    stored = forms.read_consent_pdf(s.actor("auditor"), form.id)
    assert stored.data.startswith(b"%PDF")
    assert hashlib.sha256(stored.data).hexdigest() == form.pdf_sha256 == stored.form.pdf_sha256
    assert stored.intact
    with clinical_storage().open(form.pdf_name, "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == form.pdf_sha256
    assert {r["code"] for r in form.risks} >= {"distant-spread", "eyelid-ptosis"}
    consent = form.consent
    assert (consent.indication, consent.signed_by) == ("glabellar-lines", "Alex Doe")
    assert consent.expires_on == consent.signed_on + timedelta(days=365)
    assert AuditEntry.objects.filter(
        action="sign", object_type="consent-form", detail__sha256=form.pdf_sha256
    ).exists()
    # A file altered in storage no longer verifies.
    clinical_storage().delete(form.pdf_name)
    clinical_storage().save(form.pdf_name, __import__("io").BytesIO(stored.data + b"%"))
    assert not forms.read_consent_pdf(s.actor("physician"), form.id).intact


def test_the_consent_rule_blocks_signing_without_a_valid_signed_consent(world):
    s, p, template = world
    when = support.days_ago(1)
    stock = builders.lot(s, size=100, number="G1")
    vial = builders.open_vial(s, stock, diluent="2.5", at=when - timedelta(hours=1))
    nurse = s.actor("nurse")

    def plan():
        return sessions.plan_session(
            nurse,
            p.id,
            product="onabotulinumtoxinA",
            indication="glabellar-lines",
            plan_date=when.date(),
            injections=support.GLABELLAR,
            vial_ids=[vial.id],
        )

    first = plan()
    with pytest.raises(ConflictError) as refused:
        sessions.sign_session(nurse, first.id, administered_at=when)
    assert "consent" in refused.value.message
    form = _sign(s, p, template, signed_at=when - timedelta(minutes=30))
    sessions.sign_session(nurse, first.id, administered_at=when)
    # Withdrawn: recorded beside the consent (never deleted), and the next signing blocks.
    withdraw_consent(nurse, form.consent_id, on=timezone.localdate(), reason="Changed her mind")
    consent = Consent.objects.get(pk=form.consent_id)
    assert consent.withdrawn_on == timezone.localdate()
    assert SignedConsentForm.objects.filter(pk=form.pk).exists()
    later = sessions.plan_session(
        nurse,
        p.id,
        product="onabotulinumtoxinA",
        indication="glabellar-lines",
        plan_date=timezone.localdate(),
        injections=support.GLABELLAR,
    )
    result = sessions.stored_result_at(later, timezone.now())
    assert sessions.consent_finding(later, timezone.localdate()) is not None
    assert result is not None
    with pytest.raises(ConflictError, match="consent"):
        sessions.sign_session(nurse, later.id, administered_at=timezone.now())


def test_witness_guardian_and_blank_pads_are_refused(world):
    s, p, _ = world
    title, body = forms.standard_wording("glabellar-lines")
    witnessed = forms.publish_template(
        s.actor("admin"),
        indication="glabellar-lines",
        title=title,
        body=body,
        requires_witness=True,
    )
    assert witnessed.version == 2
    with pytest.raises(ServiceError) as refused:
        _sign(s, p, witnessed)
    assert refused.value.field == "witness_name"
    with pytest.raises(ServiceError) as refused:
        _sign(s, p, witnessed, witness_name="Jo Patel", witness_signature=support.blank_signature())
    assert refused.value.field == "witness_signature"
    with pytest.raises(ServiceError) as refused:
        _sign(s, p, witnessed, signature=support.blank_signature(), witness_name="Jo")
    assert refused.value.field == "signature"
    form = _sign(s, p, witnessed, witness_name="Jo Patel", witness_signature=support.signature(2))
    assert form.witness_name == "Jo Patel"
    # The older version can no longer be signed.
    old = type(witnessed).objects.get(version=1)
    with pytest.raises(ConflictError):
        _sign(s, p, old)
    child = builders.patient(s, record="P-2", born=timezone.localdate().replace(year=2016))
    with pytest.raises(ServiceError) as refused:
        _sign(s, child, witnessed, witness_name="Jo", witness_signature=support.signature())
    assert refused.value.field == "signer_role"
    assert SignedConsentForm.objects.count() == 1
    assert not list(Consent.objects.filter(patient=child))


def test_only_prescribers_and_the_admin_publish_forms(world):
    s, _, _ = world
    title, body = forms.standard_wording("blepharospasm")
    for role in ("nurse", "front_desk", "auditor"):
        with pytest.raises(ForbiddenError):
            forms.publish_template(
                s.actor(role), indication="blepharospasm", title=title, body=body
            )
    with pytest.raises(ServiceError) as refused:
        forms.publish_template(
            s.actor("physician"), indication="blepharospasm", title=title, body="x"
        )
    assert refused.value.field == "body"
