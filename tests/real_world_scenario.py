"""Sequences real platforms send, each with its figures worked out by hand (issue: real-world truth).

Defaults apply: voice threshold 20 s, short abandon 5 s, skew tolerance 1 s. Every case happens on
Monday 2026-03-02 (UTC). The list order of a case's events is the producer's order (the offset
within the partition); cases named ``…/reversed`` send their same-second (or skewed) events in the
opposite producer order. ``expected`` maps (dimension, entity) to figures of the whole day
(``interval_figures`` of every bucket summed). The pure-core test (tests/ccpulse/domain/
test_real_world.py) and the broker test (tests/integration/test_real_streams.py) share these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DAY = "2026-03-02"

Event = dict[str, Any]
Expected = dict[tuple[str, str], dict[str, Any]]


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def next(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n:04d}"


def c(ids: _Ids, kind: str, hms: str, contact: str, **fields: Any) -> Event:
    """A contact, survey (``responded``) or QA (``evaluated``) event at ``hms`` (``09:02:59.8`` allowed)."""
    prefix = "survey" if kind == "responded" else "qa" if kind == "evaluated" else "contact"
    return {"event_id": ids.next("e"), "type": f"{prefix}.{kind}", "occurred_at": f"{DAY}T{hms}Z",
            "contact_id": contact, **fields}


def a(ids: _Ids, hms: str, agent: str, state: str, event_id: str | None = None, **fields: Any) -> Event:
    return {"event_id": event_id or ids.next("g"), "type": "agent.state_changed", "occurred_at": f"{DAY}T{hms}Z",
            "agent_id": agent, "state": state, **fields}


def _both(name: str, build: Callable[[bool], tuple[list[Event], Expected]]) -> dict[str, tuple[list[Event], Expected]]:
    return {name: build(False), f"{name}/reversed": build(True)}


def _order(events: list[Event], reverse: bool) -> list[Event]:
    return events[::-1] if reverse else events


def flow_out_and_queue(reverse: bool) -> tuple[list[Event], Expected]:
    # q1: offered 1, flowed out 1 after 60 s. q2: answered after 10 s, talk 120 s, ACW 10 s → AHT 130 s.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k1", channel="voice", queue_id="q1"),
              *_order([c(i, "flowed_out", "09:01:00", "k1", reason="overflow"),
                       c(i, "queued", "09:01:00", "k1", channel="voice", queue_id="q2")], reverse),
              c(i, "answered", "09:01:10", "k1", agent_id="a1"), c(i, "ended", "09:03:10", "k1"),
              c(i, "wrapped_up", "09:03:20", "k1")]
    return events, {
        ("queue", "q1"): {"offered": 1, "flowed_out": 1, "answered": 0, "abandoned": 0},
        ("queue", "q2"): {"offered": 1, "answered": 1, "asa_seconds": 10.0, "handled": 1, "aht_seconds": 130.0,
                          "flowed_out": 0},
    }


def flow_out_to_callback(reverse: bool) -> tuple[list[Event], Expected]:
    # q1: flowed out (callback) after 30 s. cb: offered 1, called back 20 min later: answered, ASA 1,200 s.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k2", channel="voice", queue_id="q1"),
              *_order([c(i, "flowed_out", "09:00:30", "k2", reason="callback"),
                       c(i, "queued", "09:00:30", "k2", channel="voice", queue_id="cb")], reverse),
              c(i, "answered", "09:20:30", "k2", agent_id="a1"), c(i, "ended", "09:22:30", "k2"),
              c(i, "wrapped_up", "09:22:30", "k2")]
    return events, {
        ("queue", "q1"): {"offered": 1, "flowed_out": 1, "abandoned": 0},
        ("queue", "cb"): {"offered": 1, "answered": 1, "abandoned": 0, "short_abandoned": 0, "asa_seconds": 1200.0,
                          "handled": 1},
    }


def abandon_then_callback(reverse: bool) -> tuple[list[Event], Expected]:
    # The caller hangs up after 40 s and the ACD books a callback in that second.
    # q1: abandoned 1 (not short), no flow-out. cb: offered 1, no 0-second short abandon, answered 1.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k3", channel="voice", queue_id="q1"),
              *_order([c(i, "abandoned", "09:00:40", "k3"),
                       c(i, "queued", "09:00:40", "k3", channel="voice", queue_id="cb")], reverse),
              c(i, "answered", "09:30:00", "k3", agent_id="a1"), c(i, "ended", "09:31:00", "k3"),
              c(i, "wrapped_up", "09:31:05", "k3")]
    return events, {
        ("queue", "q1"): {"offered": 1, "abandoned": 1, "short_abandoned": 0, "flowed_out": 0,
                          "avg_abandon_seconds": 40.0},
        ("queue", "cb"): {"offered": 1, "abandoned": 0, "short_abandoned": 0, "answered": 1},
    }


def bot_transfer_in_one_second(reverse: bool) -> tuple[list[Event], Expected]:
    # Queued in q1 at 09:00:00; at 09:01:40 (100 s later) the IVR bot answers, transfers to q2 and the
    # contact enters q2, all in one second. q1: answered by the bot (ASA 100 s), transfers 1, handled 1
    # with 0 s handle time. q2: offered 1, answered by a2 20 s later, talk 180 s + ACW 10 s.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k4", channel="voice", queue_id="q1"),
              *_order([c(i, "answered", "09:01:40", "k4", agent_id="bot"),
                       c(i, "transferred", "09:01:40", "k4", to_queue_id="q2"),
                       c(i, "queued", "09:01:40", "k4", channel="voice", queue_id="q2")], reverse),
              c(i, "answered", "09:02:00", "k4", agent_id="a2"), c(i, "ended", "09:05:00", "k4"),
              c(i, "wrapped_up", "09:05:10", "k4")]
    return events, {
        ("queue", "q1"): {"offered": 1, "answered": 1, "asa_seconds": 100.0, "transfers": 1, "handled": 1,
                          "flowed_out": 0},
        ("agent", "bot"): {"answered": 1, "handled": 1, "transfers": 1, "aht_seconds": 0.0},
        ("queue", "q2"): {"offered": 1, "answered": 1, "asa_seconds": 20.0, "handled": 1, "aht_seconds": 190.0},
        ("agent", "a2"): {"answered": 1, "handled": 1},
    }


def ended_and_wrapped_together(reverse: bool) -> tuple[list[Event], Expected]:
    # Answered after 15 s, talk 300 s, no ACW: handled 1, AHT 300 s.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k5", channel="voice", queue_id="q1"),
              c(i, "answered", "09:00:15", "k5", agent_id="a1"),
              *_order([c(i, "ended", "09:05:15", "k5"), c(i, "wrapped_up", "09:05:15", "k5")], reverse)]
    return events, {("queue", "q1"): {"handled": 1, "aht_seconds": 300.0, "avg_acw_seconds": 0.0,
                                      "answered_within_sl": 1}}


def skewed_queue_entry(reverse: bool) -> tuple[list[Event], Expected]:
    # A: queued 09:00:00, answered 09:00:10, transferred to B at 09:03:00 (ACD clock); the entry into B is
    # stamped 09:02:59.8 by a clock 200 ms behind. Answered in B at 09:03:20, talk 60 s, ACW 10 s.
    # A: handled 1 (talk 170 s), transfers 1, no flow-out. B: offered 1, answered 1, ASA 20.2 s.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k6", channel="voice", queue_id="A"),
              c(i, "answered", "09:00:10", "k6", agent_id="a1"),
              *_order([c(i, "transferred", "09:03:00", "k6", to_queue_id="B"),
                       c(i, "queued", "09:02:59.8", "k6", channel="voice", queue_id="B")], reverse),
              c(i, "answered", "09:03:20", "k6", agent_id="a2"), c(i, "ended", "09:04:20", "k6"),
              c(i, "wrapped_up", "09:04:30", "k6")]
    return events, {
        ("queue", "A"): {"handled": 1, "transfers": 1, "flowed_out": 0, "aht_seconds": 170.0},
        ("queue", "B"): {"offered": 1, "answered": 1, "asa_seconds": 20.2, "flowed_out": 0, "handled": 1},
    }


def negative_duration_under_skew() -> tuple[list[Event], Expected]:
    # ended stamped 300 ms before answered (another clock): talk 0, not −0.3 s; ACW 10.3 s.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k8", channel="voice", queue_id="q1"),
              c(i, "answered", "09:00:10", "k8", agent_id="a1"), c(i, "ended", "09:00:09.7", "k8"),
              c(i, "wrapped_up", "09:00:20", "k8")]
    return events, {("queue", "q1"): {"handled": 1, "avg_talk_seconds": 0.0, "avg_acw_seconds": 10.3}}


def agent_to_agent_legs() -> tuple[list[Event], Expected]:
    # a1 answers after 10 s, talks 600 s, transfers to a2; a2 talks 120 s, ACW 30 s; CSAT 5 afterwards.
    # a1: handled 1, AHT 600 s. a2: handled 1, AHT 150 s. Queue: handled 1, AHT 750 s. CSAT credit: a2.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k9", channel="voice", queue_id="q1"),
              c(i, "answered", "09:00:10", "k9", agent_id="a1"),
              c(i, "transferred", "09:10:10", "k9", to_agent_id="a2"),
              c(i, "ended", "09:12:10", "k9"), c(i, "wrapped_up", "09:12:40", "k9"),
              c(i, "responded", "09:20:00", "k9", survey="csat", score=5)]
    return events, {
        ("agent", "a1"): {"answered": 1, "handled": 1, "aht_seconds": 600.0, "transfers": 1, "csat_responses": 0},
        ("agent", "a2"): {"answered": 0, "handled": 1, "aht_seconds": 150.0, "avg_acw_seconds": 30.0,
                          "csat_responses": 1},
        ("queue", "q1"): {"offered": 1, "answered": 1, "handled": 1, "aht_seconds": 750.0, "transfers": 1, "csat": 1.0},
    }


def legs_under_skew() -> tuple[list[Event], Expected]:
    # a1 answers 09:00:10 (ACD); the desktop, 10 ms behind, stamps the transfer to a2 09:00:09.990; the call
    # ends 09:00:14 with no ACW. a1's leg is 0 s, a2's 4 s, and they add up to the queue's 4 s.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k14", channel="voice", queue_id="q1"),
              c(i, "answered", "09:00:10", "k14", agent_id="a1"),
              c(i, "transferred", "09:00:09.990", "k14", to_agent_id="a2"),
              c(i, "ended", "09:00:14", "k14"), c(i, "wrapped_up", "09:00:14", "k14")]
    return events, {("agent", "a1"): {"handled": 1, "aht_seconds": 0.0},
                    ("agent", "a2"): {"handled": 1, "aht_seconds": 4.0},
                    ("queue", "q1"): {"handled": 1, "aht_seconds": 4.0}}


def legs_with_hold() -> tuple[list[Event], Expected]:
    # a1: 09:00:10–09:05:10 with a 60 s hold → talk 240 s, hold 60 s. a2: 09:05:10–09:06:10 with a 20 s
    # hold → talk 40 s, hold 20 s; no ACW. Queue: talk 280 s, hold 80 s, 2 holds.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k10", channel="voice", queue_id="q1"),
              c(i, "answered", "09:00:10", "k10", agent_id="a1"),
              c(i, "hold_started", "09:04:00", "k10"), c(i, "hold_ended", "09:05:00", "k10"),
              c(i, "transferred", "09:05:10", "k10", to_agent_id="a2"),
              c(i, "hold_started", "09:05:30", "k10"), c(i, "hold_ended", "09:05:50", "k10"),
              c(i, "ended", "09:06:10", "k10"), c(i, "wrapped_up", "09:06:10", "k10")]
    return events, {
        ("agent", "a1"): {"handled": 1, "avg_talk_seconds": 240.0, "avg_hold_seconds": 60.0, "hold_count": 1},
        ("agent", "a2"): {"handled": 1, "avg_talk_seconds": 40.0, "avg_hold_seconds": 20.0, "hold_count": 1},
        ("queue", "q1"): {"handled": 1, "avg_talk_seconds": 280.0, "avg_hold_seconds": 80.0, "hold_count": 2},
    }


def requeue_same_queue() -> tuple[list[Event], Expected]:
    # Queued 09:00:00, re-queued into the same queue 09:00:45 (ring-no-answer), answered 09:00:55:
    # offered 1, ASA 55 s, not within 20 s, no flow-out, longest wait 55 s.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k11", channel="voice", queue_id="q1"),
              c(i, "queued", "09:00:45", "k11", channel="voice", queue_id="q1"),
              c(i, "answered", "09:00:55", "k11", agent_id="a1"), c(i, "ended", "09:01:55", "k11"),
              c(i, "wrapped_up", "09:02:00", "k11")]
    return events, {("queue", "q1"): {"offered": 1, "answered": 1, "asa_seconds": 55.0, "answered_within_sl": 0,
                                      "flowed_out": 0, "max_wait_seconds": 55.0}}


def requeue_and_answer_in_one_second(reverse: bool) -> tuple[list[Event], Expected]:
    # Queued 09:00:00; at 09:00:30 the ACD re-queues after a ring-no-answer and the next agent answers, both
    # stamped 09:00:30: offered 1, answered 1, ASA 30 s, nothing left waiting, no implicit transfer.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k12", channel="voice", queue_id="q1"),
              *_order([c(i, "queued", "09:00:30", "k12", channel="voice", queue_id="q1"),
                       c(i, "answered", "09:00:30", "k12", agent_id="a1")], reverse),
              c(i, "ended", "09:02:30", "k12"), c(i, "wrapped_up", "09:02:40", "k12")]
    return events, {("queue", "q1"): {"offered": 1, "answered": 1, "asa_seconds": 30.0, "handled": 1,
                                      "transfers": 0, "aht_seconds": 130.0}}


def requeue_and_abandon_in_one_second(reverse: bool) -> tuple[list[Event], Expected]:
    # Queued 09:00:00; re-queued and abandoned in the same second 09:00:50: offered 1, abandoned 1 after 50 s.
    i = _Ids()
    events = [c(i, "queued", "09:00:00", "k13", channel="voice", queue_id="q1"),
              *_order([c(i, "queued", "09:00:50", "k13", channel="voice", queue_id="q1"),
                       c(i, "abandoned", "09:00:50", "k13")], reverse)]
    return events, {("queue", "q1"): {"offered": 1, "abandoned": 1, "avg_abandon_seconds": 50.0}}


def thumbs_csat() -> tuple[list[Event], Expected]:
    # One thumbs up and three down on a 0–1 scale: CSAT 1/4 = 0.25.
    i = _Ids()
    events: list[Event] = []
    for n, score in enumerate([1, 0, 0, 0]):
        cid = f"t{n}"
        events += [c(i, "queued", f"09:0{n}:00", cid, channel="voice", queue_id="q1"),
                   c(i, "answered", f"09:0{n}:05", cid, agent_id="a1"),
                   c(i, "ended", f"09:0{n}:30", cid), c(i, "wrapped_up", f"09:0{n}:35", cid),
                   c(i, "responded", f"09:0{n}:40", cid, survey="csat", score=score, scale_min=0, scale_max=1)]
    return events, {("queue", "q1"): {"csat_responses": 4, "csat": 0.25}}


def callback_during_acw_is_a_repeat() -> tuple[list[Event], Expected]:
    # x1 dropped at 10:00 (ended), wrapped up at 10:03; the customer calls back at 10:01 (x2), resolved.
    # x1 is repeated, x2 resolved: FCR rate 1/2 = 0.5.
    i = _Ids()
    events = [c(i, "queued", "09:55:00", "x1", channel="voice", queue_id="q1", customer_id="cust-9"),
              c(i, "answered", "09:55:10", "x1", agent_id="a1"), c(i, "ended", "10:00:00", "x1"),
              c(i, "queued", "10:01:00", "x2", channel="voice", queue_id="q1", customer_id="cust-9"),
              c(i, "answered", "10:01:05", "x2", agent_id="a2"), c(i, "wrapped_up", "10:03:00", "x1"),
              c(i, "ended", "10:06:00", "x2"), c(i, "wrapped_up", "10:06:30", "x2", resolved=True)]
    return events, {("queue", "q1"): {"fcr_handled": 2, "fcr_rate": 0.5, "repeat_rate": 0.5}}


def agent_states_in_one_second(reverse_ids: bool) -> tuple[list[Event], Expected]:
    # ACW from 09:00:00; at 09:01:00 ACW ends (available) and the next call is auto-answered (on_contact),
    # sent in that order, with event ids that sort either way. ACW 60 s, available 0 s, then on_contact.
    i = _Ids()
    ids = ("a-available", "x-on-contact") if reverse_ids else ("x-available", "a-on-contact")
    events = [a(i, "09:00:00", "a1", "after_contact_work", queue_ids=["q1"]),
              a(i, "09:01:00", "a1", "available", event_id=ids[0]),
              a(i, "09:01:00", "a1", "on_contact", event_id=ids[1]),
              a(i, "09:05:00", "a1", "after_contact_work")]
    return events, {("agent", "a1"): {"after_contact_work_seconds": 60.0, "available_seconds": 0.0,
                                      "on_contact_seconds": 240.0}}


CASES: dict[str, tuple[list[Event], Expected]] = {
    **_both("flow-out-and-queue", flow_out_and_queue),
    **_both("flow-out-to-callback", flow_out_to_callback),
    **_both("abandon-then-callback", abandon_then_callback),
    **_both("bot-transfer-in-one-second", bot_transfer_in_one_second),
    **_both("ended-and-wrapped-together", ended_and_wrapped_together),
    **_both("skewed-queue-entry", skewed_queue_entry),
    "negative-duration-under-skew": negative_duration_under_skew(),
    "agent-to-agent-legs": agent_to_agent_legs(),
    "legs-with-hold": legs_with_hold(),
    "legs-under-skew": legs_under_skew(),
    "requeue-same-queue": requeue_same_queue(),
    # Only in the ACD's order: the other order (answered or abandoned, then queued into the same queue) is a
    # transfer back, or a callback into the same queue — indistinguishable, so the producer's order decides.
    "requeue-and-answer-in-one-second": requeue_and_answer_in_one_second(False),
    "requeue-and-abandon-in-one-second": requeue_and_abandon_in_one_second(False),
    "thumbs-csat": thumbs_csat(),
    "callback-during-acw-is-a-repeat": callback_during_acw_is_a_repeat(),
    "agent-states-in-one-second": agent_states_in_one_second(False),
    "agent-states-in-one-second/ids-reversed": agent_states_in_one_second(True),
}

_RENAMED = ("contact_id", "queue_id", "to_queue_id", "agent_id", "to_agent_id", "customer_id")


def namespaced(case: str, events: list[Event], expected: Expected) -> tuple[list[Event], Expected]:
    """The case with every id prefixed by its name (so that cases can share one stream and one API)."""
    tag = case.replace("/", "-")
    out = []
    for event in events:
        event = dict(event, event_id=f"{tag}:{event['event_id']}")
        for name in _RENAMED:
            if event.get(name) is not None:
                event[name] = f"{tag}.{event[name]}"
        if event.get("queue_ids"):
            event["queue_ids"] = [f"{tag}.{q}" for q in event["queue_ids"]]
        out.append(event)
    return out, {(dimension, f"{tag}.{entity}"): figures for (dimension, entity), figures in expected.items()}
