"""Children: who is one, their per-kg caps and guidance, and their weight
(facts 2.1, 2.9; B.9, B.15, B.24, B.26, DESIGN 3.3)."""

import datetime as dt

import pytest

from bontrack.domain.catalog.model import Severity
from bontrack.domain.check import MissingWeightError, requires_weight
from tests.domain.factories import (
    ABO,
    DAY,
    INCO,
    ONA,
    PRABO,
    check,
    child,
    glabellar_plan,
    history,
    of_rule,
    only,
    patient,
    plan,
    point,
    points,
)

CONFIRM = "label text still to be confirmed"


def lower_limb_60(product=ONA):
    """60 U in one leg: 30 U each in two muscles (inside 1–2 U/kg for a 20 kg child)."""
    return plan(
        product=product,
        indication="pediatric-lower-limb-spasticity",
        injections=[
            point("gastrocnemius-medial", "left", 30, product),
            point("soleus", "left", 30, product),
        ],
    )


def weight_findings(result):
    return of_rule(result, "weight-based-dose")


# --- B.9: who is a child ------------------------------------------------------------------


def test_the_day_before_the_18th_birthday_is_a_child():
    """B.9 child: under 18 on the plan date; age from birth_date at the plan date."""
    seventeen = patient(birth_date=dt.date(2008, 11, 26))
    assert seventeen.age_on(DAY) == 17
    assert seventeen.is_child_on(DAY)
    assert requires_weight(lower_limb_60(), seventeen) is True


def test_the_18th_birthday_is_an_adult():
    """B.9: 18 on the plan date is an adult: no per-kg rule, no weight needed."""
    eighteen = patient(birth_date=dt.date(2008, 11, 25))
    assert eighteen.age_on(DAY) == 18
    assert not eighteen.is_child_on(DAY)
    assert requires_weight(plan(), eighteen) is False


def test_age_is_measured_on_the_plan_date_not_today():
    """B.9, DESIGN 3.3: age is measured on the plan date (which may be after now)."""
    later = plan(day=dt.date(2026, 11, 27))
    someone = patient(birth_date=dt.date(2008, 11, 26))
    assert requires_weight(later, someone) is False
    assert requires_weight(plan(), someone) is True


# --- B.15: the onabotulinumtoxinA cumulative cap for children -----------------------------


def test_child_cumulative_cap_per_kg_binds_for_a_20_kg_child():
    """B.15 pediatric-caps, facts 2.1 (BOTOX PI 2.1 [R]): lower of 10 U/kg or 340 U in 84 days:
    20 kg → 200 U binds; 150 U 40 days ago + 60 U = 210 U → weight-based-dose block."""
    entries = [history(40, ONA, "pediatric-lower-limb-spasticity", 150)]
    result = check(lower_limb_60(), child(weight=20), entries)
    (finding,) = [f for f in weight_findings(result) if "340 U" in f.message]
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert "10 U/kg × 20 kg = 200 U" in finding.message
    assert "340 U" in finding.message
    assert "per-kg bound binds" in finding.message
    assert "210 U" in finding.message
    assert CONFIRM in finding.message  # B.24: an [R] fact that blocks says so


def test_child_cumulative_cap_of_340_units_binds_for_a_50_kg_child():
    """B.15: 50 kg → 500 U by weight, so the 340 U cap binds: 300 U + 60 U = 360 U blocks."""
    entries = [history(40, ONA, "pediatric-lower-limb-spasticity", 300)]
    result = check(lower_limb_60(), child(age_years=12, weight=50), entries)
    (finding,) = [f for f in weight_findings(result) if "340 U" in f.message]
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert "10 U/kg × 50 kg = 500 U" in finding.message
    assert "the 340 U cap binds" in finding.message
    assert "360 U" in finding.message
    assert CONFIRM in finding.message


def test_child_cumulative_cap_applies_whatever_the_indication():
    """B.15: the 10 U/kg or 340 U cap applies to every child treated with onabotulinumtoxinA,
    whatever the indication (B.20: cosmetic and `other` doses count too)."""
    entries = [history(30, ONA, "other", 150)]
    result = check(plan(), child(age_years=16, weight=20), entries)
    (finding,) = [f for f in weight_findings(result) if "340 U" in f.message]
    assert finding.severity is Severity.BLOCK
    assert "305 U" in finding.message


def test_child_cumulative_cap_not_exceeded_gives_nothing():
    """B.15: 100 U + 60 U = 160 U is within 200 U for a 20 kg child."""
    entries = [history(40, ONA, "pediatric-lower-limb-spasticity", 100)]
    result = check(lower_limb_60(), child(weight=20), entries)
    assert weight_findings(result) == []


def test_child_cap_ignores_the_adult_400_units():
    """B.9, facts 2.1: a child gets the children's cap, not the adult 400 U window."""
    entries = [history(40, ONA, "other", 300)]
    result = check(lower_limb_60(), child(age_years=12, weight=50), entries)
    assert of_rule(result, "cumulative-dose") == []


# --- per-limb and per-session caps (B.15, facts 2.9) -------------------------------------


def test_botox_child_upper_limb_session_cap():
    """Facts 2.9 (B1-PEDS [L]): upper limb per session ≤ lower of 6 U/kg or 200 U:
    20 kg → 120 U; 140 U blocks (weight-based-dose, overridable); an [L] fact needs no
    confirmation note."""
    arm = plan(
        indication="pediatric-upper-limb-spasticity",
        injections=[
            *points("biceps-brachii", "left", 30, 2),
            point("brachialis", "left", 40),
            point("flexor-carpi-radialis", "left", 40),
        ],
    )
    result = check(arm, child(weight=20))
    (finding,) = [f for f in weight_findings(result) if "200 U" in f.message]
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert "6 U/kg × 20 kg = 120 U" in finding.message
    assert "140 U" in finding.message
    assert CONFIRM not in finding.message
    assert of_rule(result, "muscle-range") == []


def test_botox_child_upper_limb_within_cap_gives_nothing():
    """Facts 2.9: 120 U in one arm of a 20 kg child is at the cap, not above it."""
    arm = plan(
        indication="pediatric-upper-limb-spasticity",
        injections=[
            *points("biceps-brachii", "left", 30, 2),
            point("brachialis", "left", 40),
            point("flexor-carpi-radialis", "left", 20),
        ],
    )
    assert check(arm, child(weight=20)).findings == ()


def test_dysport_child_upper_limb_cap_per_limb():
    """Facts 2.9 (DYS-PEDS [L]): per upper limb ≤ lower of 16 U/kg or 640 U: 20 kg → 320 U;
    330 U in the left arm blocks, naming the limb."""
    arm = plan(
        product=ABO,
        indication="pediatric-upper-limb-spasticity",
        injections=[
            point("biceps-brachii", "left", 200, ABO),
            point("brachialis", "left", 130, ABO),
        ],
    )
    finding = only(check(arm, child(weight=20)), "weight-based-dose")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert "16 U/kg × 20 kg = 320 U" in finding.message
    assert "640 U" in finding.message
    assert "per-kg bound binds" in finding.message
    assert "upper limb left" in finding.message
    assert "330 U" in finding.message


def test_dysport_child_upper_limb_cap_of_640_binds_for_a_heavy_child():
    """Facts 2.9, B.15: 50 kg → 800 U by weight, so the 640 U cap binds."""
    arm = plan(
        product=ABO,
        indication="pediatric-upper-limb-spasticity",
        injections=[
            point("biceps-brachii", "left", 400, ABO),
            point("brachialis", "left", 250, ABO),
        ],
    )
    finding = only(check(arm, child(age_years=14, weight=50)), "weight-based-dose")
    assert "the 640 U cap binds" in finding.message


def test_dysport_child_limb_cap_is_per_limb():
    """B.14 both-sides: children's per-kg limb doses are per limb: 300 U in each arm of a 20 kg
    child is within 320 U per limb (and 600 U is within the session cap)."""
    arms = plan(
        product=ABO,
        indication="pediatric-upper-limb-spasticity",
        injections=[
            point("biceps-brachii", "left", 300, ABO),
            point("biceps-brachii", "right", 300, ABO),
        ],
    )
    assert weight_findings(check(arms, child(weight=20))) == []


def test_dysport_child_session_cap():
    """Facts 2.9 (DYS-PEDS [L]): more than one limb ≤ lower of 30 U/kg or 1,000 U per session:
    20 kg → 600 U; 310 U in each arm (each within 320 U) = 620 U blocks."""
    arms = plan(
        product=ABO,
        indication="pediatric-upper-limb-spasticity",
        injections=[
            point("biceps-brachii", "left", 310, ABO),
            point("biceps-brachii", "right", 310, ABO),
        ],
    )
    finding = only(check(arms, child(weight=20)), "weight-based-dose")
    assert finding.severity is Severity.BLOCK
    assert "30 U/kg × 20 kg = 600 U" in finding.message
    assert "1,000 U" in finding.message or "1000 U" in finding.message
    assert "620 U" in finding.message


def test_dysport_child_session_cap_counts_the_same_visit():
    """B.13 same-visit: a Dysport entry earlier on the plan date is the same session for the
    pediatric session cap: 400 U earlier + 250 U = 650 U > 600 U for 20 kg."""
    leg = plan(
        product=ABO,
        indication="pediatric-lower-limb-spasticity",
        injections=[point("gastrocnemius-medial", "left", 250, ABO)],
    )
    entries = [history(0, ABO, "pediatric-upper-limb-spasticity", 400)]
    finding = only(check(leg, child(weight=20), entries), "weight-based-dose")
    assert "650 U" in finding.message


def test_xeomin_child_upper_limb_cap():
    """Facts 2.9 (XEO-ULS [L]): ≤ 8 U/kg up to 200 U per single upper limb: 20 kg → 160 U;
    170 U blocks."""
    arm = plan(
        product=INCO,
        indication="pediatric-upper-limb-spasticity",
        injections=[
            point("biceps-brachii", "left", 100, INCO),
            point("brachialis", "left", 70, INCO),
        ],
    )
    finding = only(check(arm, child(weight=20)), "weight-based-dose")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert "8 U/kg × 20 kg = 160 U" in finding.message
    assert "200 U" in finding.message
    assert "170 U" in finding.message


# --- B.26: the per-kg muscle guidance warns ------------------------------------------------


def test_child_per_kg_muscle_guidance_warns_not_blocks():
    """B.26, facts 2.9 (B1-PEDS): biceps 1.5–3 U/kg is guidance: 70 U in a 20 kg child's biceps
    (above 60 U) is a muscle-range warning, not a block."""
    arm = plan(
        indication="pediatric-upper-limb-spasticity",
        injections=points("biceps-brachii", "left", 35, 2),
    )
    result = check(arm, child(weight=20))
    finding = only(result, "muscle-range")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert "biceps-brachii left" in finding.message
    assert "60 U" in finding.message
    assert result.verdict == "warn"


def test_child_per_kg_muscle_guidance_within_range_gives_nothing():
    """B.16: within (or below) the per-kg range nothing is emitted."""
    arm = plan(
        indication="pediatric-upper-limb-spasticity",
        injections=points("biceps-brachii", "left", 30, 2),
    )
    assert check(arm, child(weight=20)).findings == ()


# --- the weight itself (B.9, DESIGN 3.3) ----------------------------------------------------


def test_a_childs_weight_measured_91_days_ago_warns():
    """DESIGN 3.3: a child's weight measured more than 90 days before the plan date gives a
    weight-based-dose warning asking for a current one."""
    measured = DAY - dt.timedelta(days=91)
    result = check(lower_limb_60(), child(weight=20, weight_measured_on=measured))
    finding = only(result, "weight-based-dose")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert "91 days" in finding.message


def test_a_childs_weight_measured_90_days_ago_is_current():
    """DESIGN 3.3: 90 days is not "more than 90 days"."""
    measured = DAY - dt.timedelta(days=90)
    result = check(lower_limb_60(), child(weight=20, weight_measured_on=measured))
    assert weight_findings(result) == []


def test_an_adults_old_weight_gives_nothing():
    """B.9: the weight rule is for children to whom a weight-based rule applies."""
    measured = DAY - dt.timedelta(days=400)
    assert check(plan(), patient(weight=80, weight_measured_on=measured)).findings == ()


def test_requires_weight_for_a_child_with_botox():
    """B.9, B.15: an 8-year-old treated with onabotulinumtoxinA falls under the per-kg window."""
    assert requires_weight(lower_limb_60(), child(weight=None)) is True


def test_requires_no_weight_for_jeuveau_glabellar():
    """B.9: no weight-based rule applies to Jeuveau's glabellar dose, even for a child."""
    assert requires_weight(glabellar_plan(PRABO), child(weight=None)) is False


def test_evaluate_refuses_a_child_without_a_weight_when_one_is_needed():
    """B.9: never silently passed: without weight_kg the check raises MissingWeightError (the
    edges turn it into invalid input)."""
    with pytest.raises(MissingWeightError):
        check(lower_limb_60(), child(weight=None))


def test_xeomin_child_without_upper_limb_points_is_checked_without_a_weight():
    """B.9: a weight is needed when a weight-based rule applies. Xeomin's children's caps are
    per upper limb (facts 2.9); a 16-year-old's glabellar plan has no upper-limb point, so
    `requires_weight` is false and `evaluate` must then check the plan rather than raise."""
    teen = child(age_years=16, weight=None)
    glabellar = glabellar_plan(INCO)
    assert requires_weight(glabellar, teen) is False
    result = check(glabellar, teen)
    assert result.verdict == "warn"  # off-label age only
    assert {f.rule for f in result.findings} == {"off-label"}
