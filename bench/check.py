"""Benchmark: check a PREEMPT plan for a patient with 40 earlier sessions.

Prints checks per second and, measured in the same run, the ratio of the check's cost to parsing
the same input JSON (target: the check costs at most 5× parsing its own input).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from bontrack.domain.check import evaluate
from bontrack.plan_input import parse_check_input

PLAN_DAY = date(2026, 11, 25)
PRODUCTS = ("onabotulinumtoxinA", "abobotulinumtoxinA", "incobotulinumtoxinA")
INDICATIONS = ("chronic-migraine", "cervical-dystonia", "upper-limb-spasticity", "other")


def plan_text() -> str:
    history = []
    for n in range(40):
        day = PLAN_DAY - timedelta(days=20 + 45 * n)
        product = PRODUCTS[n % 3] if n % 4 else "onabotulinumtoxinA"
        points = [
            {"site": "trapezius", "side": side, "units": 5}
            for side in ("left", "right")
            for _ in range(3)
        ]
        history.append(
            {
                "date": day.isoformat(),
                "product": product,
                "indication": INDICATIONS[n % 4],
                "units": 155,
                "injections": points if product == "onabotulinumtoxinA" else [],
            }
        )
    document = {
        "now": "2026-11-25T10:00:00+00:00",
        "patient": {
            "birth_date": "1970-05-01",
            "weight_kg": 70,
            "conditions": ["dysphagia"],
            "medications": ["aminoglycosides"],
        },
        "history": history,
        "plan": {
            "date": PLAN_DAY.isoformat(),
            "product": "onabotulinumtoxinA",
            "indication": "chronic-migraine",
            "protocol": "preempt-155",
            "vial": {
                "size_units": 200,
                "diluent_ml": 4,
                "reconstituted_at": "2026-11-25T09:00:00+00:00",
                "lot": "C1234",
                "lot_expires": "2027-05-31",
            },
        },
        "injector": {"credentials": ["physician"], "indications": ["chronic-migraine"]},
    }
    return json.dumps(document)


def rate(work: Callable[[], object], seconds: float = 1.5) -> float:
    """Calls per second, over at least ``seconds`` of wall time."""
    work()
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            work()
        count += 20
    return count / elapsed


def main() -> None:
    text = plan_text()
    request = parse_check_input(text)
    result = evaluate(request.plan, request.patient, request.history, request.injector, request.now)
    print(f"plan: PREEMPT 155 U, {len(request.history)} earlier sessions, verdict {result.verdict}")

    def parse() -> object:
        return json.loads(text, parse_float=Decimal)

    def check() -> object:
        r = request
        return evaluate(r.plan, r.patient, r.history, r.injector, r.now)

    def validate_and_check() -> object:
        r = parse_check_input(text)
        return evaluate(r.plan, r.patient, r.history, r.injector, r.now)

    parse_rate = rate(parse)
    check_rate = rate(check)
    full_rate = rate(validate_and_check)
    print(f"parse JSON:             {parse_rate:10.0f} per second")
    print(f"check (evaluate):       {check_rate:10.0f} checks per second")
    print(f"validate + check:       {full_rate:10.0f} per second")
    ratio = parse_rate / check_rate
    print(f"ratio check / parse:    {ratio:10.2f}  (target <= 5)")
    print(f"ratio (validate + check) / parse: {parse_rate / full_rate:.2f}")


if __name__ == "__main__":
    main()
