"""B.32 response: the latest stop or non-responder verdict of a series reaches the next plan as a
warning naming the scale, the figures, the date and the source (B.36 for non-responder)."""

import datetime as dt
import re

from bontrack.domain.catalog.model import Severity
from bontrack.domain.treatment import Verdict
from tests.domain.factories import check, of_rule, only, plan

AS_OF = dt.date(2026, 10, 18)


def verdict(word="stop", indication="chronic-migraine", scale="headache-days-28d", **extra):
    fields = {
        "summary": "-18 % after 2 cycles",
        "source": "NICE TA260",
    } | extra
    return Verdict(indication=indication, scale=scale, verdict=word, as_of=AS_OF, **fields)


def test_a_stop_verdict_warns_with_its_figures_and_nice():
    """Issue scenario 4: a new PREEMPT plan after a stop verdict does not check clean."""
    finding = only(check(plan(), verdicts=[verdict()]), "response")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert "stop" in finding.message
    assert "-18 % after 2 cycles" in finding.message
    assert "2026-10-18" in finding.message
    assert "NICE TA260" in finding.message
    assert finding.source.startswith("NICE TA260")
    assert "bontrack policy B.32" in finding.source


def test_a_non_responder_verdict_cites_bontrack_policy_and_not_nice():
    hdss = verdict(
        "non-responder",
        indication="axillary-hyperhidrosis",
        scale="hdss",
        summary="HDSS 4 to 3: 1 grade better (a response needs 2)",
        source="SCALES [S]",
    )
    the_plan = plan(indication="axillary-hyperhidrosis", protocol="axillary-hyperhidrosis-100")
    finding = only(check(the_plan, verdicts=[hdss]), "response")
    assert finding.source.startswith("bontrack policy B.32")
    assert "NICE" not in finding.source
    assert "HDSS 4 to 3" in finding.message
    assert "Stopping is recommended" not in finding.message


def test_other_verdicts_give_nothing():
    for word in ("continue", "responder", "meaningful", "no-verdict-yet"):
        assert of_rule(check(plan(), verdicts=[verdict(word)]), "response") == []


def test_a_verdict_of_another_indication_gives_nothing():
    other = verdict(indication="cervical-dystonia", scale="tsui")
    assert of_rule(check(plan(), verdicts=[other]), "response") == []


def test_one_warning_per_series():
    series = [
        verdict(),
        verdict("non-responder", scale="hit-6", summary="HIT-6 fell 2 points", source="HOUTS"),
    ]
    assert len(of_rule(check(plan(), verdicts=series), "response")) == 2


def test_the_muscle_group_is_named():
    mas = verdict(
        "non-responder",
        indication="upper-limb-spasticity",
        scale="modified-ashworth",
        muscle_group="elbow flexors",
        summary="3 to 3",
        source="SCALES",
    )
    the_plan = plan(indication="upper-limb-spasticity", injections=plan().injections[:1])
    finding = only(check(the_plan, verdicts=[mas]), "response")
    assert "elbow flexors" in finding.message


def test_the_words_carry_no_time_of_day():
    """A fingerprint survives re-checks on every path (DESIGN 3.3)."""
    finding = only(check(plan(), verdicts=[verdict()]), "response")
    assert re.search(r"\d{1,2}:\d{2}", finding.message) is None
