"""Sequences real platforms send, through the pure core (``fold_messages``), with figures worked out by hand.

The sequences and their figures are in tests/real_world_scenario.py (shared with the broker test).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ccpulse.domain.batch import BatchResult, PartitionFold, fold_messages
from ccpulse.domain.contact import event_record, fold_contact
from ccpulse.domain.buckets import interval_figures, merge_buckets
from ccpulse.domain.intervals import iso
from ccpulse.settings import Settings
from schemas.events import decode_event
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


# ---- a transfer that opens a new contact (Amazon Connect, Twilio Flex) -------------------------------------------
def _call(ids: _Ids, cid: str = "k1") -> list[dict[str, Any]]:
    """q1: queued 09:00:00, a1 answers 09:00:10, ends 09:01:10 (talk 60), wraps up 09:01:20 (ACW 10)."""
    return [c(ids, "queued", "09:00:00", cid, channel="voice", queue_id="q1"),
            c(ids, "answered", "09:00:10", cid, agent_id="a1"),
            c(ids, "ended", "09:01:10", cid), c(ids, "wrapped_up", "09:01:20", cid)]


@pytest.mark.parametrize("at", ["09:00:40", "09:01:10", "09:01:15", "09:01:25"],
                         ids=["while talking", "same second as its end", "in ACW", "after its wrap-up"])
def test_a_transfer_opening_a_new_contact_counts_once_and_moves_nothing(at: str) -> None:
    ids = _Ids()
    call = _call(ids)
    transfer = c(ids, "transferred", at, "k1", to_queue_id="q2", opens_new_contact=True)
    for stream in (call + [transfer], [transfer] + call, call[:2] + [transfer] + call[2:]):
        result = fold(stream)
        assert result.rejected == []
        q1, agent = totals(result, "queue", "q1"), totals(result, "agent", "a1")
        # By hand: handled 1 with talk 60 and ACW 10 (AHT 70), the transfer counted on q1 and a1.
        assert (q1["offered"], q1["answered"], q1["handled"], q1["aht_seconds"], q1["transfers"]) == (1, 1, 1, 70.0, 1)
        assert (agent["handled"], agent["aht_seconds"], agent["transfers"]) == (1, 70.0, 1)
        assert totals(result, "queue", "q2")["offered"] == 0  # the new contact is counted as its own
        assert result.contacts == {}


def test_a_transfer_opening_a_new_contact_of_an_unanswered_contact_is_refused() -> None:
    ids = _Ids()
    waiting = [c(ids, "queued", "09:00:00", "k1", channel="voice", queue_id="q1"),
               c(ids, "transferred", "09:00:05", "k1", to_queue_id="q2", opens_new_contact=True),
               c(ids, "abandoned", "09:00:30", "k1")]
    records = [event_record(decode_event(orjson.dumps(e)), orjson.dumps(e), "s", n) for n, e in enumerate(waiting)]
    folded = fold_contact("k1", records, PartitionFold(Settings()).sla)
    # A contact no agent answered was transferred by nobody: the event is an impossible step (dead-lettered
    # when the contact settles), and the abandon stands.
    assert [(event_id, reason) for event_id, reason, _ in folded.anomalies] == [("e-0002", "impossible_transition")]
    q1 = totals(fold(waiting), "queue", "q1")
    assert (q1["offered"], q1["abandoned"], q1["transfers"]) == (1, 1, 0)


def test_a_late_transfer_opening_a_new_contact_leaves_the_open_contact_open() -> None:
    # An email still being handled; its platform's transfer record arrives two hours late. Unlike a late
    # answer or end (which close the contact as expired), it moved nothing: only the record is refused.
    ids = _Ids()
    stream = [c(ids, "queued", "09:00:00", "m1", channel="email", queue_id="mail"),
              c(ids, "answered", "09:05:00", "m1", agent_id="a1"),
              c(ids, "queued", "11:00:00", "k2", channel="voice", queue_id="q1"),
              c(ids, "transferred", "09:06:00", "m1", to_queue_id="q2", opens_new_contact=True)]
    result = fold(stream)
    assert [reason for _, reason in result.rejected] == ["late"] and result.expired == []
    assert result.contacts["m1"]["status"] == "in_progress"
