"""The contact fold: idempotent, order-insensitive, exact."""

from __future__ import annotations

import random

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ccpulse.domain.buckets import apply_delta
from ccpulse.domain.contact import add_event, diff_contributions, event_record, fold_contact
from schemas.events import decode_event
from tests.scenarios import FOUNDATION_EVENTS


def sla(queue: str, channel: str) -> tuple[float, float]:
    return (60.0 if channel == "chat" else 20.0), 5.0


def records(events):
    out = {}
    for offset, e in enumerate(events):
        raw = orjson.dumps(e)
        ev = decode_event(raw)
        if ev.type.startswith("agent."):
            continue
        out.setdefault(ev.contact_id, []).append(event_record(ev, raw, "p0", offset))
    return out


BY_CONTACT = records(FOUNDATION_EVENTS)


def fold_in_order(recs):
    events: list = []
    contributions: dict = {}
    buckets: dict = {}
    for seq, rec in enumerate(recs):
        if add_event(events, rec) != "applied":
            continue
        fold = fold_contact("c", events, sla)
        for index, (key, change) in enumerate(sorted(diff_contributions(contributions, fold.contributions).items())):
            buckets[key], _ = apply_delta(buckets.get(key), change, "s", (seq, index))
        contributions = fold.contributions
    return contributions, buckets


@settings(max_examples=60)
@given(seed=st.integers(0, 10_000))
def test_any_arrival_order_gives_the_same_contributions_and_buckets(seed) -> None:
    rng = random.Random(seed)
    for cid, recs in BY_CONTACT.items():
        expected, expected_buckets = fold_in_order(sorted(recs, key=lambda r: r["off"]))
        shuffled = recs[:]
        rng.shuffle(shuffled)
        got, buckets = fold_in_order(shuffled)
        assert got == expected, cid
        assert {k: b["c"] for k, b in buckets.items() if b["c"]} == {k: b["c"] for k, b in expected_buckets.items() if b["c"]}


def test_redelivery_and_duplicate_are_told_apart() -> None:
    rec = BY_CONTACT["c1"][0]
    events = [rec]
    assert add_event(events, dict(rec)) == "redelivered"
    assert add_event(events, {**rec, "off": 999}) == "duplicate"
    assert len(events) == 1


def test_applying_a_delta_twice_counts_once() -> None:
    bucket, applied = apply_delta(None, {"offered": 1, "~c1#1": 5000}, "s", (10, 0))
    assert applied
    again, applied_again = apply_delta(bucket, {"offered": 1, "~c1#1": 5000}, "s", (10, 0))
    assert not applied_again and again["c"] == {"offered": 1}
    bucket, _ = apply_delta(bucket, {"offered": -1, "~c1#1": None}, "s", (11, 0))
    assert bucket["c"] == {} and bucket["tops"] == []


def test_events_for_a_contact_that_never_queued_are_unknown_contact() -> None:
    answered = [r for r in BY_CONTACT["c5"] if r["type"] == "contact.answered"]
    fold = fold_contact("c5", answered, sla)
    assert fold.contributions == {} and [reason for _, reason, _ in fold.anomalies] == ["unknown_contact"]


def test_impossible_transition_is_reported_not_counted() -> None:
    queued = BY_CONTACT["c2"][0]
    hold = {**queued, "id": "h", "type": "contact.hold_started", "t": queued["t"] + 1}
    fold = fold_contact("c2", [queued, hold], sla)
    assert [reason for _, reason, _ in fold.anomalies] == ["impossible_transition"]
    assert sum(b.get("offered", 0) for k, b in fold.contributions.items() if k.startswith("queue|")) == 1
