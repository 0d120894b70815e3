"""Sequences real platforms send, through the pure core (``fold_messages``), with figures worked out by hand.

The sequences and their figures are in tests/real_world_scenario.py (shared with the broker test).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ccpulse.domain.batch import BatchResult, fold_messages
from ccpulse.domain.buckets import interval_figures, merge_buckets
from ccpulse.domain.intervals import iso
from ccpulse.settings import Settings
from tests.real_world_scenario import CASES, DAY, _Ids, a, c

_ids = _Ids()


def fold(events: list[dict[str, Any]], **settings: Any) -> BatchResult:
    return fold_messages([orjson.dumps(e) for e in events], Settings(**settings))


def totals(result: BatchResult, dimension: str, entity: str, channel: str = "voice") -> dict[str, Any]:
    """The entity's figures over the whole day (every bucket summed)."""
    buckets = [b for k, b in result.buckets.items() if k.startswith(f"{dimension}|{entity}|")]
    counters, max_wait = merge_buckets(buckets)
    return interval_figures(counters, max_wait, Settings().queue(entity, channel))


@pytest.mark.parametrize("case", list(CASES))
def test_case_figures_equal_those_worked_out_by_hand(case: str) -> None:
    events, expected = CASES[case]
    result = fold(events)
    assert result.rejected == []
    for (dimension, entity), figures in expected.items():
        got = totals(result, dimension, entity)
        assert {name: got[name] for name in figures} == figures, (dimension, entity)
    assert result.contacts == {}  # every contact of every case has finished


def test_agent_live_state_after_two_changes_in_one_second() -> None:
    # available then on_contact in the same second (sent in that order): the agent is on_contact since 09:01:00,
    # whichever way the event ids sort.
    for ids in (("x-available", "a-on-contact"), ("a-available", "x-on-contact")):
        result = fold([a(_ids, "09:00:00", "a1", "after_contact_work", queue_ids=["q1"]),
                       a(_ids, "09:01:00", "a1", "available", event_id=ids[0]),
                       a(_ids, "09:01:00", "a1", "on_contact", event_id=ids[1])])
        row = result.agents["a1"]
        assert (row["state"], iso(row["since"])) == ("on_contact", f"{DAY}T09:01:00Z")


def test_without_tolerance_the_timestamps_decide() -> None:
    # The skewed stream with the tolerance set to 0: the entry into B (09:02:59.8) comes before the transfer
    # (09:03:00), so the contact leaves A as moved while talking and the transfer finds it waiting in B.
    events, _ = CASES["skewed-queue-entry"]
    result = fold(events, skew_tolerance_seconds=0)
    assert totals(result, "queue", "B")["answered"] == 0


@pytest.mark.parametrize(("scale", "scores", "expected"), [
    ((1, 3), [3, 2, 1, 3], 0.5),      # 3-point: only 3 is satisfied
    ((1, 4), [4, 3, 3, 1], 0.25),     # 4-point: only 4
    ((1, 5), [5, 4, 3, 1], 0.5),      # 5-point: top two (4 and 5)
    ((0, 10), [10, 9, 8, 0], 0.5),    # 11-point: top two (9 and 10)
])
def test_csat_satisfied_is_the_top_box_of_its_scale(scale, scores, expected) -> None:
    stream: list[dict] = []
    for n, score in enumerate(scores):
        cid = f"s{n}"
        stream += [c(_ids, "queued", f"09:0{n}:00", cid, channel="voice", queue_id="q1"),
                   c(_ids, "responded", f"09:0{n}:40", cid, survey="csat", score=score, scale_min=scale[0], scale_max=scale[1])]
    assert totals(fold(stream), "queue", "q1")["csat"] == expected
