"""Poison input (issue #9): 10,000 bad messages interleaved with the good scenario.

The bad ones are generated from a seeded ``random.Random`` (generators in
tests/ccpulse/test_poison_generators.py, where hypothesis checks the decoder on them): random
bytes, truncated JSON, wrong types, huge strings, invalid timestamps, scores out of scale, events on
the wrong topic, events far behind the watermark, events for contacts that never queued ("unknown
ids") and events that do not fit their contact's history ("impossible transitions").

What the product does with each (docs/events.md, docs/reliability.md): everything that cannot be
decoded, is on the wrong topic or is late is dead-lettered at once. Unknown contacts and impossible
transitions are valid messages by the contract — events may arrive in any order within the lateness
bound, so an answer may precede its queued event — so they are kept with their contact, count
nowhere, and are dead-lettered (``unknown_contact`` / ``impossible_transition``) once the contact
*settles*: when the watermark has passed its last event by the lateness bound. To see that within
a 30-minute scenario this stack runs with a 5-minute bound (the good events are in time order, so
no good event is late with any bound, and the figures equal the clean run's at the default bound).
An agent event for an agent never seen before is simply a new agent (the contract has no roster),
so "unknown agent ids" are not poison and are not generated here.
"""

from __future__ import annotations

import base64
import random
import re
from collections import Counter
from datetime import datetime, timezone
from typing import Any

import orjson
import pytest

from ccpulse.domain.intervals import parse_time
from schemas.events import EventRejected, decode_event
from tests.ccpulse.test_poison_generators import DECODE_KINDS, bad_message, random_key
from tests.integration.figures import SCENARIO_START
from tests.integration.test_reliability import EVENTS, clean, converged_figures, deadletters, metric_sum, produce_fast

pytestmark = pytest.mark.integration

N_BAD = 10_000
#: How many of each kind; the first group is rejected at decoding, the second by the worker.
MIX = {
    "random_bytes": 700, "garbage_text": 500, "truncated_json": 1500, "not_an_object": 300, "empty": 200,
    "missing_type": 500, "unknown_type": 500, "wrong_type": 1500, "huge_strings": 800, "invalid_timestamp": 1000,
    "score_out_of_scale": 1000,
    "wrong_topic": 300, "late": 300, "unknown_contact": 500, "impossible_transition": 400,
}
LATENESS = 300.0  # this stack's CCPULSE_LATENESS_SECONDS (see the module docstring)
T0 = SCENARIO_START.timestamp()
#: Unknown contacts and impossible transitions happen before this, so they settle within the scenario.
SETTLE_BEFORE = T0 + 15 * 60


def _event_topic(event: dict[str, Any]) -> str:
    t = event["type"]
    return "agent_events" if t.startswith("agent.") else "survey_events" if t.startswith(("survey.", "qa.")) else "contact_events"


def _at(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


class Bad:
    """One bad message: (logical topic, key, value) and the dead-letter reason it must get."""

    __slots__ = ("topic", "key", "value", "reason")

    def __init__(self, topic: str, key: bytes | None, value: bytes | None, reason: str) -> None:
        self.topic, self.key, self.value, self.reason = topic, key, value, reason


def poison_stream(seed: int = 909) -> list[dict[str, Any] | Bad]:
    """The good scenario with ``N_BAD`` bad messages interleaved, deterministically."""
    rng = random.Random(seed)
    timed: list[tuple[float, int, dict[str, Any] | Bad]] = [(parse_time(e["occurred_at"]), 0, e) for e in EVENTS]
    untimed: list[Bad] = []
    late: list[Bad] = []

    for kind, count in MIX.items():
        if kind not in DECODE_KINDS:
            continue
        for _ in range(count):
            template = rng.choice(EVENTS)
            value, reason = bad_message(rng, kind, template)
            key = random_key(rng)
            if key is None and value is None:
                key = b"tombstone"  # Kafka needs one of them
            untimed.append(Bad(rng.choice(["contact_events", "agent_events", "survey_events"]), key, value, reason))

    # Valid events on the wrong topic: a new agent's change on a contact topic, a new contact on the agent topic.
    for n in range(MIX["wrong_topic"]):
        t = T0 + rng.uniform(0, 1800)
        if n % 2:
            event = {"type": "agent.state_changed", "event_id": f"wt-{n}", "occurred_at": _at(t),
                     "agent_id": f"ghost-agent-{n}", "state": "available", "queue_ids": ["sales"]}
            untimed.append(Bad(rng.choice(["contact_events", "survey_events"]), event["agent_id"].encode(), orjson.dumps(event), "wrong_topic"))
        else:
            event = {"type": "contact.queued", "event_id": f"wt-{n}", "occurred_at": _at(t), "contact_id": f"ghost-wt-{n}",
                     "channel": "voice", "queue_id": "sales"}
            untimed.append(Bad("agent_events", event["contact_id"].encode(), orjson.dumps(event), "wrong_topic"))

    # Late: a queued event a day old for a good contact, sent in the second half of the stream (its
    # partition's watermark is far ahead by then); applied, it would add a visit to that contact.
    contacts = sorted({e["contact_id"] for e in EVENTS if e["type"] == "contact.queued"})
    for n in range(MIX["late"]):
        cid = rng.choice(contacts)
        event = {"type": "contact.queued", "event_id": f"late-{n}", "occurred_at": _at(T0 - 86400 + rng.uniform(0, 3600)),
                 "contact_id": cid, "channel": "voice", "queue_id": "sales"}
        late.append(Bad("contact_events", cid.encode(), orjson.dumps(event), "late"))

    # Unknown contacts: events of contacts that never queued, at their place in time.
    agents = sorted({e["agent_id"] for e in EVENTS if e["type"] == "agent.state_changed"})
    made, ghost = 0, 0
    while made < MIX["unknown_contact"]:
        ghost += 1
        cid, start = f"ghost-{ghost}", T0 + rng.uniform(60, SETTLE_BEFORE - T0 - 240)
        for k in range(min(rng.randint(1, 4), MIX["unknown_contact"] - made)):
            t, base = start + 20 * k, {"event_id": f"ghost-{ghost}-{k}", "contact_id": cid}
            kind = rng.choice(["contact.answered", "contact.ended", "contact.hold_started", "contact.abandoned",
                               "contact.wrapped_up", "survey.responded", "qa.evaluated", "contact.transferred"])
            event: dict[str, Any] = {"type": kind, **base, "occurred_at": _at(t)}
            if kind in ("contact.answered", "qa.evaluated"):
                event["agent_id"] = rng.choice(agents)
            if kind == "qa.evaluated":
                event["score"] = round(rng.uniform(0, 100), 1)
            if kind == "survey.responded":
                event.update(survey="csat", score=rng.randint(1, 5))  # no queue_id: nothing to count it for
            timed.append((t, 1, Bad(_event_topic(event), cid.encode(), orjson.dumps(event), "unknown_contact")))
            made += 1

    # Impossible transitions: after a good contact is done (abandoned, flowed out, wrapped up), more of
    # its lifecycle. Each is an anomaly of the fold: it changes nothing and is dead-lettered at settling.
    last: dict[str, float] = {}
    for e in EVENTS:
        if "contact_id" in e:
            last[e["contact_id"]] = max(last.get(e["contact_id"], 0.0), parse_time(e["occurred_at"]))
    done = sorted(cid for cid, t in last.items() if t < SETTLE_BEFORE - 120)
    assert len(done) >= 10, "the scenario has too few contacts finished early"
    kinds = ["contact.hold_ended", "contact.hold_started", "contact.answered", "contact.abandoned", "contact.flowed_out",
             "contact.ended", "contact.wrapped_up", "contact.transferred"]
    per_contact = Counter(rng.choice(done) for _ in range(MIX["impossible_transition"]))
    for cid, count in sorted(per_contact.items()):
        for k in range(count):
            t = last[cid] + 1 + 2 * k
            event = {"type": kinds[k % len(kinds)], "event_id": f"impossible-{cid}-{k}", "occurred_at": _at(t), "contact_id": cid}
            if event["type"] == "contact.answered":
                event["agent_id"] = rng.choice(agents)
            if event["type"] == "contact.transferred":
                event["to_queue_id"] = "support"
            timed.append((t, 1, Bad("contact_events", cid.encode(), orjson.dumps(event), "impossible_transition")))

    timed.sort(key=lambda item: (item[0], item[1]))
    stream: list[dict[str, Any] | Bad] = [item for _, _, item in timed]
    for bad in untimed:  # anywhere
        stream.insert(rng.randint(0, len(stream)), bad)
    half = len(stream) // 2
    for bad in late:  # in the second half
        stream.insert(rng.randint(half, len(stream)), bad)
    assert sum(isinstance(item, Bad) for item in stream) == N_BAD
    return stream


def test_poison_stream_is_what_it_claims() -> None:
    """The stream itself: 10,000 bad messages of every kind, the good events in their order, deterministic."""
    stream = poison_stream()
    bad = [item for item in stream if isinstance(item, Bad)]
    assert len(bad) == N_BAD and Counter(b.reason for b in bad)["unknown_contact"] == MIX["unknown_contact"]
    assert [item for item in stream if not isinstance(item, Bad)] == EVENTS
    assert {b.reason for b in bad} >= {"not_json", "not_object", "empty", "missing_type", "unknown_type", "schema_violation",
                                       "invalid_timestamp", "score_out_of_scale", "wrong_topic", "late",
                                       "unknown_contact", "impossible_transition"}
    assert max(len(b.value or b"") for b in bad) > 100_000, "no huge message"
    for b in bad:  # what the decoder says; the other four reasons depend on the stream and the worker
        if b.reason not in ("wrong_topic", "late", "unknown_contact", "impossible_transition"):
            with pytest.raises(EventRejected) as rejected:
                decode_event(b.value)
            assert rejected.value.reason == b.reason, b.value[:200] if b.value else b.value
        else:
            decode_event(b.value)  # valid by themselves
    again = poison_stream()
    assert [(b.topic, b.key, b.value) for b in bad] == [(b.topic, b.key, b.value) for b in again if isinstance(b, Bad)]


def test_poison_input_is_dead_lettered_and_good_events_all_count(stack_factory, broker) -> None:
    want = clean(stack_factory, broker)
    stream = poison_stream()
    stack = stack_factory({"CCPULSE_LATENESS_SECONDS": str(int(LATENESS))}).start(workers=1)
    worker = stack.workers[0]
    topics = stack.settings.topics
    items = [item if isinstance(item, dict) else (getattr(topics, item.topic), item.key, item.value) for item in stream]
    positions = produce_fast(stack, items)

    # Every good event counted: the figures are the clean run's.
    converged_figures(stack, want)

    # The dead-letter topic holds exactly the bad messages, each once, with its reason and original bytes.
    expected = {positions[i]: item for i, item in enumerate(stream) if isinstance(item, Bad)}
    records = deadletters(stack, N_BAD, timeout=300)
    got = {(r["topic"], r["partition"], r["offset"]): r for r in records}
    missing, extra = set(expected) - set(got), set(got) - set(expected)
    assert not missing and not extra, (
        f"{len(missing)} bad messages not dead-lettered, e.g. {[expected[p].reason for p in sorted(missing)[:10]]}; "
        f"{len(extra)} dead letters of good messages, e.g. {[got[p]['reason'] for p in sorted(extra)[:10]]}")
    assert len(records) == N_BAD, f"{len(records) - N_BAD} messages dead-lettered twice"
    wrong = [(expected[p].reason, r["reason"], r["message"][:80]) for p, r in got.items() if r["reason"] != expected[p].reason]
    assert not wrong, f"{len(wrong)} with another reason, e.g. {wrong[:5]}"
    for position, record in got.items():
        bad = expected[position]
        original = None if record["value_b64"] is None else base64.b64decode(record["value_b64"])
        assert original == bad.value, f"{bad.reason} at {position}: the original bytes differ"
        assert record["key"] == (bad.key.decode("utf-8", "replace") if bad.key is not None else None)
        assert record["message"], f"{bad.reason} at {position}: no detail"

    # The worker stayed up the whole time, and the operator's counters say the same.
    assert worker.poll() is None and stack.workers == [worker], "the worker exited or was replaced"
    assert metric_sum(stack, "ccpulse_events_rejected_total") == N_BAD
    text = stack.get("/metrics").text
    by_reason: Counter[str] = Counter()
    for reason, value in re.findall(r'^ccpulse_events_rejected_total\{[^}]*reason="([^"]+)"[^}]*\} (\S+)$', text, re.M):
        by_reason[reason] += int(float(value))
    assert by_reason == Counter(bad.reason for bad in expected.values())
    assert metric_sum(stack, "ccpulse_events_consumed_total") >= len(stream)
