"""The per-entity rules of the contact and agent sides: one implementation for the live worker and the batch fold.

Both drivers — the worker's processors (``streams/processing.py``) and ``PartitionFold``
(``ccpulse/domain/batch.py``, what ``ccpulse recompute`` runs) — only move bytes and state around
these rules: they decode and check each message (:func:`check_event`), hand the accepted record to
:meth:`ContactRules.on_event` / :meth:`AgentRules.on_event`, number the deltas they get back with
:func:`numbered`, and call :meth:`ContactRules.on_due` for the contacts whose time has come by the
partition's :func:`judging_mark`. A rule knows nothing of Kafka offsets or bytes, except the
producer-order key an event record carries (``src``/``off``: its message) and the original text it
keeps for a dead letter.

A contact's stored state (JSON-ready, the worker's table value) holds:

``events``   the records kept (sorted; one ``contact.summary`` record once compacted)
``contrib``  the contributions already sent (their sum is what the buckets hold for this contact)
``fcr``      the last first-contact-resolution record sent to the customer side
``last_t``   the newest event time of the contact (any event, surveys and QA included)
``open``     the contact is waiting, being handled or in ACW
``channel``  its channel (the open-expiry limit is per channel)
``compact``  the events were replaced by the summary record
``settled`` / ``rejected``  the lateness bound has passed since ``last_t``; the anomalies dead-lettered

Lifetimes (docs/events.md, "Retention of contacts"): an open contact is kept until its channel's
open-expiry limit after its last contact event, then ends with a ``contact.expired`` record (outcome
``expired``, counted, dead-lettered as ``expired_open``); a finished one keeps its events
``contact_retention_seconds`` after its last event, then only a summary record until
``contact_summary_days`` after it, then nothing. Each transition happens at an *event time*
(:meth:`ContactRules.due_at`); the sweep applies it once the judging watermark is the lateness
bound past it (no event before it can still be accepted), and an event at or after it applies it
first. So the stored events, and the figures, do not depend on when a sweep happens to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ccpulse.domain.agent import agent_record, prune_agent, time_in_state_delta
from ccpulse.domain.contact import (EXPIRED_TYPE, TOP_PREFIX, Contributions, SlaLookup, add_event, compact_record,
                                    diff_contributions, expired_record, fold_contact)
from ccpulse.domain.intervals import is_late
from ccpulse.settings import Settings
from schemas.events import CUSTOMER_EVENT_TYPES, AgentStateChanged, Event, EventRejected, decode_event

__all__ = ["SWEEP_INDEX", "SWEEP_SECONDS", "AgentRules", "Change", "ContactRules", "check_event", "judging_mark",
           "merge_deltas", "numbered"]

#: A partition's contacts are swept each time its judging watermark has moved this far (event time).
SWEEP_SECONDS = 60.0
#: Deltas a sweep sends are numbered ``(offset of the partition's last event, SWEEP_INDEX + n)``: above
#: that event's own deltas ``(offset, 0..)``, below the next event's.
SWEEP_INDEX = 1_000_000

#: Contact events that take a contact out of the state it is in (waiting, being handled, in ACW). One of
#: them arriving too late to be counted closes the open contact (see :meth:`ContactRules.on_late`).
_MOVES = frozenset({"contact.answered", "contact.abandoned", "contact.flowed_out", "contact.transferred",
                    "contact.ended", "contact.wrapped_up"})
#: Records that are not a contact's own lifecycle (they neither keep an open contact alive nor expire it).
_NOT_LIFECYCLE = frozenset({"survey.responded", "qa.evaluated", EXPIRED_TYPE})


def check_event(raw: bytes | None, mark: float, lateness: float,
                agent_topic: bool | None) -> tuple[Event | None, str | None, str]:
    """The input check of every input message: (event, None, "") when accepted, else (the event or None
    when it cannot be decoded, the dead-letter reason, its message).

    ``agent_topic``: whether the message came from the agent-events topic (None: a source carrying any
    type, as :func:`~ccpulse.domain.batch.fold_messages`' list). ``mark``: its source's watermark. A
    late event is returned with its reason, so the contact it belongs to can be told
    (:meth:`ContactRules.on_late`).
    """
    try:
        event = decode_event(raw)
    except EventRejected as exc:
        return None, exc.reason, exc.message
    if event.type in CUSTOMER_EVENT_TYPES:  # customer events have their own topic and processor
        return event, "wrong_topic", f"{event.type} belongs on the customer-events topic"
    if agent_topic is not None and isinstance(event, AgentStateChanged) != agent_topic:
        where = "the contact or survey topic" if agent_topic else "the agent-events topic"
        return event, "wrong_topic", f"{event.type} belongs on {where}"
    if is_late(event.at, mark, lateness):
        return event, "late", (f"event time is {mark - event.at:.0f} s behind the watermark; "
                               f"the lateness bound is {lateness:.0f} s")
    return event, None, ""


def judging_mark(sources: Iterable[tuple[float | None, bool]]) -> float:
    """The watermark a partition's contacts are settled, expired and compacted by.

    ``sources``: (watermark or None when nothing was accepted yet, read to its end?) of each source the
    partition's contacts come from (the contact and the survey topic). The older watermark of the
    sources that still have messages to read: a topic read ahead must not settle a contact whose
    events wait, unread, on the other (its survey would be judged "unknown contact"). A source read to
    its end holds nothing back (a survey topic silent for hours must not keep every contact
    unsettled); when all are, the newer watermark.
    """
    behind, known = [], []
    for mark, at_end in sources:
        if mark is not None:
            known.append(mark)
        if not at_end:
            behind.append(0.0 if mark is None else mark)
    return min(behind) if behind else max(known, default=0.0)


def numbered(delta: Mapping[str, Mapping[str, Any]], offset: int, base: int = 0) -> list[tuple[str, Mapping[str, Any], tuple[int, int]]]:
    """One step's bucket deltas as (bucket, change, (offset, index)): the interval side keeps, per bucket
    and source, the highest number applied and drops anything at or below it (a redelivery)."""
    return [(bucket, change, (offset, base + index)) for index, (bucket, change) in enumerate(sorted(delta.items()))]


def merge_deltas(first: Contributions, then: Contributions) -> Contributions:
    """Two deltas of one contact applied one after the other, as one delta."""
    out: dict[str, dict[str, Any]] = {key: dict(change) for key, change in first.items()}
    for key, change in then.items():
        into = out.setdefault(key, {})
        for measure, value in change.items():
            if measure.startswith(TOP_PREFIX) or value is None:
                into[measure] = value
            else:
                total = into.get(measure, 0) + value
                if total:
                    into[measure] = total
                else:
                    into.pop(measure, None)
        if not into:
            del out[key]
    return out


@dataclass
class Change:
    """What one step did to a contact. The driver sends ``delta`` (numbered under the step's message),
    the FCR record, the dead letters, publishes the rows, then stores ``state`` (None: delete it)."""

    state: dict[str, Any] | None
    status: str = "applied"  # on_event: "applied", "redelivered" (that very message again) or "duplicate"
    delta: Contributions = field(default_factory=dict)
    fcr: dict[str, Any] | None = None  # a new FCR record for the customer side (None: nothing new)
    fcr_customer: str | None = None  # whose (the contact's customer)
    rows: bool = False  # publish the live and recent rows below (False: leave them)
    drop_rows: bool = False  # delete the live and recent rows (compacted or deleted contact)
    live: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    dead: list[tuple[dict[str, Any], str, str]] = field(default_factory=list)  # (stored record, reason, message)
    expired: int = 0  # open contacts this step expired (each also has an ``expired_open`` dead letter)
    anomalies: list[tuple[str, str, str]] | None = None  # the last fold's (event_id, reason, message)


def _new_state() -> dict[str, Any]:
    return {"events": [], "contrib": {}, "fcr": None, "last_t": 0.0, "open": False}


def _lifecycle_t(events: list[dict[str, Any]]) -> float:
    """The time of the contact's newest lifecycle event (what keeps an open contact alive)."""
    for rec in reversed(events):
        if rec["type"] not in _NOT_LIFECYCLE:
            return float(rec["t"])
    return 0.0


class ContactRules:
    """A contact's rules over its stored state (module docstring): every method returns a :class:`Change`
    and never changes the state it is given."""

    def __init__(self, settings: Settings, sla: SlaLookup) -> None:
        self.settings = settings
        self.sla = sla
        self.lateness = settings.lateness_seconds
        self.keep = settings.contact_retention_seconds
        self.keep_summary = settings.contact_summary_days * 86400.0
        self.skew = settings.skew_tolerance_seconds
        # cid -> (events, anomalies) of the contact's last fold, for :meth:`_settle`: a contact mostly settles
        # in a later sweep, and folding its events again only for their anomalies was 8% of ``ccpulse
        # recompute``'s time. Used only while the stored events are that very list (stored lists are never
        # changed in place, and the entry keeps it alive); dropped when the contact settles.
        self._last_fold: dict[str, tuple[list[dict[str, Any]], list[tuple[str, str, str]]]] = {}

    def open_limit(self, channel: str | None) -> float:
        """Seconds an open contact of ``channel`` is kept after its last contact event."""
        days = self.settings.open_contact_expiry_days
        return days.get(channel or "voice", days.get("voice", 1.0)) * 86400.0

    # ---- when -------------------------------------------------------------------------------
    def due_at(self, state: Mapping[str, Any]) -> float:
        """The event time of the contact's next transition: open -> expired, finished -> compacted,
        compacted -> deleted."""
        last = state.get("last_t", 0.0)
        if state.get("compact"):
            return last + self.keep_summary
        is_open, channel = self._openness(state)
        if is_open:
            return _lifecycle_t(state["events"]) + self.open_limit(channel)
        return last + self.keep

    def _openness(self, state: Mapping[str, Any]) -> tuple[bool, str | None]:
        """(open?, channel) of a stored state; a state stored before these were kept is folded once."""
        if "open" in state:
            return bool(state["open"]), state.get("channel")
        fold = fold_contact("", state.get("events", []), self.sla, self.skew)
        return fold.live is not None, (fold.summary or {}).get("channel")

    def sweep_at(self, state: Mapping[str, Any]) -> float:
        """The judging watermark at which :meth:`on_due` has something to do for this contact."""
        transition = self.due_at(state) + self.lateness
        if state.get("settled"):
            return transition
        return min(transition, state.get("last_t", 0.0) + self.lateness)

    # ---- steps ------------------------------------------------------------------------------
    def on_event(self, cid: str, state: Mapping[str, Any] | None, rec: dict[str, Any], judging: float = 0.0) -> Change:
        """Add an accepted event record (:func:`~ccpulse.domain.contact.event_record`) to the contact.

        ``judging``: the partition's judging watermark, this event's source counted at this event's time.
        When it is the lateness bound past the contact's last event, the contact settles now (its
        anomalies are final).
        """
        current: dict[str, Any] = dict(state) if state else _new_state()
        for existing in current["events"]:
            if existing["id"] == rec["id"]:
                same = existing["src"] == rec["src"] and existing["off"] == rec["off"]
                return Change(current, status="redelivered" if same else "duplicate")
        # Transitions due at or before this event happen first (as the sweep would have done), once
        # every source of the partition has reached them: a survey topic read ahead of its contact
        # topic must not drop a survey-only state as "never queued" before the contact's events,
        # still unread, arrive (a survey 3 days after the call was lost that way).
        before: Change | None = None  # the transitions' change (none: nothing to chain, the usual case)
        at = float(rec["t"])
        horizon = min(at, judging)
        while current["events"] and horizon >= self.due_at(current):
            if current.get("open") and rec["type"] in _NOT_LIFECYCLE:
                break  # a survey does not expire an open contact; the sweep does
            was = self.due_at(current), current.get("compact"), current.get("open")
            step = self._transition(cid, current)
            before = step if before is None else self._chain(before, step)
            if step.state is None:
                current = _new_state()
                break
            current = step.state
            if (self.due_at(current), current.get("compact"), current.get("open")) == was:
                break  # no progress (never expected)
        events = list(current["events"])
        add_event(events, rec)
        after = self._refold(cid, current, events, at)
        out = after if before is None else self._chain(before, after)
        if out.state is not None and (out.state.get("settled") or judging >= out.state["last_t"] + self.lateness):
            self._settle(cid, out)
        return out

    def on_due(self, cid: str, state: Mapping[str, Any], judging: float) -> Change | None:
        """What the sweep does at ``judging`` (the partition's judging watermark): settle, expire,
        compact, delete. None: nothing was due."""
        current: dict[str, Any] | None
        current = dict(state)
        out = Change(current)
        acted = False
        if not current.get("settled") and judging >= current.get("last_t", 0.0) + self.lateness:
            self._settle(cid, out)
            current, acted = out.state, True
        while current is not None and judging >= self.due_at(current) + self.lateness:
            before = self.due_at(current), current.get("compact"), current.get("open")
            out = self._chain(out, self._transition(cid, current))
            current, acted = out.state, True
            if current is not None and (self.due_at(current), current.get("compact"), current.get("open")) == before:
                break  # no progress (never expected): look again at the next sweep rather than loop
        return out if acted else None

    def on_late(self, cid: str, state: Mapping[str, Any] | None, rec: dict[str, Any], mark: float) -> Change | None:
        """An event of the contact was rejected as late (``mark``: its source's watermark). A late step
        that would move an open contact on (answered, ended, ...) must not leave it showing as waiting
        or talking for a day: the contact ends now as ``expired`` — at the oldest time still open to
        changes (``mark`` minus the lateness bound), or at its expiry time if that came first."""
        if (not state or not state.get("open") or state.get("compact") or rec["type"] not in _MOVES
                or rec.get("opens_new_contact")):  # counts a transfer, moves nothing
            return None
        at = max(_lifecycle_t(state["events"]), mark - self.lateness)
        at = min(at, self.due_at(state))
        why = (f"closed as expired at {at:.0f}: its {rec['type']} (event_id {rec['id']}, at {rec['t']:.0f}) "
               f"arrived {mark - rec['t']:.0f} s behind the watermark, beyond the lateness bound")
        return self._expire(cid, dict(state), at, why)

    # ---- the transitions --------------------------------------------------------------------
    def _transition(self, cid: str, state: dict[str, Any]) -> Change:
        at = self.due_at(state)
        if state.get("compact"):
            return Change(None, drop_rows=True)  # the summary's time is over: forget the contact
        self._last_fold.pop(cid, None)  # expired (folded again below), compacted or forgotten
        is_open, channel = self._openness(state)
        if is_open:
            limit = self.open_limit(channel)
            return self._expire(cid, {**state, "open": True, "channel": channel}, at,
                                f"still open {limit / 86400:g} days after its last event "
                                f"(the {channel or 'voice'} limit, open_contact_expiry_days)")
        if not any(r["type"] == "contact.queued" for r in state["events"]):
            return Change(None, drop_rows=True)  # it never queued: nothing to summarise (its events were dead-lettered)
        summary = compact_record(cid, state["events"], self.sla, self.skew)
        # Figures sent stay: the summary contributes nothing itself, so nothing is taken back.
        compacted = {**state, "events": [summary], "contrib": {}, "compact": True, "open": False}
        return Change(compacted, drop_rows=True)

    def _expire(self, cid: str, state: dict[str, Any], at: float, why: str) -> Change:
        record = expired_record(cid, at)
        earlier = sum(1 for r in state["events"] if r["type"] == EXPIRED_TYPE)
        if earlier:  # expired before, then queued again: each expiry is its own record
            record["id"] = f"{record['id']}#{earlier + 1}"
        last = next((r for r in reversed(state["events"]) if r.get("raw")), state["events"][-1])
        events = list(state["events"])
        add_event(events, record)
        out = self._refold(cid, state, events, at)
        out.dead.append((last, "expired_open", f"contact {cid} {why}"))
        out.expired = 1
        return out

    def _refold(self, cid: str, state: dict[str, Any], events: list[dict[str, Any]], at: float) -> Change:
        fold = fold_contact(cid, events, self.sla, self.skew)
        new = {**state, "events": events, "contrib": fold.contributions, "last_t": max(state.get("last_t", 0.0), at)}
        out = Change(new, delta=diff_contributions(state["contrib"], fold.contributions))
        out.anomalies = fold.anomalies
        self._last_fold[cid] = (events, fold.anomalies)
        if state.get("compact"):
            return out  # a late survey or QA of a compacted contact: its figures only
        if fold.fcr is not None and fold.fcr != state.get("fcr"):
            out.fcr, out.fcr_customer = fold.fcr, fold.summary["customer_id"]  # type: ignore[index]
        new["fcr"] = fold.fcr
        new["open"] = fold.live is not None
        if fold.summary is not None:
            new["channel"] = fold.summary.get("channel")
        out.rows, out.live, out.summary = True, fold.live, fold.summary
        return out

    def _settle(self, cid: str, out: Change) -> None:
        """Mark the state settled; its anomalies not dead-lettered before go to ``out.dead``."""
        state = dict(out.state or {})
        anomalies = out.anomalies
        last = self._last_fold.pop(cid, None)
        if anomalies is None:
            anomalies = (last[1] if last is not None and last[0] is state["events"]
                         else fold_contact(cid, state["events"], self.sla, self.skew).anomalies)
        done = set(state.get("rejected", ()))
        by_id = {r["id"]: r for r in state["events"]}
        for event_id, reason, message in anomalies:
            if event_id not in done and event_id in by_id:
                out.dead.append((by_id[event_id], reason, message))
                done.add(event_id)
        state["settled"], state["rejected"] = True, sorted(done)
        out.state = state

    @staticmethod
    def _chain(first: Change, then: Change) -> Change:
        """``first`` then ``then`` as one change (the later state and rows win)."""
        if not (first.delta or first.fcr or first.dead or first.expired or first.rows or first.drop_rows):
            return then
        out = Change(then.state, status=then.status, delta=merge_deltas(first.delta, then.delta),
                     fcr=then.fcr if then.fcr is not None else first.fcr,
                     fcr_customer=then.fcr_customer if then.fcr is not None else first.fcr_customer,
                     dead=[*first.dead, *then.dead],
                     expired=first.expired + then.expired)
        if then.rows:
            out.rows, out.live, out.summary = True, then.live, then.summary
        elif then.drop_rows:
            out.drop_rows = True
        else:
            out.rows, out.live, out.summary, out.drop_rows = first.rows, first.live, first.summary, first.drop_rows
        out.anomalies = then.anomalies
        return out


class AgentRules:
    """An agent's rules over its kept state changes (``ccpulse.domain.agent``)."""

    def __init__(self, settings: Settings) -> None:
        self.lateness = settings.lateness_seconds

    def on_event(self, changes: list[dict[str, Any]], event: AgentStateChanged, raw: bytes, src: str, offset: int,
                 mark: float) -> tuple[str, Contributions, list[dict[str, Any]]]:
        """(status, time-in-state delta, the changes to keep) for one accepted state change; ``mark``: the
        source's watermark before it. Changes older than the lateness bound can no longer be reordered
        against a new one and are pruned."""
        kept = list(changes)
        status = add_event(kept, agent_record(event, raw, src, offset))
        if status == "duplicate":
            return status, {}, list(changes)
        delta = time_in_state_delta(event.agent_id, kept, event.event_id) if status == "applied" else {}
        return status, delta, prune_agent(kept, max(mark, event.at) - self.lateness)

