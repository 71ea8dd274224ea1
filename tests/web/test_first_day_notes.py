"""The plan editor's note and technique (saved with the plan, signed with it, printed), cancelling
a plan from the pages, the consent block's way forward, the front desk's Today, the banner once
every block is overridden, the note PDF's running patient line and page numbers, the patient's
consent PDF without catalog tags, and the aftercare sheet."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from bontrack.charting.services import consent_forms
from bontrack.treatments import services
from bontrack.treatments.models import SessionEvent, TreatmentSession
from bontrack.web.views.sessions import note_stylesheet, record_context
from tests import builders
from tests.web.conftest import Pages
from tests.web.test_supply_pages import HTMX, decide_all, editor, local

pytestmark = pytest.mark.django_db

NOTE = "Examination: 18 headache days last month.\nTolerance: good, no vasovagal."


def ready_to_sign(client, pages: Pages):
    """Two vials opened for the 155 U and every finding decided; the injection time."""
    editor(client, pages, "vials/open", {"lot_id": str(pages.lot.id), "diluent_ml": "4"})
    at = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    decide_all(client, pages, at)
    return at


def test_the_note_and_technique_are_saved_with_the_plan_and_survive_a_change_of_points(pages):
    client = pages.client("nurse_injector")
    page = client.get(f"/sessions/{pages.plan.id}/").content.decode()
    assert 'id="note"' in page
    assert 'name="guidance"' in page
    assert 'name="needle"' in page
    # The note section stands outside the workspace that point changes re-render.
    assert page.index('id="note"') > page.index('id="workspace"')
    saved = client.post(
        f"/sessions/{pages.plan.id}/plan-note",
        {"notes": NOTE, "guidance": "emg", "needle": "30 G 13 mm"},
        **HTMX,
    )
    assert saved.status_code == 200
    assert "Note saved with the plan." in saved.content.decode()
    pages.plan.refresh_from_db()
    assert (pages.plan.notes, pages.plan.guidance, pages.plan.needle) == (
        NOTE,
        "emg",
        "30 G 13 mm",
    )


def test_a_needle_too_long_is_refused_in_the_note_section_and_the_typed_note_stays(pages):
    client = pages.client("physician")
    body = client.post(
        f"/sessions/{pages.plan.id}/plan-note",
        {"notes": NOTE, "guidance": "emg", "needle": "3" * 41},
        **HTMX,
    ).content.decode()
    assert "The note was not saved: needle:" in body
    assert "Examination: 18 headache days" in body
    pages.plan.refresh_from_db()
    assert pages.plan.notes == ""


def test_an_empty_note_starts_from_the_indications_headings(pages):
    client = pages.client("physician")
    body = client.post(
        f"/sessions/{pages.plan.id}/plan-note", {"action": "template"}, **HTMX
    ).content.decode()
    pages.plan.refresh_from_db()
    assert pages.plan.notes.startswith("Examination (headache days in the last month")
    assert "Tolerance" in pages.plan.notes
    assert "aftercare sheet" in pages.plan.notes
    assert "Start from this indication" not in body  # offered only while the note is empty


def test_signing_saves_the_typed_note_and_the_record_and_printed_note_show_it(pages):
    client = pages.client("physician")
    at = ready_to_sign(client, pages)
    response = client.post(
        f"/sessions/{pages.plan.id}/sign",
        {
            "administered_at": local(at),
            "confirm": pages.staff.password,
            "notes": NOTE,
            "guidance": "ultrasound",
            "needle": "27 G 37 mm",
        },
        **HTMX,
    )
    assert response.status_code == 204, response.content
    signed = TreatmentSession.objects.get(pk=pages.plan.pk)
    assert signed.is_signed
    assert signed.notes == NOTE
    assert signed.guidance == "ultrasound"
    assert services.session_document(signed)["technique"]["needle"] == "27 G 37 mm"
    assert services.verify_digest(signed)
    for path in ("", "note"):
        page = client.get(f"/sessions/{signed.id}/{path}").content.decode()
        assert "18 headache days last month." in page
        assert "ultrasound" in page
        assert "27 G 37 mm" in page
    pdf = client.get(f"/sessions/{signed.id}/note.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")


def _margin_texts(html: str) -> list[list[str]]:
    from weasyprint import HTML

    def texts(box) -> list[str]:
        found = [box.text] if getattr(box, "text", None) else []
        for child in getattr(box, "children", None) or []:
            found += texts(child)
        return found

    return [
        [" ".join(texts(m)) for m in page._page_box.children if type(m).__name__ == "MarginBox"]
        for page in HTML(string=html).render().pages
    ]


def test_every_page_of_the_note_pdf_after_the_first_names_the_patient_and_counts_pages(pages):
    s = pages.staff
    when = timezone.now() - timedelta(days=3)
    long_note = "\n".join(f"Examination line {n}: findings recorded." for n in range(90))
    signed = builders.signed_session(
        s,
        pages.patient,
        when,
        builders.open_vial(s, pages.lot, at=when - timedelta(hours=1)),
        notes=long_note,
    )
    html = render_to_string(
        "web/note.html",
        {
            **record_context(s.actor("physician"), signed.id),
            "pdf": True,
            "stylesheet": note_stylesheet(),
        },
    )
    margins = _margin_texts(html)
    assert len(margins) >= 2
    count = len(margins)
    for n, boxes in enumerate(margins, start=1):
        assert f"page {n} of {count}" in boxes
        if n > 1:
            assert any("Alex Doe" in b and "record P-1" in b for b in boxes), boxes


def test_cancelling_a_plan_from_the_editor_removes_it_from_today(pages):
    client = pages.client("nurse_injector")
    today = client.get("/").content.decode()
    assert f"/sessions/{pages.plan.id}/" in today
    assert 'id="cancel-plan"' in client.get(f"/sessions/{pages.plan.id}/").content.decode()
    response = client.post(f"/sessions/{pages.plan.id}/cancel", {"reason": "wrong indication"})
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{pages.patient.id}/"
    event = SessionEvent.objects.get(session=pages.plan)
    assert (event.kind, event.reason) == ("cancelled", "wrong indication")
    assert f"/sessions/{pages.plan.id}/" not in client.get("/").content.decode()
    again = client.post(f"/sessions/{pages.plan.id}/cancel", {})
    assert again.status_code == 302  # back to the session, which says it was cancelled
    assert SessionEvent.objects.filter(session=pages.plan).count() == 1


def test_the_front_desk_cannot_cancel_a_plan(pages):
    response = pages.client("front_desk").post(f"/sessions/{pages.plan.id}/cancel", {})
    assert response.status_code == 403
    assert not SessionEvent.objects.filter(session=pages.plan).exists()


def test_the_consent_block_links_to_the_indications_form_and_to_a_paper_consent(pages):
    s = pages.staff
    builders.consent(
        s, pages.patient, "glabellar-lines", timezone.localdate() - timedelta(days=400)
    )
    session = services.plan_session(
        s.actor("physician"),
        pages.patient.id,
        product="onabotulinumtoxinA",
        indication="glabellar-lines",
        plan_date=timezone.localdate(),
        protocol="glabellar-20",
    )
    client = pages.client("physician")
    page = client.get(f"/sessions/{session.id}/").content.decode()
    assert 'id="consent-next"' in page
    assert f'href="/patients/{pages.patient.id}/#consents"' in page
    assert "Publish a consent form for this indication" in page  # none published yet
    title, body = consent_forms.standard_wording("glabellar-lines")
    consent_forms.publish_template(
        s.actor("physician"), indication="glabellar-lines", title=title, body=body
    )
    page = client.get(f"/sessions/{session.id}/").content.decode()
    assert (
        f"/patients/{pages.patient.id}/consent-form?indication=glabellar-lines"
        f"&amp;product=onabotulinumtoxinA&amp;next=/sessions/{session.id}/"
    ) in page
    assert "<li>Block consent: record the patient's consent</li>" in page


def test_the_front_desk_sees_who_is_planned_today_but_no_treatment_product_or_units(pages):
    page = pages.client("front_desk").get("/").content.decode()
    planned = page[page.index('id="planned"') :]
    planned = planned[: planned.index("</section>")]
    assert "Doe, Alex" in planned
    for clinical in ("Migraine", "BOTOX", "155", " U<", "Check", "BLOCK"):
        assert clinical not in planned, clinical
    clinician = pages.client("physician").get("/").content.decode()
    shown = clinician[clinician.index('id="planned"') :]
    assert "155 U" in shown[: shown.index("</section>")]


def test_the_banner_stops_saying_blocked_once_every_block_is_overridden(pages):
    client = pages.client("physician")
    page = client.get(f"/sessions/{pages.plan.id}/").content.decode()
    assert "Blocked: this plan must not be given" in page
    at = timezone.now().replace(second=0, microsecond=0)
    decide_all(client, pages, at)
    page = client.get(f"/sessions/{pages.plan.id}/").content.decode()
    assert "Blocked: this plan must not be given" not in page
    assert "Every block was overridden by a prescriber" in page
    today = client.get("/").content.decode()
    assert ">overridden<" in today


def test_the_patients_consent_pdf_prints_no_catalog_tags():
    html = render_to_string(
        "charting/consent_pdf.html",
        {
            "template": {"title": "Consent", "body": "I agree.", "version": 1},
            "risks": consent_forms.consent_risks("glabellar-lines", "onabotulinumtoxinA"),
            "patient": {"given_name": "Alex", "family_name": "Doe", "birth_date": date(1980, 5, 1)},
            "product": {"code": "onabotulinumtoxinA", "brands": ["BOTOX"]},
        },
    )
    assert "Distant spread of toxin effect" in html
    for tag in ("verify against current PI", "[OFF]", "[S]", "[L]", "[R]", "BOTOX-PI"):
        assert tag not in html, tag


def test_the_aftercare_sheet_names_the_treatment_and_what_to_watch_for(pages):
    client = pages.client("physician")
    page = client.get(f"/sessions/{pages.signed.id}/aftercare").content.decode()
    assert "After your botulinum toxin treatment" in page
    assert "BOTOX" in page
    assert "300 units" in page
    assert "trouble swallowing, speaking or breathing" in page
    assert "Weakness of the treated arm" in page  # the indication's own item
    assert "facts.md" not in page
    assert "[L]" not in page
    assert "data-print" in page
    assert "/aftercare" in client.get(f"/sessions/{pages.signed.id}/").content.decode()
    assert (
        pages.client("front_desk").get(f"/sessions/{pages.signed.id}/aftercare").status_code == 403
    )


def test_a_childs_plan_shows_the_weight_used_and_units_per_kg_and_the_note_prints_them(pages):
    s = pages.staff
    today = timezone.localdate()
    child = builders.patient(
        s,
        record="C-9",
        born=date(today.year - 7, 3, 1),
        weight_kg=Decimal(20),
        weight_measured_on=today - timedelta(days=5),
    )
    builders.consent(s, child, "pediatric-upper-limb-spasticity")
    when = timezone.now() - timedelta(hours=2)
    plan = services.plan_session(
        s.actor("physician"),
        child.id,
        product="onabotulinumtoxinA",
        indication="pediatric-upper-limb-spasticity",
        plan_date=today,
        injections=[services.PointInput("biceps-brachii", "left", Decimal(30))],
    )
    client = pages.client("physician")
    page = client.get(f"/sessions/{plan.id}/").content.decode()
    assert 'id="units-per-kg"' in page
    assert "1.5 U/kg" in page
    assert "at 20 kg" in page
    signed = builders.signed_session(
        s,
        child,
        when,
        builders.open_vial(s, pages.lot, at=when - timedelta(hours=1)),
        indication="pediatric-upper-limb-spasticity",
        injections=[services.PointInput("biceps-brachii", "left", Decimal(40))],
    )
    note = client.get(f"/sessions/{signed.id}/note").content.decode()
    assert 'id="weight-used"' in note
    assert "20 kg" in note
    assert "2 U/kg" in note


def test_the_on_screen_consent_form_lists_the_risks_without_internal_tags(pages):
    """What the patient reads on the tablet, like the PDF: the reactions, never source keys,
    tags or "verify against current PI"."""
    title, body = consent_forms.standard_wording("glabellar-lines")
    consent_forms.publish_template(
        pages.staff.actor("physician"), indication="glabellar-lines", title=title, body=body
    )
    page = (
        pages.client("physician")
        .get(
            f"/patients/{pages.patient.id}/consent-form?indication=glabellar-lines"
            "&product=onabotulinumtoxinA"
        )
        .content.decode()
    )
    start = page.index('id="risks"')
    risks = page[start : page.index("</ul>", start)]
    assert "<li><strong>" in risks
    for internal in ("[L]", "[S]", "[R]", "[U]", "[OFF]", "verify against current PI", "PI "):
        assert internal not in risks, internal
