"""The Amazon Connect mapping against a hand-written morning (tests/ccpulse/connectors/connect_day.py)."""

from __future__ import annotations

import base64

import orjson
import pytest

from ccpulse.connectors import Rejected, iso
from ccpulse.connectors.amazon_connect import map_record
from ccpulse.settings import AmazonConnectSettings
from schemas.events import decode_event
from tests.ccpulse.connectors import connect_day as day


def feed(lines: list[bytes]) -> tuple[list[dict], list[tuple[int, str]]]:
    """What the JSON-lines driver does, line by line."""
    events: list[dict] = []
    rejects: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        try:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise Rejected("not_json", "not JSON") from None
            events += map_record(record)
        except Rejected as exc:
            rejects.append((index, exc.reason))
    return events, rejects


def test_contact_events_are_the_hand_worked_ones() -> None:
    events, _ = feed(day.lines())
    got = [(e["occurred_at"], e["type"], e["contact_id"],
            {k: v for k, v in e.items() if k not in ("type", "event_id", "occurred_at", "source", "contact_id")})
           for e in events if e["type"].startswith("contact.")]
    assert got == [(iso(day.T0 + t), kind, contact, fields) for t, kind, contact, fields in day.CONTACT_EVENTS]


def test_agent_stream_gives_states_and_queues() -> None:
    events, _ = feed(day.lines())
    for agent, changes in day.AGENT_CHANGES.items():
        mine = [e for e in events if e["type"] == "agent.state_changed" and e["agent_id"] == agent]
        assert [(e["occurred_at"], e["state"], e.get("reason")) for e in mine] == [
            (iso(day.T0 + t), state, reason) for t, state, reason in changes]
        assert all(e["queue_ids"] == ["support", "webchat"] for e in mine)  # the agent's own queue left out


def test_bad_records_are_rejected_with_reasons() -> None:
    _, rejects = feed(day.lines())
    assert rejects == day.BAD


def test_valid_events_with_deterministic_unique_ids() -> None:
    events, _ = feed(day.lines())
    for event in events:
        decode_event(orjson.dumps(event))
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)) and [e["event_id"] for e in feed(day.lines())[0]] == ids


def test_a_kinesis_record_as_lambda_sees_it() -> None:
    record = day.RECORDS[6]
    wrapped = {"kinesis": {"partitionKey": "alice", "data": base64.b64encode(orjson.dumps(record)).decode()}}
    assert map_record(wrapped) == map_record(record)
    with pytest.raises(Rejected) as caught:
        map_record({"kinesis": {"data": "!!!"}})
    assert caught.value.reason == "not_json"


def test_names_can_be_mapped() -> None:
    options = AmazonConnectSettings(queue_ids={day.queue_arn("support"): "Support EN"}, agent_ids={"alice": "a-1042"})
    assert map_record(day.RECORDS[3], options)[0]["queue_id"] == "Support EN"
    assert map_record(day.RECORDS[5], options)[0]["agent_id"] == "a-1042"


@pytest.mark.parametrize("change, reason", [
    (lambda r: r["detail"].pop("contactId"), "missing_field"),
    (lambda r: r["detail"]["queueInfo"].pop("queueArn"), "missing_field"),
    (lambda r: r.__setitem__("detail", "QUEUED"), "wrong_type"),
    (lambda r: r["detail"]["queueInfo"].__setitem__("enqueueTimestamp", "2026-03-02T09:01:00"), "invalid_timestamp"),
])
def test_wrong_types_and_missing_fields(change, reason) -> None:
    record = orjson.loads(orjson.dumps(day.RECORDS[3]))
    change(record)
    with pytest.raises(Rejected) as caught:
        map_record(record)
    assert caught.value.reason == reason
