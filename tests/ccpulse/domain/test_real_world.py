"""Sequences real platforms send, through the pure core (``fold_messages``), with figures worked out by hand.

Settings are the defaults: voice threshold 20 s, short abandon 5 s, skew tolerance 1 s. Every
scenario happens on Monday 2026-03-02 (UTC) unless it says otherwise. The message list order is
the producer's order (the offset within the partition); where a case says "either way", it runs
with the same-second events in both producer orders.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ccpulse.domain.batch import BatchResult, fold_messages
from ccpulse.domain.buckets import interval_figures, merge_buckets
from ccpulse.domain.intervals import iso
from ccpulse.settings import Settings

DAY = "2026-03-02"
_seq = iter(range(1, 1_000_000))


def c(kind: str, hms: str, contact: str, **fields: Any) -> dict[str, Any]:
    """A contact, survey or QA event at ``hms`` (fractions allowed: ``09:02:59.8``)."""
    prefix = "survey" if kind in ("responded",) else "qa" if kind == "evaluated" else "contact"
    return {"event_id": f"e-{next(_seq):06d}", "type": f"{prefix}.{kind}", "occurred_at": f"{DAY}T{hms}Z",
            "contact_id": contact, **fields}


def a(hms: str, agent: str, state: str, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id or f"g-{next(_seq):06d}", "type": "agent.state_changed",
            "occurred_at": f"{DAY}T{hms}Z", "agent_id": agent, "state": state, **fields}


def fold(events: list[dict[str, Any]], **settings: Any) -> BatchResult:
    return fold_messages([orjson.dumps(e) for e in events], Settings(**settings))


def totals(result: BatchResult, dimension: str, entity: str, channel: str = "voice") -> dict[str, Any]:
    """The entity's figures over the whole day (every bucket summed)."""
    buckets = [b for k, b in result.buckets.items() if k.startswith(f"{dimension}|{entity}|")]
    counters, max_wait = merge_buckets(buckets)
    return interval_figures(counters, max_wait, Settings().queue(entity, channel))


def pick(figures: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: figures[n] for n in names}


def both_orders(before: list[dict], same_second: list[dict], after: list[dict]) -> list[list[dict]]:
    """The stream with the same-second events in the producer's order given, and reversed."""
    return [before + same_second + after, before + same_second[::-1] + after]


# ---- §1: events of one contact that share a timestamp ---------------------------------------------
@pytest.mark.parametrize("order", [0, 1])
def test_flow_out_and_queue_into_another_queue_in_the_same_second(order: int) -> None:
    # q1: offered 1, flowed out 1 (waited 60 s). q2: offered 1, answered 1 after 10 s, talk 120 s, ACW 10 s.
    stream = both_orders(
        [c("queued", "09:00:00", "k1", channel="voice", queue_id="q1")],
        [c("flowed_out", "09:01:00", "k1", reason="overflow"), c("queued", "09:01:00", "k1", channel="voice", queue_id="q2")],
        [c("answered", "09:01:10", "k1", agent_id="a1"), c("ended", "09:03:10", "k1"), c("wrapped_up", "09:03:20", "k1")],
    )[order]
    result = fold(stream)
    assert result.rejected == []
    assert pick(totals(result, "queue", "q1"), "offered", "flowed_out", "answered", "abandoned") == \
        {"offered": 1, "flowed_out": 1, "answered": 0, "abandoned": 0}
    assert pick(totals(result, "queue", "q2"), "offered", "answered", "asa_seconds", "handled", "aht_seconds", "flowed_out") == \
        {"offered": 1, "answered": 1, "asa_seconds": 10.0, "handled": 1, "aht_seconds": 130.0, "flowed_out": 0}


@pytest.mark.parametrize("order", [0, 1])
def test_flow_out_to_a_callback_queue_in_the_same_second(order: int) -> None:
    # q1: offered 1, flowed out 1 (callback). cb: offered 1, answered 1 (the call back, 20 min later).
    stream = both_orders(
        [c("queued", "09:00:00", "k2", channel="voice", queue_id="q1")],
        [c("flowed_out", "09:00:30", "k2", reason="callback"), c("queued", "09:00:30", "k2", channel="voice", queue_id="cb")],
        [c("answered", "09:20:30", "k2", agent_id="a1"), c("ended", "09:22:30", "k2"), c("wrapped_up", "09:22:30", "k2")],
    )[order]
    result = fold(stream)
    assert result.rejected == []
    assert pick(totals(result, "queue", "q1"), "offered", "flowed_out", "abandoned") == {"offered": 1, "flowed_out": 1, "abandoned": 0}
    assert pick(totals(result, "queue", "cb"), "offered", "answered", "abandoned", "short_abandoned", "asa_seconds", "handled") == \
        {"offered": 1, "answered": 1, "abandoned": 0, "short_abandoned": 0, "asa_seconds": 1200.0, "handled": 1}


@pytest.mark.parametrize("order", [0, 1])
def test_abandon_and_queue_into_a_callback_queue_in_the_same_second(order: int) -> None:
    # The caller hangs up after 40 s and the ACD books a callback at that second.
    # q1: abandoned 1 (40 s: not short), no flow-out. cb: offered 1, no abandon at all (no 0-s short abandon).
    stream = both_orders(
        [c("queued", "09:00:00", "k3", channel="voice", queue_id="q1")],
        [c("abandoned", "09:00:40", "k3"), c("queued", "09:00:40", "k3", channel="voice", queue_id="cb")],
        [c("answered", "09:30:00", "k3", agent_id="a1"), c("ended", "09:31:00", "k3"), c("wrapped_up", "09:31:05", "k3")],
    )[order]
    result = fold(stream)
    assert result.rejected == []
    assert pick(totals(result, "queue", "q1"), "offered", "abandoned", "short_abandoned", "flowed_out", "avg_abandon_seconds") == \
        {"offered": 1, "abandoned": 1, "short_abandoned": 0, "flowed_out": 0, "avg_abandon_seconds": 40.0}
    assert pick(totals(result, "queue", "cb"), "offered", "abandoned", "short_abandoned", "answered") == \
        {"offered": 1, "abandoned": 0, "short_abandoned": 0, "answered": 1}


@pytest.mark.parametrize("order", [0, 1])
def test_bot_answers_and_transfers_within_one_second(order: int) -> None:
    # Queued in q1 at 09:00:00 (100 s into the scenario's minute is not needed: 09:01:40 is 100 s later).
    # At 09:01:40 the IVR bot answers, transfers to q2 and the contact enters q2: all in one second.
    # q1: answered 1 by bot (wait 100 s), transfers 1, handled 1 (talk 0). q2: offered 1, answered by a2 after 20 s.
    stream = both_orders(
        [c("queued", "09:00:00", "k4", channel="voice", queue_id="q1")],
        [c("answered", "09:01:40", "k4", agent_id="bot"), c("transferred", "09:01:40", "k4", to_queue_id="q2"),
         c("queued", "09:01:40", "k4", channel="voice", queue_id="q2")],
        [c("answered", "09:02:00", "k4", agent_id="a2"), c("ended", "09:05:00", "k4"), c("wrapped_up", "09:05:10", "k4")],
    )[order]
    result = fold(stream)
    assert result.rejected == []
    assert pick(totals(result, "queue", "q1"), "offered", "answered", "asa_seconds", "transfers", "handled", "flowed_out") == \
        {"offered": 1, "answered": 1, "asa_seconds": 100.0, "transfers": 1, "handled": 1, "flowed_out": 0}
    assert pick(totals(result, "agent", "bot"), "answered", "handled", "transfers", "aht_seconds") == \
        {"answered": 1, "handled": 1, "transfers": 1, "aht_seconds": 0.0}
    assert pick(totals(result, "queue", "q2"), "offered", "answered", "asa_seconds", "handled", "aht_seconds") == \
        {"offered": 1, "answered": 1, "asa_seconds": 20.0, "handled": 1, "aht_seconds": 190.0}
    assert pick(totals(result, "agent", "a2"), "answered", "handled") == {"answered": 1, "handled": 1}


@pytest.mark.parametrize("order", [0, 1])
def test_ended_and_wrapped_up_in_the_same_second(order: int) -> None:
    # Answered after 15 s, talk 300 s, no ACW: handled 1, AHT 300 s, nothing rejected.
    stream = both_orders(
        [c("queued", "09:00:00", "k5", channel="voice", queue_id="q1"), c("answered", "09:00:15", "k5", agent_id="a1")],
        [c("ended", "09:05:15", "k5"), c("wrapped_up", "09:05:15", "k5")],
        [],
    )[order]
    result = fold(stream)
    assert result.rejected == []
    assert pick(totals(result, "queue", "q1"), "handled", "aht_seconds", "avg_acw_seconds", "answered_within_sl") == \
        {"handled": 1, "aht_seconds": 300.0, "avg_acw_seconds": 0.0, "answered_within_sl": 1}
    assert result.contacts == {}


@pytest.mark.parametrize("ids", [("x-available", "a-on-contact"), ("a-available", "x-on-contact")])
def test_agent_states_in_the_same_second_follow_the_producer(ids: tuple[str, str]) -> None:
    # ACW from 09:00:00; at 09:01:00 ACW ends (available) and the next call is auto-answered (on_contact),
    # sent in that order. ACW 60 s, available 0 s; the live state is on_contact since 09:01:00.
    stream = [
        a("09:00:00", "a1", "after_contact_work", queue_ids=["q1"]),
        a("09:01:00", "a1", "available", event_id=ids[0]),
        a("09:01:00", "a1", "on_contact", event_id=ids[1]),
    ]
    result = fold(stream)
    got = totals(result, "agent", "a1")
    assert pick(got, "after_contact_work_seconds", "available_seconds", "on_contact_seconds") == \
        {"after_contact_work_seconds": 60.0, "available_seconds": 0.0, "on_contact_seconds": 0.0}
    row = result.agents["a1"]
    assert (row["state"], iso(row["since"])) == ("on_contact", f"{DAY}T09:01:00Z")


# ---- §2: clock skew between sources ---------------------------------------------------------------
@pytest.mark.parametrize("order", [0, 1])
def test_queue_entry_stamped_before_the_transfer_by_another_clock(order: int) -> None:
    # A: queued 09:00:00, answered 09:00:10 by a1, transferred at 09:03:00 (ACD clock) to B; the contact's
    # entry into B is stamped 09:02:59.8 by a clock 200 ms behind. Answered in B at 09:03:20.
    # A: handled 1 (talk 170 s), transfers 1, no flow-out. B: offered 1, answered 1, ASA 20.2 s.
    stream = both_orders(
        [c("queued", "09:00:00", "k6", channel="voice", queue_id="A"), c("answered", "09:00:10", "k6", agent_id="a1")],
        [c("transferred", "09:03:00", "k6", to_queue_id="B"), c("queued", "09:02:59.8", "k6", channel="voice", queue_id="B")],
        [c("answered", "09:03:20", "k6", agent_id="a2"), c("ended", "09:04:20", "k6"), c("wrapped_up", "09:04:30", "k6")],
    )[order]
    result = fold(stream)
    assert result.rejected == []
    assert pick(totals(result, "queue", "A"), "handled", "transfers", "flowed_out", "aht_seconds") == \
        {"handled": 1, "transfers": 1, "flowed_out": 0, "aht_seconds": 170.0}
    assert pick(totals(result, "queue", "B"), "offered", "answered", "asa_seconds", "flowed_out", "handled") == \
        {"offered": 1, "answered": 1, "asa_seconds": 20.2, "flowed_out": 0, "handled": 1}


def test_without_tolerance_the_timestamps_decide() -> None:
    # The same stream with the tolerance set to 0: the entry into B (09:02:59.8) comes before the transfer,
    # so the contact leaves A as if moved while talking (an implicit transfer) — what a zero tolerance means.
    stream = [c("queued", "09:00:00", "k7", channel="voice", queue_id="A"), c("answered", "09:00:10", "k7", agent_id="a1"),
              c("transferred", "09:03:00", "k7", to_queue_id="B"), c("queued", "09:02:59.8", "k7", channel="voice", queue_id="B"),
              c("answered", "09:03:20", "k7", agent_id="a2")]
    result = fold(stream, skew_tolerance_seconds=0)
    assert totals(result, "queue", "B")["answered"] == 0  # the transfer then found the contact waiting in B


def test_durations_are_never_negative_under_skew() -> None:
    # ended stamped 300 ms before answered by the desktop's clock: talk counts 0, not −0.3 s.
    stream = [c("queued", "09:00:00", "k8", channel="voice", queue_id="q1"), c("answered", "09:00:10", "k8", agent_id="a1"),
              c("ended", "09:00:09.7", "k8"), c("wrapped_up", "09:00:20", "k8")]
    result = fold(stream)
    assert result.rejected == []
    got = totals(result, "queue", "q1")
    assert pick(got, "handled", "avg_talk_seconds", "avg_acw_seconds") == {"handled": 1, "avg_talk_seconds": 0.0, "avg_acw_seconds": 10.3}


# ---- §4: rules a supervisor expects ---------------------------------------------------------------
def test_agent_to_agent_transfer_gives_each_agent_its_leg() -> None:
    # a1 answers after 10 s, talks 600 s, transfers to a2; a2 talks 120 s, ACW 30 s; CSAT 5 afterwards.
    # a1: handled 1, AHT 600 s. a2: handled 1, AHT 150 s. Queue: handled 1, AHT 750 s. CSAT credit: a2.
    stream = [
        c("queued", "09:00:00", "k9", channel="voice", queue_id="q1"),
        c("answered", "09:00:10", "k9", agent_id="a1"),
        c("transferred", "09:10:10", "k9", to_agent_id="a2"),
        c("ended", "09:12:10", "k9"),
        c("wrapped_up", "09:12:40", "k9"),
        c("responded", "09:20:00", "k9", survey="csat", score=5),
    ]
    result = fold(stream)
    assert result.rejected == []
    assert pick(totals(result, "agent", "a1"), "answered", "handled", "aht_seconds", "transfers", "csat_responses") == \
        {"answered": 1, "handled": 1, "aht_seconds": 600.0, "transfers": 1, "csat_responses": 0}
    assert pick(totals(result, "agent", "a2"), "answered", "handled", "aht_seconds", "avg_acw_seconds", "csat_responses") == \
        {"answered": 0, "handled": 1, "aht_seconds": 150.0, "avg_acw_seconds": 30.0, "csat_responses": 1}
    assert pick(totals(result, "queue", "q1"), "offered", "answered", "handled", "aht_seconds", "transfers", "csat") == \
        {"offered": 1, "answered": 1, "handled": 1, "aht_seconds": 750.0, "transfers": 1, "csat": 1.0}


def test_agent_to_agent_transfer_with_hold_splits_the_hold_by_leg() -> None:
    # a1: talk 09:00:10–09:05:10 with 60 s hold (09:04:00–09:05:00) → talk 240 s, hold 60 s.
    # a2: 09:05:10–09:06:10, hold 20 s → talk 40 s, hold 20 s; no ACW. Queue: talk 280 s, hold 80 s.
    stream = [
        c("queued", "09:00:00", "k10", channel="voice", queue_id="q1"),
        c("answered", "09:00:10", "k10", agent_id="a1"),
        c("hold_started", "09:04:00", "k10"), c("hold_ended", "09:05:00", "k10"),
        c("transferred", "09:05:10", "k10", to_agent_id="a2"),
        c("hold_started", "09:05:30", "k10"), c("hold_ended", "09:05:50", "k10"),
        c("ended", "09:06:10", "k10"), c("wrapped_up", "09:06:10", "k10"),
    ]
    result = fold(stream)
    assert pick(totals(result, "agent", "a1"), "handled", "avg_talk_seconds", "avg_hold_seconds", "hold_count") == \
        {"handled": 1, "avg_talk_seconds": 240.0, "avg_hold_seconds": 60.0, "hold_count": 1}
    assert pick(totals(result, "agent", "a2"), "handled", "avg_talk_seconds", "avg_hold_seconds", "hold_count") == \
        {"handled": 1, "avg_talk_seconds": 40.0, "avg_hold_seconds": 20.0, "hold_count": 1}
    assert pick(totals(result, "queue", "q1"), "handled", "avg_talk_seconds", "avg_hold_seconds", "hold_count") == \
        {"handled": 1, "avg_talk_seconds": 280.0, "avg_hold_seconds": 80.0, "hold_count": 2}


def test_requeue_into_the_same_queue_continues_the_wait() -> None:
    # Queued 09:00:00, re-queued into the same queue at 09:00:45 (ring-no-answer), answered 09:00:55:
    # offered 1, ASA 55 s, not within the 20 s threshold, no flow-out.
    stream = [c("queued", "09:00:00", "k11", channel="voice", queue_id="q1"),
              c("queued", "09:00:45", "k11", channel="voice", queue_id="q1"),
              c("answered", "09:00:55", "k11", agent_id="a1")]
    result = fold(stream)
    assert pick(totals(result, "queue", "q1"), "offered", "answered", "asa_seconds", "answered_within_sl", "flowed_out", "max_wait_seconds") == \
        {"offered": 1, "answered": 1, "asa_seconds": 55.0, "answered_within_sl": 0, "flowed_out": 0, "max_wait_seconds": 55.0}


def test_csat_on_a_thumbs_scale_counts_only_thumbs_up() -> None:
    # One thumbs up and three down on a 0–1 scale: CSAT 1/4 = 0.25.
    stream: list[dict] = []
    for n, score in enumerate([1, 0, 0, 0]):
        cid = f"t{n}"
        stream += [c("queued", f"09:0{n}:00", cid, channel="voice", queue_id="q1"),
                   c("answered", f"09:0{n}:05", cid, agent_id="a1"),
                   c("ended", f"09:0{n}:30", cid), c("wrapped_up", f"09:0{n}:35", cid),
                   c("responded", f"09:0{n}:40", cid, survey="csat", score=score, scale_min=0, scale_max=1)]
    got = totals(fold(stream), "queue", "q1")
    assert pick(got, "csat_responses", "csat") == {"csat_responses": 4, "csat": 0.25}


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
        stream += [c("queued", f"09:0{n}:00", cid, channel="voice", queue_id="q1"),
                   c("responded", f"09:0{n}:40", cid, survey="csat", score=score, scale_min=scale[0], scale_max=scale[1])]
    assert totals(fold(stream), "queue", "q1")["csat"] == expected


def test_a_call_back_during_the_first_contacts_acw_is_a_repeat() -> None:
    # x1: dropped at 10:00 (ended), the agent wraps up at 10:03. The customer calls back at 10:01 (x2),
    # resolved at its wrap-up. x1 is repeated, x2 resolved: FCR rate 1/2 = 0.5.
    stream = [
        c("queued", "09:55:00", "x1", channel="voice", queue_id="q1", customer_id="cust-9"),
        c("answered", "09:55:10", "x1", agent_id="a1"),
        c("ended", "10:00:00", "x1"),
        c("queued", "10:01:00", "x2", channel="voice", queue_id="q1", customer_id="cust-9"),
        c("answered", "10:01:05", "x2", agent_id="a2"),
        c("wrapped_up", "10:03:00", "x1"),
        c("ended", "10:06:00", "x2"),
        c("wrapped_up", "10:06:30", "x2", resolved=True),
    ]
    got = totals(fold(stream), "queue", "q1")
    assert pick(got, "fcr_handled", "fcr_rate", "repeat_rate") == {"fcr_handled": 2, "fcr_rate": 0.5, "repeat_rate": 0.5}
