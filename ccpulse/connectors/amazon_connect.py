"""Amazon Connect → contract events (pure mapping, plus the JSON-lines driver of ``ccpulse connect amazon-connect``).

Two record kinds, told apart by their shape:

- **Contact events** (EventBridge, ``detail-type: Amazon Connect Contact Event``): ``detail.eventType``
  QUEUED, CONNECTED_TO_AGENT, DISCONNECTED, … with ``contactId``, ``channel``, ``queueInfo`` and
  ``agentInfo``. They give the contact's wait and talk: queued, answered, ended or abandoned.
- **Agent event stream** records (Kinesis, ``EventType`` LOGIN / LOGOUT / STATE_CHANGE / HEART_BEAT
  with ``CurrentAgentSnapshot`` and ``PreviousAgentSnapshot``). They give the agent's state and
  queues, and the timing only the agent's side knows: hold (a contact CONNECTED ↔ CONNECTED_ONHOLD)
  and the end of after-contact work (an ENDED contact leaving the snapshot).

Each record is mapped on its own: an agent record carries its previous snapshot, so the change is
read from the record itself, and any worker or API instance can map any record. Event ids come from
the platform's event ids (EventBridge ``id``, agent stream ``EventId``).
"""

from __future__ import annotations

import asyncio
import base64
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from ccpulse.connectors import Event, Rejected, iso, stable_id
from ccpulse.settings import AmazonConnectSettings

if TYPE_CHECKING:
    from ccpulse.settings import Settings

__all__ = ["map_record", "run_lines"]

PLATFORM = "acn"
SOURCE = "amazon-connect"
_CHANNELS = {"VOICE": "voice", "CHAT": "chat", "TASK": "chat", "EMAIL": "email"}
#: Contact event types that change nothing the contract counts (docs/connectors.md says why).
_IGNORED_CONTACT = frozenset({"INITIATED", "CONNECTED_TO_SYSTEM", "CONTACT_DATA_UPDATED", "COMPLETED"})
_TALKING = frozenset({"CONNECTED", "CONNECTED_ONHOLD"})
_HANDLED = frozenset({"CONNECTED", "CONNECTED_ONHOLD", "ENDED"})


def _time(value: Any, what: str) -> float:
    if not isinstance(value, str) or not value.strip():
        raise Rejected("invalid_timestamp", f"{what} is missing")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Rejected("invalid_timestamp", f"{what} {value[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise Rejected("invalid_timestamp", f"{what} {value[:40]!r} has no offset")
    epoch = moment.timestamp()
    if not 946684800 <= epoch < 4102444800:
        raise Rejected("invalid_timestamp", f"{what} {value[:40]!r} is outside 2000..2100")
    return epoch


def _tail(arn: Any, what: str) -> str:
    if not isinstance(arn, str) or not arn.strip():
        raise Rejected("missing_field", f"{what} is missing")
    return arn.rstrip("/").rsplit("/", 1)[-1]


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejected("wrong_type", f"{what} is not an object")
    return value


class _Names:
    def __init__(self, options: AmazonConnectSettings) -> None:
        self.options = options

    def queue(self, arn: Any) -> str:
        tail = _tail(arn, "queue ARN")
        return self.options.queue_ids.get(arn, self.options.queue_ids.get(tail, tail))  # type: ignore[arg-type]

    def agent(self, arn: Any) -> str:
        tail = _tail(arn, "agent ARN")
        return self.options.agent_ids.get(arn, self.options.agent_ids.get(tail, tail))  # type: ignore[arg-type]


def _contact_event(record: dict[str, Any], names: _Names) -> list[Event]:
    detail = _dict(record.get("detail"), "detail")
    kind = detail.get("eventType")
    if not isinstance(kind, str):
        raise Rejected("missing_field", "detail.eventType is missing")
    if kind in _IGNORED_CONTACT:
        return []
    if kind not in ("QUEUED", "CONNECTED_TO_AGENT", "DISCONNECTED"):
        raise Rejected("unknown_event", f"contact event {kind[:60]!r} is not one ccpulse maps (docs/connectors.md)")
    contact = detail.get("contactId")
    if not isinstance(contact, str) or not contact:
        raise Rejected("missing_field", "detail.contactId is missing")
    key = record.get("id") or f"{contact}|{kind}|{record.get('time')}"
    queue_info = _dict(detail.get("queueInfo"), "detail.queueInfo")
    agent_info = _dict(detail.get("agentInfo"), "detail.agentInfo")

    def event(type_: str, at: float, **fields: Any) -> Event:
        return {"type": type_, "event_id": stable_id(PLATFORM, key, type_), "occurred_at": iso(at), "source": SOURCE,
                "contact_id": contact, **{k: v for k, v in fields.items() if v is not None}}

    if kind == "QUEUED":
        channel = _CHANNELS.get(str(detail.get("channel", "")).upper())
        if channel is None:
            raise Rejected("unknown_channel", f"channel {str(detail.get('channel'))[:30]!r} is not VOICE, CHAT, TASK or EMAIL")
        at = _time(queue_info.get("enqueueTimestamp") or record.get("time"), "queueInfo.enqueueTimestamp")
        queue = names.queue(queue_info.get("queueArn"))
        return [event("contact.queued", at, queue_id=queue, channel=channel), *_transfer_from(detail, contact, queue, at)]
    if kind == "CONNECTED_TO_AGENT":
        at = _time(agent_info.get("connectedToAgentTimestamp") or record.get("time"), "agentInfo.connectedToAgentTimestamp")
        return [event("contact.answered", at, agent_id=names.agent(agent_info.get("agentArn")))]
    at = _time(detail.get("disconnectTimestamp") or record.get("time"), "detail.disconnectTimestamp")
    if agent_info.get("connectedToAgentTimestamp"):
        return [event("contact.ended", at)]
    if queue_info.get("enqueueTimestamp"):
        return [event("contact.abandoned", at)]
    return []  # left in the flow before any queue: nothing waited, nothing to count


def _transfer_from(detail: dict[str, Any], contact: str, queue: str, queued_at: float) -> list[Event]:
    """An agent's transfer, told by the contact it made: Amazon Connect opens a new contact for the
    target (``initiationMethod`` TRANSFER, ``previousContactId`` the transferred one), while the
    transferred contact's own records go on to its end as if nothing happened. So the transfer is
    counted on the previous contact when the new one is queued, as a transfer that opens a new contact
    (docs/events.md): it moves nothing. The event id comes from the new contact, so a re-queue of it
    counts no second transfer.
    """
    previous = detail.get("previousContactId")
    if detail.get("initiationMethod") != "TRANSFER" or not isinstance(previous, str) or not previous or previous == contact:
        return []
    started = detail.get("initiationTimestamp")
    at = _time(started, "initiationTimestamp") if started else queued_at
    return [{"type": "contact.transferred", "event_id": stable_id(PLATFORM, contact, "transferred-from", previous),
             "occurred_at": iso(at), "source": SOURCE, "contact_id": previous, "to_queue_id": queue,
             "opens_new_contact": True}]


def _contacts(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    contacts = snapshot.get("Contacts") or []
    if not isinstance(contacts, list):
        raise Rejected("wrong_type", "Contacts is not a list")
    return {c["ContactId"]: c for c in contacts if isinstance(c, dict) and isinstance(c.get("ContactId"), str)}


def _agent_state(snapshot: dict[str, Any], names: _Names) -> tuple[str, str | None, list[str]]:
    status = _dict(snapshot.get("AgentStatus"), "AgentStatus")
    profile = _dict(_dict(snapshot.get("Configuration"), "Configuration").get("RoutingProfile"), "RoutingProfile")
    queues = sorted({names.queue(q.get("ARN")) for q in profile.get("InboundQueues") or []
                     if isinstance(q, dict) and "/queue/agent/" not in str(q.get("ARN", ""))})
    states = {c.get("State") for c in _contacts(snapshot).values()}
    if states & _TALKING:
        return "on_contact", None, queues
    if "ENDED" in states:
        return "after_contact_work", None, queues
    kind = status.get("Type")
    if kind == "ROUTABLE":
        return "available", None, queues
    if kind == "OFFLINE":
        return "offline", None, queues
    if kind == "NOT_ROUTABLE":
        return "away", str(status.get("Name") or "") or None, queues
    raise Rejected("missing_field", "AgentStatus.Type is not ROUTABLE, NOT_ROUTABLE or OFFLINE")


def _agent_event(record: dict[str, Any], names: _Names) -> list[Event]:
    kind = record["EventType"]
    if kind == "HEART_BEAT":
        return []
    if kind not in ("LOGIN", "LOGOUT", "STATE_CHANGE"):
        raise Rejected("unknown_event", f"agent event {str(kind)[:60]!r} is not LOGIN, LOGOUT, STATE_CHANGE or HEART_BEAT")
    agent = names.agent(record.get("AgentARN"))
    at = _time(record.get("EventTimestamp"), "EventTimestamp")
    key = record.get("EventId") or f"{agent}|{kind}|{record.get('EventTimestamp')}"
    current = _dict(record.get("CurrentAgentSnapshot"), "CurrentAgentSnapshot")
    previous = _dict(record.get("PreviousAgentSnapshot"), "PreviousAgentSnapshot")
    out: list[Event] = []

    def contact_event(type_: str, contact: str, when: float) -> None:
        out.append({"type": type_, "event_id": stable_id(PLATFORM, key, type_, contact), "occurred_at": iso(when),
                    "source": SOURCE, "contact_id": contact})

    before, after = _contacts(previous), _contacts(current)
    for contact, now in after.items():
        was = before.get(contact, {}).get("State")
        state = now.get("State")
        if was == "CONNECTED" and state == "CONNECTED_ONHOLD":
            contact_event("contact.hold_started", contact, _time(now.get("StateStartTimestamp") or record.get("EventTimestamp"), "StateStartTimestamp"))
        elif was == "CONNECTED_ONHOLD" and state in ("CONNECTED", "ENDED"):
            contact_event("contact.hold_ended", contact, _time(now.get("StateStartTimestamp") or record.get("EventTimestamp"), "StateStartTimestamp"))
    for contact, then in before.items():
        if contact not in after and then.get("State") in _HANDLED:
            contact_event("contact.wrapped_up", contact, at)  # after-contact work is over (or there was none)

    if kind == "LOGOUT":
        profile = _dict(_dict((previous or current).get("Configuration"), "Configuration").get("RoutingProfile"),
                        "RoutingProfile")
        state, reason = "offline", None
        queues = sorted({names.queue(q.get("ARN")) for q in profile.get("InboundQueues") or []
                         if isinstance(q, dict) and "/queue/agent/" not in str(q.get("ARN", ""))})
    else:
        state, reason, queues = _agent_state(current, names)
        if kind == "STATE_CHANGE" and previous and _agent_state(previous, names) == (state, reason, queues):
            return out  # a change the contract does not see (auto-accept, language, …)
    change: Event = {"type": "agent.state_changed", "event_id": stable_id(PLATFORM, key, "agent"), "occurred_at": iso(at),
                     "source": SOURCE, "agent_id": agent, "state": state, "queue_ids": queues}
    if reason:
        change["reason"] = reason
    return [*out, change]


def map_record(record: Any, options: AmazonConnectSettings | None = None) -> list[Event]:
    """The contract events of one Amazon Connect record (contact event or agent event), or :class:`Rejected`."""
    if not isinstance(record, dict):
        raise Rejected("not_object", f"expected a JSON object, got {type(record).__name__}")
    kinesis = record.get("kinesis")
    if isinstance(kinesis, dict) and isinstance(kinesis.get("data"), str):  # a Kinesis record as Lambda sees it
        try:
            record = orjson.loads(base64.b64decode(kinesis["data"], validate=True))
        except (ValueError, orjson.JSONDecodeError):
            raise Rejected("not_json", "kinesis.data is not base64 of a JSON object") from None
        if not isinstance(record, dict):
            raise Rejected("not_object", "kinesis.data is not a JSON object")
    names = _Names(options or AmazonConnectSettings())
    if record.get("detail-type") == "Amazon Connect Contact Event" or (
            record.get("source") == "aws.connect" and isinstance(record.get("detail"), dict)):
        return _contact_event(record, names)
    if isinstance(record.get("EventType"), str) and "AgentARN" in record:
        return _agent_event(record, names)
    raise Rejected("unknown_record", "neither an Amazon Connect contact event nor an agent event stream record")


async def run_lines(source: str, settings: Settings) -> int:
    """``ccpulse connect amazon-connect --input FILE|-``: map every JSON line; bad ones are dead-lettered."""
    import time

    from ccpulse.connectors.sink import Sink
    from ccpulse.kafka import ensure_topics, start_producer

    await ensure_topics(settings)
    producer = await start_producer(settings.kafka_servers)
    sink = Sink(settings, producer, f"amazon-connect:{'stdin' if source == '-' else source}")
    options = settings.connectors.amazon_connect
    started, lines = time.monotonic(), 0
    stream = sys.stdin.buffer if source == "-" else open(source, "rb")
    interrupted = False
    live = source == "-"

    async def records() -> Any:
        number = 0
        while True:
            # A pipe may be quiet for minutes: read it off the loop, so sends go out meanwhile.
            raw = await asyncio.to_thread(stream.readline) if live else stream.readline()
            if not raw:
                return
            number += 1
            yield number, raw

    try:
        async for number, raw in records():
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            lines += 1
            try:
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise Rejected("not_json", f"line {number} is not JSON") from None
                events = map_record(record, options)
            except Rejected as exc:
                await sink.dead_letter(line, exc.reason, exc.message, number)
                continue
            if events:
                await sink.emit(events, line, number)
            if live:
                await sink.flush()  # a live stream: each record is on Kafka before the next is awaited
            elif lines % 1000 == 0:
                await sink.flush()
                print(f"ccpulse connect amazon-connect: {lines:,} records so far", file=sys.stderr, flush=True)
            await asyncio.sleep(0)
    except asyncio.CancelledError:
        interrupted = True
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
        try:
            await sink.flush()
        finally:
            await producer.stop()
    rejected = sum(sink.rejected.values())
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(sink.rejected.items()))
    print(f"ccpulse connect amazon-connect: {lines:,} records, {sink.sent:,} events sent, {rejected:,} dead-lettered"
          f"{f' ({reasons})' if reasons else ''} in {time.monotonic() - started:.1f} s{' (stopped)' if interrupted else ''}",
          file=sys.stderr, flush=True)
    return 0
