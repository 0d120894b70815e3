"""Twilio TaskRouter (Flex) event callbacks → contract events (pure mapping; the route is api/routes/connectors.py).

TaskRouter POSTs one form-encoded event per state change to the workspace's Event Callback URL
(``EventType``, ``Sid`` of the event, ``Timestamp`` in epoch seconds, and the fields of the
resources involved: ``TaskSid``, ``TaskAttributes``, ``TaskChannelUniqueName``, ``TaskQueueSid``,
``WorkerSid``, ``WorkerActivityName``, …). A task is a contact: its TaskQueue is the queue, its
task channel the channel, the worker the agent, the worker's activity its state.

Each callback is mapped on its own (no state), so any API instance can take any callback and a
redelivered one gives the same event ids (the event's ``Sid``; without one, a hash of type,
resource and time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ccpulse.connectors import Event, Rejected, iso, stable_id

__all__ = ["IGNORED_EVENTS", "MAPPED_EVENTS", "map_callback"]

PLATFORM = "twl"
SOURCE = "twilio-taskrouter"

MAPPED_EVENTS = frozenset({
    "task-queue.entered", "reservation.accepted", "task.canceled", "task.wrapup", "task.completed",
    "worker.activity.update", "reservation.wrapup", "reservation.completed", "task.transfer-completed",
})
#: Known TaskRouter events that carry nothing the contract needs (docs/connectors.md says why).
IGNORED_EVENTS = frozenset({
    "task.created", "task.updated", "task.deleted", "task.system-deleted", "task-queue.moved", "task-queue.timeout",
    "task-queue.created", "task-queue.deleted", "task-queue.expression.updated", "reservation.created",
    "reservation.rejected", "reservation.timeout", "reservation.canceled", "reservation.rescinded",
    "reservation.failed", "task.transfer-initiated", "task.transfer-attempt-failed", "task.transfer-failed",
    "task.transfer-canceled", "worker.created", "worker.deleted",
    "worker.attributes.update", "worker.capacity.update", "worker.channel.availability.update",
    "activity.created", "activity.updated", "activity.deleted", "workflow.created", "workflow.updated",
    "workflow.deleted", "workflow.target-matched", "workflow.entered", "workflow.timeout",
    "workspace.created", "workspace.updated", "workspace.deleted", "task-channel.created", "task-channel.updated",
    "task-channel.deleted",
})
_CHANNELS = {"voice": "voice", "email": "email"}
#: TaskCanceledReason values meaning the task timed out rather than the customer leaving.
_TIMEOUTS = ("ttl", "timeout", "timed out", "expired")


def _need(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise Rejected("missing_field", f"{params.get('EventType', 'callback')} without {name}")
    return value


def _time(params: Mapping[str, str]) -> float:
    """The event's time: ``Timestamp`` (epoch seconds, as TaskRouter sends it), else ``TimestampMs``."""
    for name, scale in (("Timestamp", 1.0), ("TimestampMs", 1000.0)):
        text = (params.get(name) or "").strip()
        if text:
            try:
                value = float(text) / scale
            except ValueError:
                raise Rejected("invalid_timestamp", f"{name} {text[:40]!r} is not epoch time") from None
            if not 946684800 <= value < 4102444800:
                raise Rejected("invalid_timestamp", f"{name} {text[:40]!r} is outside 2000..2100")
            return value
    raise Rejected("invalid_timestamp", "no Timestamp")


def _attributes(params: Mapping[str, str], name: str) -> dict[str, Any]:
    text = params.get(name) or ""
    if not text.strip():
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Rejected("invalid_attributes", f"{name} is not JSON") from None
    if not isinstance(value, dict):
        raise Rejected("invalid_attributes", f"{name} is not a JSON object")
    return value


def activity_state(activity: str, activities: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """(contract state, reason) of a TaskRouter activity name: Available, Offline, else away with its name."""
    if activities and activity in activities:
        state = activities[activity]
        return state, (activity if state == "away" else None)
    lowered = activity.strip().lower()
    if lowered in ("available", "idle", "ready"):
        return "available", None
    if lowered in ("offline", "logged out", "logged off"):
        return "offline", None
    return "away", activity


def map_callback(params: Mapping[str, str], activities: Mapping[str, str] | None = None) -> list[Event]:
    """The contract events of one TaskRouter event callback (form fields), or :class:`Rejected`."""
    kind = (params.get("EventType") or "").strip()
    if not kind:
        raise Rejected("missing_field", "no EventType: not a TaskRouter event callback")
    if kind in IGNORED_EVENTS:
        return []
    if kind not in MAPPED_EVENTS:
        raise Rejected("unknown_event", f"TaskRouter event {kind[:60]!r} is not one ccpulse maps (docs/connectors.md)")
    at = _time(params)
    key = params.get("Sid") or f"{kind}|{params.get('ResourceSid', '')}|{params.get('TimestampMs') or params.get('Timestamp')}"

    def event(type_: str, suffix: str = "", **fields: Any) -> Event:
        return {"type": type_, "event_id": stable_id(PLATFORM, key, suffix or type_), "occurred_at": iso(at),
                "source": SOURCE, **{k: v for k, v in fields.items() if v is not None}}

    def worker_state(state: str | None = None) -> Event:
        worker = _need(params, "WorkerSid")
        reason = None
        if state is None:
            state, reason = activity_state(_need(params, "WorkerActivityName"), activities)
        return event("agent.state_changed", "agent", agent_id=worker, state=state, reason=reason)

    if kind == "worker.activity.update":
        return [worker_state()]
    task = _need(params, "TaskSid")
    if kind == "task-queue.entered":
        attributes = _attributes(params, "TaskAttributes")
        channel = _CHANNELS.get((params.get("TaskChannelUniqueName") or "voice").strip().lower(), "chat")
        customer = attributes.get("from") if isinstance(attributes.get("from"), str) else None
        return [event("contact.queued", contact_id=task, queue_id=_need(params, "TaskQueueSid"), channel=channel,
                      customer_id=customer or None)]
    if kind == "reservation.accepted":
        return [event("contact.answered", contact_id=task, agent_id=_need(params, "WorkerSid")),
                worker_state("on_contact")]
    if kind == "reservation.wrapup":
        return [worker_state("after_contact_work")]
    if kind == "reservation.completed":  # back to the worker's activity, when the callback names it
        return [worker_state()] if (params.get("WorkerActivityName") or "").strip() else []
    if kind == "task.canceled":
        reason = (params.get("TaskCanceledReason") or "").lower()
        if any(word in reason for word in _TIMEOUTS):
            return [event("contact.flowed_out", contact_id=task, reason="overflow")]
        return [event("contact.abandoned", contact_id=task)]
    if kind == "task.wrapup":
        return [event("contact.ended", contact_id=task)]
    if kind == "task.transfer-completed":
        # Flex made the target a new task, counted on its own; the transferred task goes on to its
        # own wrap-up. Counted once the target took it: an initiated transfer may still fail.
        target = _need(params, "TransferTo")
        kind_of = (params.get("TransferType") or "").strip().upper()
        return [event("contact.transferred", contact_id=task, opens_new_contact=True,
                      to_queue_id=target if kind_of == "QUEUE" else None,
                      to_agent_id=target if kind_of == "WORKER" else None)]
    # task.completed: after-contact work is over.
    return [event("contact.wrapped_up", contact_id=task)]
