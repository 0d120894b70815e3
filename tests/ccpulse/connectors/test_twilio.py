"""The TaskRouter mapping against a hand-written morning (tests/ccpulse/connectors/twilio_day.py)."""

from __future__ import annotations

import orjson
import pytest

from ccpulse.connectors import Rejected, iso
from ccpulse.connectors.twilio import activity_state, map_callback
from schemas.events import decode_event
from tests.ccpulse.connectors import twilio_day as day
from tests.ccpulse.connectors import twilio_transfer as tr
from tests.ccpulse.connectors.fold import fold_figures, reversed_within_seconds


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


# ---- transfers (tests/ccpulse/connectors/twilio_transfer.py) ---------------------------------------------------

def test_a_transfer_maps_to_each_tasks_own_contact_events_and_a_transfer_of_the_first() -> None:
    events, rejects = feed(tr.TRANSFER)
    got = [(e["occurred_at"], e["type"], e["contact_id"], e.get("queue_id") or e.get("agent_id") or e.get("to_queue_id"))
           for e in events if e["type"].startswith("contact.")]
    assert rejects == [] and got == [(iso(day.T0 + t), kind, contact, detail) for t, kind, contact, detail in [
        (10, "contact.queued", tr.T11, tr.BILLING), (20, "contact.answered", tr.T11, day.ALICE),
        (80, "contact.queued", tr.T12, tr.TIER2), (80, "contact.ended", tr.T11, None),
        (90, "contact.wrapped_up", tr.T11, None), (95, "contact.answered", tr.T12, day.BOB),
        (95, "contact.transferred", tr.T11, tr.TIER2),
        (155, "contact.ended", tr.T12, None), (165, "contact.wrapped_up", tr.T12, None)]]
    assert next(e for e in events if e["type"] == "contact.transferred")["opens_new_contact"] is True
    # Initiated, attempt-failed, failed and canceled transfers count nothing: only a completed one does.
    assert all(map_callback(c) == [] for c in tr.TRANSFER + tr.FAILED
               if c["EventType"].startswith("task.transfer-") and c["EventType"] != "task.transfer-completed")
    to_worker = map_callback({**tr.TRANSFER[10], "TransferType": "WORKER", "TransferTo": day.BOB})
    assert [(e["to_agent_id"], e.get("to_queue_id")) for e in to_worker] == [(day.BOB, None)]


def test_transfer_figures_by_hand_in_either_order_within_a_second() -> None:
    events = feed(tr.TRANSFER + tr.FAILED)[0]
    for stream in (events, reversed_within_seconds(events)):
        rejected, figures = fold_figures(stream)
        assert rejected == []  # nothing the domain refuses: no contradicting end of a transferred contact
        for queue, want in tr.EXPECTED_QUEUES.items():
            assert {k: figures("queue", queue)[k] for k in want} == pytest.approx(want), queue
        for agent, want in tr.EXPECTED_AGENTS.items():
            assert {k: figures("agent", agent)[k] for k in want} == want, agent


def test_a_failed_transfer_counts_nothing() -> None:
    _, with_transfer = fold_figures(feed(tr.FAILED)[0])
    _, without = fold_figures(feed(tr.FAILED_WITHOUT_TRANSFER)[0])
    for dimension, entity in (("queue", tr.BILLING), ("agent", day.ALICE), ("agent", day.BOB)):
        assert with_transfer(dimension, entity) == without(dimension, entity)
    assert with_transfer("agent", day.BOB)["handled"] == 0


def test_after_a_transfer_the_agents_wrap_up_is_her_state() -> None:
    events, _ = feed(tr.TRANSFER + tr.FAILED)
    assert [(e["occurred_at"], e["state"]) for e in events if e["type"] == "agent.state_changed"
            and e["agent_id"] == day.ALICE] == [(iso(day.T0 + t), s) for t, s in tr.ALICE_STATES]
