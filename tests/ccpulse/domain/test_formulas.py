"""Formulas against brute-force recounts of random contact lists (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccpulse.domain import formulas

THRESHOLD, SHORT = 20.0, 5.0
outcomes = st.lists(st.tuples(st.sampled_from(["answered", "abandoned"]), st.floats(0, 600, allow_nan=False)), max_size=60)


def recount(contacts, formula):
    answered = [w for o, w in contacts if o == "answered"]
    abandoned = [w for o, w in contacts if o == "abandoned"]
    within = [w for w in answered if w <= THRESHOLD]
    ab_within = [w for w in abandoned if w <= THRESHOLD]
    long_abandoned = [w for w in abandoned if w >= SHORT]
    if formula == "answered_within_over_answered_abandoned_minus_short":
        denominator = len(answered) + len(long_abandoned)
        return len(within) / denominator if denominator else None
    if formula == "answered_within_over_answered_abandoned":
        denominator = len(answered) + len(abandoned)
        return len(within) / denominator if denominator else None
    if formula == "answered_within_over_answered":
        return len(within) / len(answered) if answered else None
    denominator = len(answered) + len(abandoned)
    return (len(within) + len(ab_within)) / denominator if denominator else None


@pytest.mark.parametrize("formula", list(formulas.SL_FORMULAS))
@given(contacts=outcomes)
def test_service_level_matches_brute_force(formula, contacts) -> None:
    answered = sum(o == "answered" for o, _ in contacts)
    abandoned = sum(o == "abandoned" for o, _ in contacts)
    value = formulas.service_level(
        formula,
        answered=answered,
        abandoned=abandoned,
        short_abandoned=sum(o == "abandoned" and w < SHORT for o, w in contacts),
        answered_within=sum(o == "answered" and w <= THRESHOLD for o, w in contacts),
        abandoned_within=sum(o == "abandoned" and w <= THRESHOLD for o, w in contacts),
    )
    expected = recount(contacts, formula)
    assert value == expected
    assert value is None or 0.0 <= value <= 1.0


@given(contacts=outcomes)
def test_abandon_rate_is_a_share_or_null(contacts) -> None:
    answered = sum(o == "answered" for o, _ in contacts)
    abandoned = sum(o == "abandoned" for o, _ in contacts)
    short = sum(o == "abandoned" and w < SHORT for o, w in contacts)
    rate = formulas.abandon_rate(answered=answered, abandoned=abandoned, short_abandoned=short)
    if answered + abandoned - short == 0:
        assert rate is None
    else:
        assert 0.0 <= rate <= 1.0


def test_zero_denominator_is_null_never_zero_or_one() -> None:
    for formula in formulas.SL_FORMULAS:
        assert formulas.service_level(formula, answered=0, abandoned=0, short_abandoned=0, answered_within=0, abandoned_within=0) is None
    assert formulas.ratio(1, 0) is None and formulas.mean(0, 0) is None
    assert formulas.nps_score(promoters=0, detractors=0, responses=0) is None
    with pytest.raises(ValueError, match="unknown service-level formula"):
        formulas.service_level("nope", answered=1, abandoned=0, short_abandoned=0, answered_within=1, abandoned_within=0)


def test_survey_buckets_on_default_and_other_scales() -> None:
    assert [formulas.csat_satisfied(s, (1, 5)) for s in range(1, 6)] == [False, False, False, True, True]
    assert [formulas.nps_bucket(s, (0, 10)) for s in (0, 6, 7, 8, 9, 10)] == ["detractor", "detractor", "passive", "passive", "promoter", "promoter"]
    assert formulas.nps_bucket(6, (1, 10)) == "detractor" and formulas.nps_bucket(9, (1, 10)) == "promoter"
    assert [formulas.ces_easy(s, (1, 7)) for s in range(1, 8)] == [False] * 4 + [True] * 3
    assert formulas.normalise_score(3, (1, 5), (1, 7)) == 4.0
    assert formulas.nps_score(promoters=3, detractors=1, responses=4) == 50.0


@given(st.integers(0, 1000), st.integers(0, 1000), st.integers(0, 1000))
def test_nps_stays_in_range(promoters, detractors, passives) -> None:
    value = formulas.nps_score(promoters=promoters, detractors=detractors, responses=promoters + detractors + passives)
    assert value is None or -100.0 <= value <= 100.0
