"""The TaskRouter mapping against a hand-written morning (tests/ccpulse/connectors/twilio_day.py)."""

from __future__ import annotations

import orjson
import pytest

from ccpulse.connectors import Rejected, iso
from ccpulse.connectors.twilio import activity_state, map_callback
from schemas.events import decode_event
from tests.ccpulse.connectors import twilio_day as day


def feed(callbacks: list[dict[str, str]]) -> tuple[list[dict], list[tuple[int, str]]]:
    events: list[dict] = []
    rejects: list[tuple[int, str]] = []
    for index, params in enumerate(callbacks):
        try:
            events += map_callback(params)
        except Rejected as exc:
            rejects.append((index, exc.reason))
    return events, rejects


def test_contact_events_are_the_hand_worked_ones() -> None:
    events, _ = feed(day.CALLBACKS)
    got = [(e["occurred_at"], e["type"], e["contact_id"],
            {k: v for k, v in e.items() if k not in ("type", "event_id", "occurred_at", "source", "contact_id")})
           for e in events if e["type"].startswith("contact.")]
    assert got == [(iso(day.T0 + t), kind, contact, fields) for t, kind, contact, fields in day.CONTACT_EVENTS]


def test_workers_become_agents_and_activities_states() -> None:
    events, _ = feed(day.CALLBACKS)
    for agent, changes in day.AGENT_CHANGES.items():
        got = [(e["occurred_at"], e["state"], e.get("reason")) for e in events
               if e["type"] == "agent.state_changed" and e["agent_id"] == agent]
        assert got == [(iso(day.T0 + t), state, reason) for t, state, reason in changes]


def test_bad_callbacks_are_rejected_with_reasons() -> None:
    _, rejects = feed(day.CALLBACKS)
    assert rejects == day.BAD


def test_valid_contract_events_with_ids_from_the_event_sid() -> None:
    events, _ = feed(day.CALLBACKS)
    for event in events:
        decode_event(orjson.dumps(event))
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids))
    assert [e["event_id"] for e in feed(day.CALLBACKS)[0]] == ids  # a redelivered callback gives the same ids
    without_sid = {k: v for k, v in day.CALLBACKS[3].items() if k != "Sid"}
    assert map_callback(without_sid) == map_callback(dict(without_sid))


def test_whole_seconds_from_timestamp() -> None:
    params = {**day.CALLBACKS[3], "Timestamp": "", "TimestampMs": str(day.T0 * 1000 + 250)}
    assert map_callback(params)[0]["occurred_at"] == "2026-03-02T09:00:00.250000Z"
    assert map_callback(day.CALLBACKS[3])[0]["occurred_at"] == "2026-03-02T09:01:00Z"


@pytest.mark.parametrize("activity, want", [
    ("Available", ("available", None)), ("Offline", ("offline", None)), ("Break", ("away", "Break")),
    ("Lunch", ("away", "Lunch")),
])
def test_activity_names(activity: str, want: tuple[str, str | None]) -> None:
    assert activity_state(activity) == want
    assert activity_state("Training", {"Training": "offline"}) == ("offline", None)


def test_channels_and_attributes() -> None:
    base = {**day.CALLBACKS[3]}
    assert map_callback({**base, "TaskChannelUniqueName": "email"})[0]["channel"] == "email"
    assert map_callback({**base, "TaskChannelUniqueName": "sms"})[0]["channel"] == "chat"
    assert "customer_id" not in map_callback({**base, "TaskAttributes": "{}"})[0]
    with pytest.raises(Rejected) as caught:
        map_callback({**base, "TaskAttributes": "{not json"})
    assert caught.value.reason == "invalid_attributes"
    assert map_callback({"EventType": "workflow.target-matched", "Timestamp": str(day.T0)}) == []
    with pytest.raises(Rejected):
        map_callback({"Timestamp": str(day.T0)})
