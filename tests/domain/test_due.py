"""When a patient is due for retreatment (facts.md 3.7, B.3): the label interval, the patient's
own wear-off history, and the later of the two."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bontrack.domain.due import (
    TreatedSession,
    due_for,
    due_per_indication,
    in_window,
    label_interval,
    median_days,
)

ONA, ABO, INCO = "onabotulinumtoxinA", "abobotulinumtoxinA", "incobotulinumtoxinA"
LAST = date(2026, 9, 1)


def session(day=LAST, product=ONA, indication="chronic-migraine", **extra):
    return TreatedSession(day, product, indication, **extra)


def wore_off(days, before=200, product=ONA, indication="chronic-migraine"):
    """An earlier session ``before`` days before LAST whose effect wore off ``days`` later."""
    day = LAST - timedelta(days=before)
    return session(day, product, indication, wore_off_on=day + timedelta(days=days))


@pytest.mark.parametrize(
    ("product", "indication", "days"),
    [
        (ONA, "chronic-migraine", 84),  # every 12 weeks
        (ONA, "upper-limb-spasticity", 84),
        (ONA, "pediatric-lower-limb-spasticity", 84),
        (ONA, "blepharospasm", 84),
        (ONA, "cervical-dystonia", 70),  # immunogenicity, B.17
        (ONA, "glabellar-lines", 90),  # cosmetic: at least 90 days
        (ABO, "pediatric-upper-limb-spasticity", 112),  # Dysport: 16 weeks
        (ABO, "cervical-dystonia", 84),
        (INCO, "forehead-lines", 90),
    ],
)
def test_the_earliest_date_is_the_last_session_plus_the_label_interval(product, indication, days):
    due = due_for([session(product=product, indication=indication)], indication)
    assert due.interval_days == days
    assert due.earliest == LAST + timedelta(days=days)
    assert due.due == due.earliest
    assert due.basis == "label"
    assert due.interval_source
    assert f"{days} days" in due.reason


def test_the_touch_up_interval_of_every_product_is_not_a_schedule():
    """The 21-day booster interval (product "*") never sets a due date: bruxism has no label
    interval, so no earliest date."""
    assert label_interval(ONA, "bruxism") is None
    due = due_for([session(indication="bruxism")], "bruxism")
    assert due.earliest is None
    assert due.due is None
    assert due.basis == "none"
    assert "no retreatment interval for bruxism" in due.reason


@pytest.mark.parametrize("indication", ["strabismus", "axillary-hyperhidrosis"])
def test_strabismus_and_axillary_hyperhidrosis_have_no_earliest_date_and_say_why(indication):
    due = due_for([session(indication=indication)], indication)
    assert due.earliest is None
    assert due.interval_days is None
    assert due.due is None
    assert due.basis == "none"
    assert f"No earliest date for {indication}" in due.reason
    assert "no retreatment interval" in due.reason
    assert due.interval_source  # the source of "no interval"


def test_axillary_hyperhidrosis_is_due_when_the_patients_effect_usually_wears_off():
    history = [
        wore_off(190, before=400, indication="axillary-hyperhidrosis"),
        wore_off(210, before=200, indication="axillary-hyperhidrosis"),
        session(indication="axillary-hyperhidrosis"),
    ]
    due = due_for(history, "axillary-hyperhidrosis")
    assert due.earliest is None
    assert due.wear_off_median_days == 200
    assert due.due == LAST + timedelta(days=200)
    assert due.basis == "wear-off"


def test_without_wear_off_history_there_is_no_suggestion():
    due = due_for([session()], "chronic-migraine")
    assert due.wear_off_date is None
    assert due.wear_off_median_days is None
    assert due.wear_off_reports == 0
    assert "No wear-off report" in due.reason


def test_the_due_date_is_the_later_of_the_label_and_the_wear_off_history():
    short = due_for([wore_off(70), wore_off(60, before=300), session()], "chronic-migraine")
    assert short.earliest == LAST + timedelta(days=84)
    assert short.wear_off_date == LAST + timedelta(days=65)
    assert short.due == short.earliest
    assert short.basis == "both"
    assert "(the label interval)" in short.reason
    long = due_for([wore_off(100), wore_off(120, before=300), session()], "chronic-migraine")
    assert long.wear_off_date == LAST + timedelta(days=110)
    assert long.due == long.wear_off_date
    assert "(the wear-off history)" in long.reason


@pytest.mark.parametrize(
    ("days", "median"),
    [([90], 90), ([80, 100, 95], 95), ([80, 100], 90), ([80, 91], 86), ([7, 1, 3, 200], 5)],
)
def test_the_median_of_wear_off_intervals_rounds_half_a_day_up(days, median):
    assert median_days(days) == median


@given(st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=30))
def test_the_median_lies_within_the_intervals_and_splits_them(days):
    m = median_days(days)
    assert min(days) <= m <= max(days)
    assert sum(1 for d in days if d < m) <= len(days) / 2
    assert sum(1 for d in days if d > m) <= len(days) / 2


def test_the_median_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no intervals"):
        median_days([])


def test_wear_off_reports_of_another_product_or_indication_do_not_count():
    history = [
        wore_off(300, product=ABO),
        wore_off(40, indication="cervical-dystonia"),
        session(),
    ]
    due = due_for(history, "chronic-migraine")
    assert due.wear_off_reports == 0
    assert due.wear_off_date is None


def test_the_latest_session_decides_and_its_own_report_counts():
    history = [
        session(LAST - timedelta(days=90)),
        session(LAST, wore_off_on=LAST + timedelta(days=100)),
    ]
    due = due_for(history, "chronic-migraine")
    assert due.last_session == LAST
    assert due.wear_off_median_days == 100


def test_a_session_entered_in_error_is_neither_the_last_session_nor_history():
    history = [
        session(LAST - timedelta(days=90), key="good"),
        session(LAST, entered_in_error=True, key="wrong", wore_off_on=LAST + timedelta(days=5)),
    ]
    due = due_for(history, "chronic-migraine")
    assert due.last_session == LAST - timedelta(days=90)
    assert due.last_key == "good"
    assert due.wear_off_reports == 0
    assert due.due == LAST - timedelta(days=90) + timedelta(days=84)


def test_nothing_is_due_without_a_counting_session_of_the_indication():
    assert due_for([], "chronic-migraine") is None
    assert due_for([session(entered_in_error=True)], "chronic-migraine") is None
    assert due_for([session(indication="blepharospasm")], "chronic-migraine") is None


def test_the_last_sessions_product_chooses_the_interval():
    history = [
        session(LAST - timedelta(days=200), product=ABO, indication="cervical-dystonia"),
        session(LAST, product=ONA, indication="cervical-dystonia"),
    ]
    due = due_for(history, "cervical-dystonia")
    assert (due.product, due.interval_days) == (ONA, 70)


def test_every_indication_treated_soonest_first():
    history = [
        session(LAST, indication="glabellar-lines"),
        session(LAST, indication="chronic-migraine"),
        session(LAST, indication="strabismus"),
        session(LAST, indication="blepharospasm", entered_in_error=True),
    ]
    found = due_per_indication(history)
    assert [d.indication for d in found] == ["chronic-migraine", "glabellar-lines", "strabismus"]
    assert found[-1].due is None


def test_a_due_date_is_in_a_window_that_includes_both_ends():
    due = due_for([session()], "chronic-migraine")
    assert in_window(due, due.due, due.due)
    assert not in_window(due, due.due + timedelta(days=1), due.due + timedelta(days=5))
    none = due_for([session(indication="strabismus")], "strabismus")
    assert not in_window(none, date(2000, 1, 1), date(2100, 1, 1))


def test_an_interval_that_is_bontracks_own_is_never_called_the_labels():
    """B.36: BOTOX in cervical dystonia has no labelled interval; its earliest date rests on
    bontrack's 70 days (B.17), and the reason says so."""
    neck = due_for([session(indication="cervical-dystonia")], "cervical-dystonia")
    assert neck.earliest == LAST + timedelta(days=70)
    assert neck.interval_name == "bontrack's interval (policy B.17)"
    assert neck.reason.startswith("Bontrack's interval (policy B.17) for cervical-dystonia")
    assert "label interval" not in neck.reason
    migraine = due_for([session()], "chronic-migraine")
    assert migraine.interval_name == "the label interval"
