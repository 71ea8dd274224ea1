"""The prescriber's queues on Today, in Chromium: a nurse's signed session waits under "Awaiting
your co-signature" and leaves it once co-signed; a nurse's correction request waits under
"Correction requests" and leaves it once declined. Screenshot:
var/screenshots/first-day-queues.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bontrack.treatments import corrections, services
from bontrack.treatments.records import current_digest, status_of
from tests import builders
from tests.web.test_browser import browser, shot  # noqa: F401  (the module's Chromium)
from tests.web.test_browser_first_day_notes import signed_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def nurse_signed(s, p, stock, when):
    nurse = s.actor("nurse")
    plan = services.plan_session(
        nurse,
        p.id,
        product="onabotulinumtoxinA",
        indication="chronic-migraine",
        plan_date=when.date(),
        protocol="preempt-155",
        vial_ids=[builders.open_vial(s, stock, at=when - timedelta(minutes=30)).id],
    )
    for f in services.stored_result_at(plan, when)["findings"]:
        services.decide(nurse, plan.id, fingerprint_=f["fingerprint"], kind="acknowledge")
    return services.sign_session(nurse, plan.id, administered_at=when)


def test_todays_queues_list_what_waits_for_a_prescriber_until_it_is_done(browser, live_server):  # noqa: F811
    from playwright.sync_api import expect

    s = builders.staff()
    p = builders.patient(s, record="Q-1")
    builders.consent(s, p, "chronic-migraine", timezone.localdate() - timedelta(days=120))
    stock = builders.lot(s, number="Q-LOT", vials=4)
    awaiting = nurse_signed(s, p, stock, timezone.now() - timedelta(minutes=20))
    earlier = nurse_signed(s, p, stock, timezone.now() - timedelta(days=100))
    services.co_sign(s.actor("physician"), earlier.id)
    request = corrections.file_request(
        s.actor("nurse"),
        earlier.id,
        corrects_digest=current_digest(earlier),
        reason="Charted on the wrong patient",
        proposal=corrections.Proposal(kind="entered-in-error", toxin_given=True),
    )

    context, page, problems = signed_in(browser, live_server.url, "a-physician", s.password)
    queue = page.locator("#co-sign-queue")
    expect(queue).to_contain_text("1 session")
    expect(queue).to_contain_text("Doe, Alex")
    requests = page.locator("#correction-queue")
    expect(requests).to_contain_text("1 open")
    expect(requests).to_contain_text("entered in error")
    shot(page, "first-day-queues")

    queue.locator("a", has_text="Review and co-sign").click()
    page.fill("#co-sign-confirm", s.password)
    page.locator("button", has_text="Co-sign").click()
    page.goto(f"{live_server.url}/")
    expect(page.locator("#co-sign-queue")).to_contain_text("No session awaits your co-signature")
    awaiting.refresh_from_db()
    assert status_of(awaiting) == "signed"

    page.locator("#correction-queue a", has_text="Review").click()
    page.fill("#decline-reason", "The session is this patient's: checked with the vial log")
    page.locator("button", has_text="Decline").click()
    page.goto(f"{live_server.url}/")
    expect(page.locator("#correction-queue")).to_contain_text(
        "No correction request waits for a prescriber"
    )
    assert corrections.status_of_request(type(request).objects.get(pk=request.pk)) == "declined"
    assert problems == []
    context.close()
