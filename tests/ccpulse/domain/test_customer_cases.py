"""Cases and resolution time: the hand-computed scenario through the batch driver, and properties."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest
from hypothesis import given, settings as hypothesis_settings
from hypothesis import strategies as st

from ccpulse.domain.batch import fold_messages
from ccpulse.domain.buckets import interval_figures, merge_buckets, rollup
from ccpulse.domain.customer import case_contributions, customer_cases, prune_customer
from ccpulse.settings import Settings
from tests.case_scenario import CASE_EVENTS, CASE_EXPECTED, CASE_EXPECTED_DAILY


def at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def figures_of(buckets, dimension: str, entity: str, granularity: str, start: str, settings: Settings) -> dict:
    series = {int(key.rsplit("|", 1)[1]): b for key, b in buckets.items() if key.startswith(f"{dimension}|{entity}|")}
    rows = {s: (c, m) for s, _, c, m in rollup(series, granularity, settings.zone, at(start), at(start) + 1)}
    counters, max_wait = rows.get(at(start), ({}, None))
    return interval_figures(counters, max_wait, settings.channels["voice"])


@pytest.mark.parametrize("expected", [CASE_EXPECTED, CASE_EXPECTED_DAILY], ids=["15m", "1d"])
def test_hand_computed_cases_through_the_batch_driver(expected) -> None:
    settings = Settings(timezone="UTC")
    result = fold_messages([orjson.dumps(e) for e in CASE_EVENTS], settings)
    assert result.rejected == []
    granularity = "15m" if expected is CASE_EXPECTED else "1d"
    for (dimension, entity, start), want in expected.items():
        got = figures_of(result.buckets, dimension, entity, granularity, start, settings)
        assert {k: got[k] for k in want} == want, (dimension, entity, start)


def _rec(queued: float, handled: float | None = None, resolved: bool | None = None, open_: bool = False,
         queue: str = "q", channel: str = "voice", agent: str | None = "a") -> dict:
    return {"queued_at": queued, "handled_at": handled, "resolved": resolved, "open": open_,
            "queue_id": queue, "channel": channel, "agent_id": agent if handled is not None else None}


def test_repeat_contacts_revise_the_case_like_fcr() -> None:
    w = 100.0
    first = {"x": _rec(0, 10)}
    [case] = customer_cases(first, w)
    assert case.resolved_at == 10 and case.contact_ids == ("x",)  # provisionally resolved at its wrap-up
    # A repeat within the window joins it and moves the resolution to the repeat's wrap-up.
    both = {**first, "y": _rec(60, 80)}
    [case] = customer_cases(both, w)
    assert case.contact_ids == ("x", "y") and case.resolved_at == 80
    contrib = case_contributions(both, w)
    assert contrib["queue|q|0"] == {"cases_opened": 1, "cases_resolved": 1, "case_contacts": 2,
                                    "resolution_ms": 80_000, "resolution_business_ms": 80_000}
    # While the repeat is being handled the case is open, counted where it opened.
    ongoing = {**first, "y": _rec(60, None, open_=True)}
    [case] = customer_cases(ongoing, w)
    assert case.open and case.resolved_at is None
    assert case_contributions(ongoing, w) == {"queue|q|0": {"cases_opened": 1, "cases_open": 1},
                                              "channel|voice|0": {"cases_opened": 1, "cases_open": 1}}
    # After the window: a new case. After a resolved wrap-up: a new case.
    assert len(customer_cases({**first, "y": _rec(111, 120)}, w)) == 2
    assert len(customer_cases({"x": _rec(0, 10, resolved=True), "y": _rec(11, 20)}, w)) == 2
    # Only abandoned contacts: never resolved, not open.
    [case] = customer_cases({"x": _rec(0)}, w)
    assert case.resolver is None and not case.open


records = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=2),
    st.builds(lambda q, d, r, o: _rec(q, None if d is None else q + d, r, o and d is None),
              st.integers(0, 1000).map(float), st.one_of(st.none(), st.integers(0, 300).map(float)),
              st.sampled_from([None, True, False]), st.booleans()),
    max_size=8)


@hypothesis_settings(max_examples=300, deadline=None)
@given(records, st.sampled_from([50.0, 200.0]))
def test_every_contact_in_exactly_one_case_and_resolution_follows_opening(contacts, window) -> None:
    cases = customer_cases(contacts, window)
    members = [cid for case in cases for cid in case.contact_ids]
    assert sorted(members) == sorted(contacts)
    for case in cases:
        assert case.opened_at == min(contacts[c]["queued_at"] for c in case.contact_ids)
        if case.resolved_at is not None:
            assert case.resolved_at >= case.opened_at and not case.open
    totals, _ = merge_buckets({"c": b, "tops": []} for k, b in case_contributions(contacts, window).items()
                              if k.startswith("queue|"))
    assert totals.get("cases_opened", 0) == len(cases)
    assert totals.get("cases_resolved", 0) == sum(c.resolver is not None for c in cases)
    assert totals.get("case_contacts", 0) == sum(len(c.contact_ids) for c in cases if c.resolver is not None)


@hypothesis_settings(max_examples=300, deadline=None)
@given(records, st.floats(0, 1500))
def test_pruning_keeps_or_drops_whole_cases(contacts, horizon) -> None:
    window = 100.0
    kept = prune_customer(contacts, horizon, window)
    whole = {c.contact_ids: c for c in customer_cases(contacts, window)}
    for case in customer_cases(kept, window):
        assert case.contact_ids in whole  # no case is cut in two by pruning
