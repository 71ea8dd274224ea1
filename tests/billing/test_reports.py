"""The billing report (docs/billing.md, "Reports and FHIR"): units given and wasted per product
with the billing units claimed as JW, the claims' lines per code, the invoices' revenue per area;
the API, its CSV and the page show the same figures, and the report's queries do not grow with
the number of sessions."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bontrack.audit.models import AuditEntry
from bontrack.billing import reports
from bontrack.domain.units import IncompatibleUnitsError, Units
from bontrack.inventory import services as inventory
from bontrack.inventory.models import Vial
from bontrack.invoicing import services as invoicing
from bontrack.invoicing.models import Invoice
from bontrack.treatments.models import SessionVial, TreatmentSession
from bontrack.treatments.supply import vial_states
from tests import builders
from tests.billing.support import Clinic, billing_clinic
from tests.invoicing.support import glabellar_session, set_price

pytestmark = pytest.mark.django_db

BOTOX = "onabotulinumtoxinA"
DYSPORT = "abobotulinumtoxinA"


def _close_vials(clinic: Clinic, session: TreatmentSession) -> None:
    """Close the session's vials now (a vial opened before midnight is closed already)."""
    ids = SessionVial.objects.filter(session=session).values_list("vial_id", flat=True)
    vials = list(Vial.objects.filter(id__in=ids).select_related("lot"))
    states = vial_states(vials, clinic.staff.clinic.time_zone)
    for vial in vials:
        if not states[vial.id].closed(timezone.now()):
            inventory.close_vial(clinic.staff.actor("physician"), vial.id)


def _period() -> tuple[date, date]:
    today = timezone.localdate()
    return today - timedelta(days=7), today


def _report(clinic: Clinic) -> reports.BillingReport:
    start, end = _period()
    return reports.read_report(clinic.staff.actor("front_desk"), start, end)


def _preempt(clinic: Clinic) -> TreatmentSession:
    """PREEMPT 155 U from a 200 U vial, covered and diagnosed: J0585 × 155 and JW × 45."""
    clinic.diagnose()
    clinic.cover()
    session = clinic.sign_preempt()
    _close_vials(clinic, session)
    return session


def _paid_cosmetic(clinic: Clinic, product: str = BOTOX, record: str = "C-1") -> Invoice:
    """A glabellar session of the product, invoiced at 12.00 a unit with 10 % tax, paid 100.00
    by card of which 10.00 were refunded."""
    s = clinic.staff
    set_price(s, product=product, amount="12.00", tax_rate="10")
    patient = builders.patient(s, record=record, born=date(1985, 3, 2))
    builders.consent(s, patient, "glabellar-lines")
    session = glabellar_session(s, patient, product=product)
    _close_vials(clinic, session)
    desk = s.actor("front_desk")
    invoice = invoicing.issue_invoice(desk, session.id)
    invoicing.record_payment(desk, invoice.id, amount=Decimal("100.00"), method="card")
    invoicing.record_refund(
        desk, invoice.id, amount=Decimal("10.00"), reason="Goodwill", method="card"
    )
    return invoice


@pytest.mark.postgres(sqlite=True)
def test_a_preempt_session_gives_155_wastes_45_and_claims_45_as_jw():
    clinic = billing_clinic()
    _preempt(clinic)
    found = _report(clinic)
    [botox] = found.products
    assert botox.product == BOTOX
    assert (botox.sessions, botox.given, botox.wasted, botox.vials_closed) == (
        1,
        Units(BOTOX, Decimal(155)),
        Units(BOTOX, Decimal(45)),
        1,
    )
    # billing.md 2: 1 U per billing unit of J0585; admin = 155, jw = 200 - 155 = 45.
    assert (botox.hcpcs, botox.administered_billing_units, botox.jw_billing_units) == (
        "J0585",
        155,
        45,
    )
    assert [
        (c.system, c.code, c.modifiers, c.product, c.lines, c.billing_units) for c in found.charges
    ] == [
        ("CPT", "64615", (), "", 1, 1),
        ("HCPCS", "J0585", (), BOTOX, 1, 155),
        ("HCPCS", "J0585", ("JW",), BOTOX, 1, 45),
    ]
    # Covered, diagnosed, rendered under the physician's NPI: the claims file exports it whole.
    assert [(c.exported_lines, c.exported_billing_units) for c in found.charges] == [
        (1, 1),
        (1, 155),
        (1, 45),
    ]
    assert found.revenue == found.totals == ()


def test_a_claim_the_claims_file_leaves_out_is_counted_but_not_as_exported():
    clinic = billing_clinic()
    clinic.diagnose()
    session = clinic.sign_preempt()  # no coverage: "record the patient's insurance"
    _close_vials(clinic, session)
    found = _report(clinic)
    assert [(c.code, c.lines, c.exported_lines) for c in found.charges] == [
        ("64615", 1, 0),
        ("J0585", 1, 0),
        ("J0585", 1, 0),
    ]
    assert found.products[0].jw_billing_units == 45


def test_a_vial_wasted_whole_counts_on_the_day_it_was_closed():
    clinic = billing_clinic()
    vial = clinic.lot.vials.filter(reconstituted_at__isnull=True).first()
    inventory.record_waste(clinic.staff.actor("physician"), vial.id)
    [botox] = _report(clinic).products
    assert (botox.sessions, botox.given, botox.wasted, botox.vials_closed) == (
        0,
        Units(BOTOX, Decimal(0)),
        Units(BOTOX, Decimal(200)),
        1,
    )
    assert botox.jw_billing_units == 0  # no session: nothing to claim


def test_a_paid_cosmetic_invoice_is_revenue_of_its_area_and_never_a_claim():
    clinic = billing_clinic()
    _paid_cosmetic(clinic)
    found = _report(clinic)
    # 20 U at 12.00 = 240.00, 10 % tax 24.00: 264.00; paid 100.00, refunded 10.00.
    [row] = found.revenue
    assert (row.currency, row.product, row.area, row.self_pay, row.invoices) == (
        "USD",
        BOTOX,
        "glabellar-20",
        False,
        1,
    )
    assert (row.subtotal, row.tax, row.total, row.paid, row.refunded) == (
        Decimal("240.00"),
        Decimal("24.00"),
        Decimal("264.00"),
        Decimal("100.00"),
        Decimal("10.00"),
    )
    assert (row.net_received, row.balance) == (Decimal("90.00"), Decimal("174.00"))
    [usd] = found.totals
    assert (usd.currency, usd.invoices, usd.total, usd.net_received) == (
        "USD",
        1,
        Decimal("264.00"),
        Decimal("90.00"),
    )
    # billing.md 7.3: a cosmetic session is invoiced, never claimed; its units still count.
    assert found.charges == ()
    [botox] = found.products
    assert (botox.given, botox.administered_billing_units, botox.jw_billing_units) == (
        Units(BOTOX, Decimal(20)),
        0,
        0,
    )
    assert botox.wasted == Units(BOTOX, Decimal(80))  # 20 U from a 100 U vial


def test_two_products_are_never_summed():
    clinic = billing_clinic()
    _preempt(clinic)
    _paid_cosmetic(clinic, product=DYSPORT)
    found = _report(clinic)
    by_product = {p.product: p for p in found.products}
    assert set(by_product) == {BOTOX, DYSPORT}
    assert by_product[BOTOX].given == Units(BOTOX, Decimal(155))
    # The catalog's Dysport glabellar protocol (50 U) from a 500 U vial.
    assert by_product[DYSPORT].given == Units(DYSPORT, Decimal(50))
    assert by_product[DYSPORT].wasted == Units(DYSPORT, Decimal(450))
    with pytest.raises(IncompatibleUnitsError):
        by_product[BOTOX].given + by_product[DYSPORT].given
    # Each product's claims stay in its own HCPCS code's billing units.
    assert {c.product for c in found.charges if c.system == "HCPCS"} == {BOTOX}
    assert [(r.product, r.area) for r in found.revenue] == [(DYSPORT, "glabellar-dysport-50")]


class ReportFacts(HTMLParser):
    """The figures the page carries in data- attributes of its table rows."""

    def __init__(self) -> None:
        super().__init__()
        self.products: list[dict[str, str]] = []
        self.charges: list[dict[str, str]] = []
        self.revenue: list[dict[str, str]] = []
        self.svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.svg += 1
        data = {k[5:]: v or "" for k, v in attrs if k.startswith("data-")}
        if "product" in data:
            self.products.append(data)
        elif "code" in data:
            self.charges.append(data)
        elif "currency" in data:
            self.revenue.append(data)


def _csv_blocks(text: str) -> list[list[dict[str, str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    blocks: list[list[list[str]]] = [[]]
    for row in rows:
        if row:
            blocks[-1].append(row)
        else:
            blocks.append([])
    return [[dict(zip(b[0], r, strict=True)) for r in b[1:]] for b in blocks]


@pytest.mark.postgres(sqlite=True)
def test_the_api_the_csv_and_the_page_agree():
    clinic = billing_clinic()
    _preempt(clinic)
    _paid_cosmetic(clinic, product=DYSPORT)
    start, end = _period()
    query = f"start={start}&end={end}"
    api = clinic.client("front_desk")

    answer = api.get(f"/api/v1/billing/report?{query}")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["start"], body["end"]) == (start.isoformat(), end.isoformat())

    download = api.get(f"/api/v1/billing/report.csv?{query}")
    assert download.status_code == 200, download.content
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert f"bontrack-billing-report-{start}-{end}.csv" in download["Content-Disposition"]
    units, charges, revenue = _csv_blocks(download.content.decode())

    page = Client()
    page.force_login(clinic.staff.front_desk.user)
    shown = page.get(f"/billing/report/?{query}")
    assert shown.status_code == 200
    html = shown.content.decode()
    facts = ReportFacts()
    facts.feed(html)

    assert [
        (p["product"], p["units_given"], p["units_wasted"], p["jw_billing_units"])
        for p in body["products"]
    ] == [
        (DYSPORT, "50", "450", 0),
        (BOTOX, "155", "45", 45),
    ]
    assert [
        (u["product"], u["units_given"], u["units_wasted"], u["jw_billing_units"]) for u in units
    ] == [(DYSPORT, "50", "450", "0"), (BOTOX, "155", "45", "45")]
    assert [(p["product"], p["given"], p["wasted"], p["jw"]) for p in facts.products] == [
        (DYSPORT, "50", "450", "0"),
        (BOTOX, "155", "45", "45"),
    ]

    api_charges = [
        (c["code"], " ".join(c["modifiers"]), str(c["lines"]), str(c["billing_units"]))
        for c in body["charges"]
    ]
    assert api_charges == [
        ("64615", "", "1", "1"),
        ("J0585", "", "1", "155"),
        ("J0585", "JW", "1", "45"),
    ]
    assert [(c["code"], c["modifiers"], c["lines"], c["billing_units"]) for c in charges] == (
        api_charges
    )
    assert [(c["code"], c["modifiers"], c["lines"], c["units"]) for c in facts.charges] == (
        api_charges
    )

    api_revenue = [
        (r["currency"], r["product"], r["area"], r["total"], r["paid"], r["refunded"])
        for r in body["revenue"]
    ]
    assert api_revenue == [("USD", DYSPORT, "glabellar-dysport-50", "660.00", "100.00", "10.00")]
    assert [
        (r["currency"], r["product"], r["area"], r["total"], r["paid"], r["refunded"])
        for r in revenue
    ] == [*api_revenue, ("USD", "all", "all", "660.00", "100.00", "10.00")]
    assert [
        (r["currency"], r["revenue-product"], r["area"], r["total"], r["paid"], r["refunded"])
        for r in facts.revenue
    ] == api_revenue
    assert body["currency_totals"][0]["net_received"] == "90.00"

    # The chart: one SVG per product, each on its own axis, drawn on the server.
    assert facts.svg == 2
    assert "155 U given in 1 session" in html
    assert "45 U wasted by 1 vial closed" in html
    assert "<script" not in html.split("<main", 1)[-1].split("</main>", 1)[0]
    assert "no fee schedule" in html

    # Each read is on the audit trail, identifying nobody.
    reads = AuditEntry.objects.filter(object_type="billing-report", action="read")
    assert reads.count() == 2
    assert {e.patient_id for e in reads} == {None}
    assert AuditEntry.objects.filter(object_type="billing-report-csv", action="export").count() == 1


def test_a_period_reversed_or_longer_than_a_year_is_refused_in_the_one_shape():
    clinic = billing_clinic()
    api = clinic.client("auditor")
    today = timezone.localdate()
    reversed_ = api.get(f"/api/v1/billing/report?start={today}&end={today - timedelta(days=1)}")
    assert reversed_.status_code == 400
    assert reversed_.json() == {
        "errors": [{"field": "end", "message": f"is before the start ({today.isoformat()})"}]
    }
    long = api.get(f"/api/v1/billing/report.csv?start={today - timedelta(days=366)}&end={today}")
    assert long.status_code == 400
    assert long.json()["errors"][0]["field"] == "end"
    malformed = api.get("/api/v1/billing/report?start=yesterday")
    assert malformed.status_code == 422
    # By default: the clinic's month so far.
    default = api.get("/api/v1/billing/report").json()
    assert (default["start"], default["end"]) == (
        today.replace(day=1).isoformat(),
        today.isoformat(),
    )
    page = Client()
    page.force_login(clinic.staff.auditor.user)
    shown = page.get("/billing/report/?start=soon")
    assert shown.status_code == 400
    assert "start: give a date as YYYY-MM-DD" in shown.content.decode()


def _signed_for(clinic: Clinic, record: str) -> None:
    patient = builders.patient(clinic.staff, record=record)
    builders.consent(clinic.staff, patient, "chronic-migraine")
    at = timezone.now() - timedelta(hours=1)
    vial = builders.open_vial(clinic.staff, clinic.lot, at=at - timedelta(minutes=30))
    builders.signed_session(clinic.staff, patient, at, vial)


def test_the_report_costs_the_same_queries_for_1_and_for_4_sessions():
    clinic = billing_clinic()
    clinic.cover()
    api = clinic.client("front_desk")
    start, end = _period()
    url = f"/api/v1/billing/report?start={start}&end={end}"
    api.get(url)  # the catalogs are read once per process: not what is counted here
    counts: dict[int, tuple[int, str]] = {}
    for total, records in ((1, ("Q-1",)), (4, ("Q-2", "Q-3", "Q-4"))):
        for record in records:
            _signed_for(clinic, record)
        with CaptureQueriesContext(connection) as ctx:
            answer = api.get(url)
        assert answer.status_code == 200, answer.content
        assert answer.json()["products"][0]["sessions"] == total
        counts[total] = (
            len(ctx.captured_queries),
            "\n".join(q["sql"][:140] for q in ctx.captured_queries),
        )
    assert counts[1][0] == counts[4][0], counts[4][1]
