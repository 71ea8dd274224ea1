"""Per session, per injection point and per muscle (facts 2.1, 2.3, 2.5–2.9, 2.12;
B.13, B.14, B.16, B.24–B.27)."""

from bontrack.domain.catalog.model import Severity
from tests.domain.factories import (
    ABO,
    DAXI,
    INCO,
    check,
    child,
    history,
    of_rule,
    only,
    patient,
    plan,
    point,
    points,
    sites_of,
    vial,
)

# --- session totals (B.13, B.25, B.27) ------------------------------------------------------


def dysport_legs(amount_each=150):
    """Dysport adult lower limb spasticity: four muscles of the left leg."""
    return plan(
        product=ABO,
        indication="lower-limb-spasticity",
        injections=[
            point("gastrocnemius-medial", "left", amount_each, ABO),
            point("gastrocnemius-lateral", "left", amount_each, ABO),
            point("soleus", "left", amount_each, ABO),
            point("tibialis-posterior", "left", amount_each, ABO),
        ],
    )


def test_dysport_adult_session_total_counts_the_same_visit():
    """B.25 dysport-session, B.13 same-visit, facts 2.1 (DYS-ADULT [L] ≤ 1,500 U per session):
    1,000 U for the arm earlier that day + 600 U planned for the leg = 1,600 U blocks."""
    entries = [history(0, ABO, "upper-limb-spasticity", 1000)]
    result = check(dysport_legs(150), patient(), entries)
    finding = only(result, "session-total")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert "1600 U" in finding.message
    assert "1500 U" in finding.message
    assert "600 U planned" in finding.message
    assert "DYS-ADULT" in finding.source


def test_dysport_adult_session_total_alone_within_limit():
    """B.25: 600 U alone is well within 1,500 U; an earlier day is another session."""
    assert of_rule(check(dysport_legs(150)), "session-total") == []
    entries = [history(1, ABO, "upper-limb-spasticity", 1000)]
    assert of_rule(check(dysport_legs(150), patient(), entries), "session-total") == []


def test_daxxify_glabellar_maximum_is_40_units():
    """B.27, facts 2.12 (DAX-PI [L] "40 U maximum per session"): 41 U blocks, 40 U does not."""
    forty = plan(product=DAXI, indication="glabellar-lines", protocol="glabellar-daxxify-40")
    assert of_rule(check(forty), "session-total") == []
    forty_one = plan(
        product=DAXI,
        indication="glabellar-lines",
        injections=[
            point("procerus", "midline", 9, DAXI),
            *points("corrugator", "left", 8, 2, DAXI),
            *points("corrugator", "right", 8, 2, DAXI),
        ],
    )
    finding = only(check(forty_one), "session-total")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert "41 U" in finding.message


def test_xeomin_400_units_per_session_only_warns():
    """B.24 tags-and-blocks, facts 2.1 (older Xeomin PI; current wording [U]): 410 U in one
    session is a session-total warning, never a block."""
    arm = plan(
        product=INCO,
        indication="upper-limb-spasticity",
        injections=[
            point("biceps-brachii", "left", 200, INCO),
            point("brachialis", "left", 100, INCO),
            point("brachioradialis", "left", 100, INCO),
            point("flexor-carpi-radialis", "left", 10, INCO),
        ],
    )
    result = check(arm)
    finding = only(result, "session-total")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert "410 U" in finding.message
    assert result.verdict == "warn"


# --- per injection point (B.26) --------------------------------------------------------------


def test_botox_50_units_per_site_warns_naming_every_site_over():
    """B.26 per-point-and-muscle, facts 2.1/2.3 ("in general, no more than 50 U per site"):
    one site-limit warning naming every point above 50 U, none for the others."""
    cd = plan(
        indication="cervical-dystonia",
        injections=[
            point("sternocleidomastoid", "left", 60),
            point("splenius-capitis", "right", 55),
            point("trapezius", "left", 40),
        ],
    )
    result = check(cd)
    finding = only(result, "site-limit")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert sites_of(finding) == {("sternocleidomastoid", "left"), ("splenius-capitis", "right")}
    assert "sternocleidomastoid left 60 U" in finding.message
    assert "splenius-capitis right 55 U" in finding.message
    assert "trapezius" not in finding.message


def test_botox_50_units_per_site_applies_in_spasticity():
    """B.26: the figure covers spasticity too (section 2.8 writes only "≤ 50 U per site")."""
    leg = plan(
        indication="lower-limb-spasticity",
        injections=[point("soleus", "left", 75), point("tibialis-posterior", "left", 50)],
    )
    finding = only(check(leg), "site-limit")
    assert sites_of(finding) == {("soleus", "left")}


def test_50_units_per_site_is_botox_only():
    """B.26: "Rules apply only to the product whose label states them": 100 U of Dysport in
    one point is no site-limit finding (without a vial, no volume rule either)."""
    arm = plan(
        product=ABO,
        indication="upper-limb-spasticity",
        injections=[
            point("biceps-brachii", "left", 200, ABO),
            point("brachialis", "left", 300, ABO),
        ],
    )
    assert of_rule(check(arm), "site-limit") == []


def test_blepharospasm_above_5_units_per_site_warns():
    """B.26, facts 2.5 ("little benefit above 5 U per site"): 6 U in one point warns."""
    bleph = plan(
        indication="blepharospasm",
        injections=[
            point("orbicularis-oculi", "left", 6),
            *points("orbicularis-oculi", "right", 5, 3),
        ],
    )
    finding = only(check(bleph), "site-limit")
    assert finding.severity is Severity.WARN
    assert sites_of(finding) == {("orbicularis-oculi", "left")}


def test_dysport_adult_point_volume_above_1_ml_warns_with_a_vial():
    """B.23, facts 1.2 (adults ≤ 1 mL per site): 500 U + 5 mL is 10 U/0.1 mL, so 110 U is 1.1 mL
    in one point: a site-limit warning."""
    arm = plan(
        product=ABO,
        indication="upper-limb-spasticity",
        injections=[
            point("biceps-brachii", "left", 110, ABO),
            point("brachialis", "left", 100, ABO),
        ],
        vials=[vial(500, ABO, diluent_ml=5)],
    )
    finding = only(check(arm), "site-limit")
    assert finding.severity is Severity.WARN
    assert sites_of(finding) == {("biceps-brachii", "left")}
    assert "1.1 mL" in finding.message


def test_dysport_point_volume_without_a_vial_gives_nothing():
    """B.23: the volume rule runs only where a vial gives the concentration."""
    arm = plan(
        product=ABO,
        indication="upper-limb-spasticity",
        injections=[
            point("biceps-brachii", "left", 110, ABO),
            point("brachialis", "left", 100, ABO),
        ],
    )
    assert of_rule(check(arm), "site-limit") == []


# --- per muscle (B.14, B.26, B.27) ------------------------------------------------------------


def strabismus(*injections):
    return plan(indication="strabismus", injections=injections)


def test_strabismus_above_25_units_in_one_muscle_blocks():
    """B.27 maxima, facts 2.6 ("maximum single injection, any one muscle: 25 U"): 26 U in the
    left medial rectus is a muscle-range block, overridable (B.7)."""
    result = check(strabismus(point("medial-rectus", "left", 26)))
    finding = only(result, "muscle-range")
    assert finding.severity is Severity.BLOCK
    assert finding.overridable is True
    assert sites_of(finding) == {("medial-rectus", "left")}
    assert "25 U" in finding.message
    assert result.verdict == "block"


def test_strabismus_25_units_in_one_muscle_is_allowed():
    """Facts 2.6: 25 U is the maximum, not above it; each eye's muscle is its own (B.14)."""
    result = check(
        strabismus(point("medial-rectus", "left", 25), point("medial-rectus", "right", 25))
    )
    assert of_rule(result, "muscle-range") == []


def test_sternocleidomastoid_over_100_units_both_sides_together_warns():
    """B.14 both-sides, facts 2.3 ("limit the SCM total to ≤ 100 U"): 60 U left + 45 U right =
    105 U is one muscle-range warning for both sides together."""
    cd = plan(
        indication="cervical-dystonia",
        injections=[
            *points("sternocleidomastoid", "left", 30, 2),
            point("sternocleidomastoid", "right", 45),
        ],
    )
    finding = only(check(cd), "muscle-range")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert "both sides" in finding.message
    assert "105 U" in finding.message
    assert sites_of(finding) == {("sternocleidomastoid", "left"), ("sternocleidomastoid", "right")}


def test_sternocleidomastoid_at_100_units_both_sides_gives_nothing():
    """Facts 2.3: 50 U + 50 U = 100 U is "≤ 100 U"."""
    cd = plan(
        indication="cervical-dystonia",
        injections=[
            point("sternocleidomastoid", "left", 50),
            point("sternocleidomastoid", "right", 50),
        ],
    )
    assert check(cd).findings == ()


def lower_limb(medial, lateral):
    """Adult lower limb spasticity with the labelled 75 U in soleus and tibialis posterior."""
    return plan(
        indication="lower-limb-spasticity",
        injections=[
            *points("gastrocnemius-medial", "left", medial // 3, 3),
            *points("gastrocnemius-lateral", "left", lateral // 3, 3),
            *points("soleus", "left", 25, 3),
            *points("tibialis-posterior", "left", 25, 3),
        ],
    )


def test_gastrocnemius_medial_and_lateral_heads_are_two_muscles():
    """B.26: muscle-range reads one site code per side, so the medial and lateral gastrocnemius
    (75 U each, facts 2.8) are two muscles: 75 U + 75 U is within range."""
    result = check(lower_limb(75, 75))
    assert of_rule(result, "muscle-range") == []
    assert result.findings == ()


def test_gastrocnemius_medial_head_above_its_range_warns_alone():
    """B.26, B.27: 90 U in the medial head (range 75 U) warns for that head only."""
    finding = only(check(lower_limb(90, 75)), "muscle-range")
    assert finding.severity is Severity.WARN
    assert sites_of(finding) == {("gastrocnemius-medial", "left")}


def test_adult_upper_limb_muscle_above_its_range_warns():
    """B.27, facts 2.7: biceps 60–200 U is a recommended range: 210 U (5 × 42 U) is a
    muscle-range warning, not a block."""
    arm = plan(
        indication="upper-limb-spasticity", injections=points("biceps-brachii", "left", 42, 5)
    )
    result = check(arm)
    finding = only(result, "muscle-range")
    assert finding.severity is Severity.WARN
    assert finding.overridable is False
    assert "210 U" in finding.message
    assert "200 U" in finding.message
    assert result.verdict == "warn"


def test_below_a_recommended_range_gives_nothing():
    """B.16 dose-words: "below a labelled range nothing is emitted": biceps 30 U (range 60–200)
    in a 30 U session (range 75–400)."""
    arm = plan(
        indication="upper-limb-spasticity", injections=points("biceps-brachii", "left", 15, 2)
    )
    assert check(arm).findings == ()


def test_muscle_range_is_per_side():
    """B.14: a limit is per side: 200 U in each biceps is within 60–200 U per muscle."""
    arms = plan(
        indication="upper-limb-spasticity",
        injections=[
            *points("biceps-brachii", "left", 40, 5),
            *points("biceps-brachii", "right", 40, 5),
        ],
    )
    assert of_rule(check(arms), "muscle-range") == []


def test_dysport_child_point_volume_above_half_a_ml_warns():
    """B.23, facts 1.2/2.9 (children ≤ 0.5 mL per site): 500 U + 5 mL is 10 U/0.1 mL, so 60 U
    in one point is 0.6 mL: a site-limit warning for a child."""
    leg = plan(
        product=ABO,
        indication="pediatric-lower-limb-spasticity",
        injections=[point("gastrocnemius-medial", "left", 60, ABO)],
        vials=[vial(500, ABO, diluent_ml=5)],
    )
    finding = only(check(leg, child(weight=20)), "site-limit")
    assert finding.severity is Severity.WARN
    assert "0.6 mL" in finding.message
    assert of_rule(check(leg, patient()), "site-limit") == []  # 0.6 mL is fine for an adult


def test_xeomin_session_total_counts_the_same_visit():
    """B.13 same-visit: Xeomin's per-session figure counts an earlier Xeomin entry of the same
    day, whatever its indication: 300 U for cervical dystonia + 150 U for the arm = 450 U."""
    arm = plan(
        product=INCO,
        indication="upper-limb-spasticity",
        injections=[
            point("biceps-brachii", "left", 100, INCO),
            point("brachialis", "left", 50, INCO),
        ],
    )
    entries = [history(0, INCO, "cervical-dystonia", 300)]
    finding = only(check(arm, patient(), entries), "session-total")
    assert finding.severity is Severity.WARN
    assert "450 U" in finding.message
