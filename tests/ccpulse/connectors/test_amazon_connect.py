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
from tests.ccpulse.connectors import connect_transfer as tr
from tests.ccpulse.connectors.fold import fold_figures


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


# ---- transfers (tests/ccpulse/connectors/connect_transfer.py) --------------------------------------------------

def _mapped(records: list) -> list[dict]:
    return [e for r in records for e in map_record(r)]


def test_a_transfer_maps_to_each_connect_contacts_own_events_and_a_transfer_of_the_first() -> None:
    mapped = _mapped(tr.records())
    got = [(e["occurred_at"], e["type"], e["contact_id"], e.get("queue_id") or e.get("agent_id") or e.get("to_queue_id"))
           for e in mapped if e["type"].startswith("contact.")]
    assert got == [(iso(day.T0 + t + 0.2), kind, contact, detail) for t, kind, contact, detail in [
        (10, "contact.queued", "C1", tr.BILLING), (20, "contact.answered", "C1", "alice"),
        (80, "contact.queued", "C2", tr.TIER2), (80, "contact.transferred", "C1", tr.TIER2),
        (81, "contact.ended", "C1", None),
        (91, "contact.wrapped_up", "C1", None), (95, "contact.answered", "C2", "bob"),
        (155, "contact.ended", "C2", None), (165, "contact.wrapped_up", "C2", None)]]
    transfer = next(e for e in mapped if e["type"] == "contact.transferred")
    assert transfer["opens_new_contact"] is True and decode_event(orjson.dumps(transfer)).opens_new_contact
    # Its id comes from the new contact: C2 queued again (or its QUEUED delivered twice) counts no second transfer.
    again = _mapped([tr.records()[4] | {"id": "another-eventbridge-id"}])
    assert [e["event_id"] for e in again if e["type"] == "contact.transferred"] == [transfer["event_id"]]


def test_only_an_agents_transfer_counts_one() -> None:
    queued = tr.records()[4]
    for method in ("INBOUND", "QUEUE_TRANSFER", "CALLBACK"):
        record = {**queued, "detail": {**queued["detail"], "initiationMethod": method}}
        assert [e["type"] for e in map_record(record)] == ["contact.queued"], method


@pytest.mark.parametrize("shift", [0.2, 0.0], ids=["milliseconds", "whole seconds"])
@pytest.mark.parametrize("c1_first", [False, True], ids=["as sent", "C1's end before C2's queueing"])
def test_transfer_figures_by_hand_in_either_delivery_order(shift: float, c1_first: bool) -> None:
    records = tr.records(shift)
    if c1_first:  # EventBridge does not order events: alice's leaving arrives before C2 is queued
        records[3:7] = records[5:7] + records[3:5]
    rejected, figures = fold_figures(_mapped(records))
    assert rejected == []  # nothing the domain refuses: no contradicting end of a transferred contact
    for queue, want in tr.EXPECTED_QUEUES.items():
        assert {k: figures("queue", queue)[k] for k in want} == pytest.approx(want), queue
    for agent, want in tr.EXPECTED_AGENTS.items():
        assert {k: figures("agent", agent)[k] for k in want} == pytest.approx(want), agent
