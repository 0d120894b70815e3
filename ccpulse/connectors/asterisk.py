"""Asterisk queue_log → contract events (pure mapping; the file driver is ccpulse/connectors/tail.py).

Asterisk's app_queue writes one line per queue event (FreePBX, Issabel, VICIdial and Wazo all
keep it): ``time|callid|queue|agent|event|data1|data2|…``. Three shapes are read:

- the file, with whole-second epoch times (``1772442000|…``);
- the same with fractional epoch times (``1772442000.123456|…``), as some builds write;
- the realtime table exported as CSV (``time,callid,queuename,agent,event,data1,…,data5``
  or a single ``data`` column holding ``a|b|c``), ``time`` a date-time of the database, in
  ``timezone`` when it has no offset. A header line is skipped.

Contact events follow the caller's channel (``callid``); member events keep, per member, its
queues, pause and call, so that each line can say the member's whole state
(``agent.state_changed`` with ``queue_ids``). That state is small and serialisable
(:meth:`QueueLogMapper.state`): the follow driver saves it with the file position, so a
restarted connector goes on exactly where it stopped.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ccpulse.connectors import Event, Rejected, iso, stable_id
from ccpulse.settings import AsteriskSettings

__all__ = ["CALL_EVENTS", "IGNORED_EVENTS", "MEMBER_EVENTS", "QueueLogMapper", "QueueLogRecord", "parse_line"]

PLATFORM = "ast"
SOURCE = "asterisk-queue_log"

#: Events about a caller in a queue (need a real callid).
CALL_EVENTS = frozenset({
    "ENTERQUEUE", "CONNECT", "COMPLETECALLER", "COMPLETEAGENT", "ABANDON", "EXITWITHTIMEOUT", "EXITWITHKEY",
    "EXITEMPTY", "TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER", "RINGNOANSWER",
})
#: Events about a queue member (callid is NONE, MANAGER, REALTIME, …).
MEMBER_EVENTS = frozenset({
    "ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL", "AGENTLOGIN", "AGENTLOGOFF",
    "AGENTCALLBACKLOGIN", "AGENTCALLBACKLOGOFF",
})
#: Events understood and deliberately not mapped (docs/connectors.md says why).
IGNORED_EVENTS = frozenset({
    "CONFIGRELOAD", "QUEUESTART", "RINGCANCELED", "DID", "INFO", "SYSCOMPAT", "AGENTDUMP", "JOINEMPTY",
    "ENTERQUEUEANN", "ADDMEMBERFAILED", "PENALTY",
})
_NO_CALL = frozenset({"NONE", "MANAGER", "REALTIME", ""})
_CSV_HEADER = "time,callid,queuename"


@dataclass(frozen=True)
class QueueLogRecord:
    """One queue_log line, parsed."""

    at: float
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]

    def key(self) -> str:
        """The record as the platform identifies it: the same event read from the file or the
        realtime CSV export gives the same key, and so the same event ids."""
        return "|".join((f"{self.at:.6f}", self.callid, self.queue, self.agent, self.event, *self.data)).rstrip("|")


def _epoch(text: str, zone: ZoneInfo) -> float:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise Rejected("invalid_timestamp", f"time {text[:40]!r} is neither epoch seconds nor a date-time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.timestamp()
    if not 946684800 <= value < 4102444800:  # 2000-01-01 .. 2100-01-01, as the contract
        raise Rejected("invalid_timestamp", f"time {text[:40]!r} is outside 2000..2100 (milliseconds?)")
    return value


def parse_line(line: str, zone: ZoneInfo | None = None) -> QueueLogRecord | None:
    """A queue_log line (file or realtime CSV), None for a blank or header line, or :class:`Rejected`."""
    text = line.strip("\r\n\x00")
    if not text.strip():
        return None
    if text.lower().startswith(_CSV_HEADER):
        return None
    head = text.split("|", 1)[0]
    if "," in head:  # the realtime table's CSV export: the first column holds no pipe
        fields = next(csv.reader([text]))
        if len(fields) == 6 and "|" in fields[5]:  # a single `data` column: a|b|c
            fields = fields[:5] + fields[5].split("|")
    else:
        fields = text.split("|")
    if len(fields) < 5 or not fields[4].strip():
        raise Rejected("truncated", f"{len(fields)} field(s); a queue_log line has time|callid|queue|agent|event|data…")
    at = _epoch(fields[0], zone or ZoneInfo("UTC"))
    data = tuple(fields[5:])
    while data and data[-1] == "":
        data = data[:-1]
    return QueueLogRecord(at, fields[1].strip(), fields[2].strip(), fields[3].strip(), fields[4].strip().upper(), data)


@dataclass
class _Member:
    queues: list[str] = field(default_factory=list)
    paused: dict[str, str] = field(default_factory=dict)  # queue ("*" for all) -> reason
    logged_in: bool | None = None  # None: never logged in with AGENTLOGIN (dynamic or static member)
    call: str | None = None  # callid being handled
    acw_until: float | None = None
    acw_id: str | None = None
    last: list[Any] | None = None  # [state, reason, queues] last emitted


class QueueLogMapper:
    """Maps queue_log records to contract events, keeping each member's queues, pause and call.

    ``map`` returns the events of one record (often none) or raises :class:`Rejected`;
    ``due(now)`` returns the end-of-wrap-up agent changes that have come due: a driver calls it
    with each record's time before ``map`` (queue_log writes no line when a wrap-up ends).
    """

    def __init__(self, options: AsteriskSettings | None = None) -> None:
        self.options = options or AsteriskSettings()
        self.members: dict[str, _Member] = {}
        #: Ring-no-answer per agent: queue_log logs it, the contract has no event for it.
        self.ring_no_answer: Counter[str] = Counter()
        self.ignored = 0

    # ---- persistence ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"members": {name: vars(m) for name, m in self.members.items()},
                "ring_no_answer": dict(self.ring_no_answer)}

    def restore(self, state: dict[str, Any]) -> None:
        self.members = {name: _Member(**fields) for name, fields in state.get("members", {}).items()}
        self.ring_no_answer = Counter(state.get("ring_no_answer", {}))

    # ---- names ------------------------------------------------------------------------------
    def queue_id(self, queue: str) -> str:
        return self.options.queue_ids.get(queue, queue)

    def agent_id(self, member: str) -> str:
        return self.options.agents.get(member, member)

    def wrapup(self, queue: str) -> float:
        return self.options.wrapup_seconds.get(queue, self.options.default_wrapup_seconds)

    # ---- mapping ----------------------------------------------------------------------------
    def map(self, rec: QueueLogRecord) -> list[Event]:
        out: list[Event] = []
        if rec.event in IGNORED_EVENTS:
            self.ignored += 1
            return out
        if rec.event in CALL_EVENTS:
            if rec.callid.upper() in _NO_CALL:
                self.ignored += 1  # e.g. a RINGNOANSWER of a test call placed by hand
                return out
            if not rec.queue or rec.queue.upper() == "NONE":
                raise Rejected("missing_queue", f"{rec.event} without a queue name")
            return out + self._call(rec)
        if rec.event in MEMBER_EVENTS:
            if not rec.agent or rec.agent.upper() == "NONE":
                raise Rejected("missing_agent", f"{rec.event} without a queue member")
            return out + self._member_event(rec)
        raise Rejected("unknown_event", f"queue_log event {rec.event[:60]!r} is not one ccpulse maps "
                       "(docs/connectors.md lists them)")

    def _contact(self, rec: QueueLogRecord, kind: str, suffix: str = "", **fields: Any) -> Event:
        return {"type": kind, "event_id": stable_id(PLATFORM, rec.key(), suffix or kind), "occurred_at": iso(rec.at),
                "source": SOURCE, "contact_id": rec.callid, **{k: v for k, v in fields.items() if v is not None}}

    def _call(self, rec: QueueLogRecord) -> list[Event]:
        kind = rec.event
        queue = self.queue_id(rec.queue)
        if kind == "ENTERQUEUE":
            caller = rec.data[1].strip() if len(rec.data) > 1 else ""
            customer = caller if caller and caller.lower() not in ("unknown", "anonymous", "restricted") else None
            channel = self.options.channels.get(rec.queue, "voice")
            return [self._contact(rec, "contact.queued", queue_id=queue, channel=channel, customer_id=customer)]
        if kind == "RINGNOANSWER":
            if rec.agent and rec.agent.upper() != "NONE":
                self.ring_no_answer[self.agent_id(rec.agent)] += 1
            return []
        if kind == "ABANDON":
            return [self._contact(rec, "contact.abandoned")]
        if kind in ("EXITWITHTIMEOUT", "EXITEMPTY"):
            return [self._contact(rec, "contact.flowed_out", reason="overflow")]
        if kind == "EXITWITHKEY":
            key = rec.data[0].strip() if rec.data else ""
            return [self._contact(rec, "contact.flowed_out", reason=self.options.exit_key_reasons.get(key, "overflow"))]
        if not rec.agent or rec.agent.upper() == "NONE":
            raise Rejected("missing_agent", f"{kind} without the queue member who took the call")
        member = self._member(rec.agent, rec.queue)
        agent = self.agent_id(rec.agent)
        if kind == "CONNECT":
            member.call = rec.callid
            member.acw_until = member.acw_id = None
            return [self._contact(rec, "contact.answered", agent_id=agent), *self._agent(rec, rec.agent)]
        # The call leaves the member: completed or transferred away.
        if kind in ("COMPLETECALLER", "COMPLETEAGENT"):
            wrap = self.wrapup(rec.queue)
            events = [self._contact(rec, "contact.ended"),
                      {**self._contact(rec, "contact.wrapped_up"), "occurred_at": iso(rec.at + wrap)}]
        else:  # TRANSFER / BLINDTRANSFER (extension, context, …) / ATTENDEDTRANSFER (method, data, …)
            target = rec.data[0].strip() if rec.data and kind != "ATTENDEDTRANSFER" else ""
            to_queue = self.options.queue_extensions.get(target)
            # A transfer to anything but a known queue: the queue_log never says how the next leg
            # ends, so the handling is counted here (no target agent whose leg would never close).
            events = [self._contact(rec, "contact.transferred", to_queue_id=self.queue_id(to_queue) if to_queue else None)]
            wrap = 0.0
        if member.call == rec.callid:
            member.call = None
        if wrap > 0:
            member.acw_until, member.acw_id = rec.at + wrap, stable_id(PLATFORM, rec.key(), "wrap-end")
        return events + self._agent(rec, rec.agent)

    def _member(self, name: str, queue: str | None = None) -> _Member:
        member = self.members.setdefault(name, _Member())
        if queue and queue.upper() != "NONE" and queue not in member.queues:
            member.queues.append(queue)  # a static member shows itself by taking a call
        return member

    def _member_event(self, rec: QueueLogRecord) -> list[Event]:
        kind, queue = rec.event, rec.queue if rec.queue.upper() != "NONE" else ""
        member = self._member(rec.agent)
        if kind == "ADDMEMBER" and queue and queue not in member.queues:
            member.queues.append(queue)
        elif kind == "REMOVEMEMBER" and queue in member.queues:
            member.queues.remove(queue)
            member.paused.pop(queue, None)
        elif kind == "PAUSE":
            member.paused[queue or "*"] = rec.data[0].strip() if rec.data else ""
        elif kind == "UNPAUSE":
            member.paused.pop(queue or "*", None)
            if queue:
                member.paused.pop("*", None)
        elif kind == "PAUSEALL":
            member.paused = {"*": rec.data[0].strip() if rec.data else ""}
        elif kind == "UNPAUSEALL":
            member.paused = {}
        elif kind in ("AGENTLOGIN", "AGENTCALLBACKLOGIN"):
            member.logged_in = True
        elif kind in ("AGENTLOGOFF", "AGENTCALLBACKLOGOFF"):
            member.logged_in = False
            member.paused, member.call = {}, None
        if member.acw_until is not None:  # the member acted before its wrap-up ran out: wrap-up ends here
            member.acw_until = member.acw_id = None
        return self._agent(rec, rec.agent)

    def _derived(self, member: _Member) -> tuple[str, str | None]:
        if member.logged_in is False or (member.logged_in is None and not member.queues and member.call is None):
            return "offline", None
        if member.call is not None:
            return "on_contact", None
        if member.acw_until is not None:
            return "after_contact_work", None
        if "*" in member.paused or (member.queues and all(q in member.paused for q in member.queues)):
            reason = member.paused.get("*", next(reversed(member.paused.values()), "")) if member.paused else ""
            return "away", reason or None
        return "available", None

    def _agent(self, rec: QueueLogRecord, name: str, at: float | None = None, event_id: str | None = None) -> list[Event]:
        """The member's ``agent.state_changed`` when its state, reason or queues changed."""
        member = self.members[name]
        state, reason = self._derived(member)
        queues = sorted(self.queue_id(q) for q in member.queues)
        now = [state, reason, queues]
        if member.last == now:
            return []
        member.last = now
        event: Event = {"type": "agent.state_changed", "event_id": event_id or stable_id(PLATFORM, rec.key(), "agent", name),
                        "occurred_at": iso(rec.at if at is None else at), "source": SOURCE,
                        "agent_id": self.agent_id(name), "state": state, "queue_ids": queues}
        if reason:
            event["reason"] = reason
        return [event]

    def due(self, now: float) -> list[Event]:
        """End-of-wrap-up state changes due at ``now`` (queue_log writes no line when wrap-up ends)."""
        out: list[Event] = []
        for name, member in self.members.items():
            if member.acw_until is not None and member.acw_until <= now:
                at, event_id = member.acw_until, member.acw_id
                member.acw_until = member.acw_id = None
                dummy = QueueLogRecord(at, "NONE", "NONE", name, "WRAPUPEND", ())
                out.extend(self._agent(dummy, name, at=at, event_id=event_id))
        return out
