"""Batch drivers over the domain core: fold raw messages without Kafka or Faust.

:class:`PartitionFold` applies, to the messages of one partition number, exactly the rules
the live worker applies to them (``streams/processing.py``): both drive the one implementation
in ``ccpulse.domain.entity`` — the input check (decode, topic, lateness against the per-source
watermark), a contact's step and its contribution deltas, a late step closing an open contact,
agent time in state, the sweep (settle, expire, compact, delete) by the same judging watermark,
and the numbering the interval buckets' per-source high-water marks go by. ``ccpulse recompute`` runs one per
partition; :func:`fold_messages` runs one over a plain list (tests, one source).

First-contact resolution crosses partitions (a customer's contacts live on any of them), so
a fold only collects each contact's latest FCR record; :func:`apply_fcr` turns all of them
into bucket counts at the end with the worker's own ``fcr_contributions``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ccpulse.domain.agent import fold_agent
from ccpulse.domain.buckets import apply_delta
from ccpulse.domain.calendar import BusinessClock
from ccpulse.domain.contact import TOP_PREFIX, add_event, event_record
from ccpulse.domain.customer import ClockLookup, customer_contributions
from ccpulse.domain.entity import (SWEEP_INDEX, SWEEP_SECONDS, AgentRules, Change, ContactRules, check_event,
                                   judging_mark, numbered)
from ccpulse.domain.retention import accept_customer_event, retention_contributions, fact_record, sum_contributions
from ccpulse.settings import Settings
from schemas.events import AgentStateChanged, ContactEvent, Event, EventRejected

__all__ = ["SWEEP_SECONDS", "BatchResult", "PartitionFold", "RetentionResult", "apply_fcr", "fold_messages",
           "fold_retention", "merge_bucket_sets"]

Buckets = dict[str, dict[str, Any]]
#: customer id -> contact id -> the contact's latest ``ContactFold.fcr`` record
FcrRecords = dict[str, dict[str, dict[str, Any]]]


class PartitionFold:
    """The live worker's state and rules for one partition number, fed message by message.

    Feed each source (topic-partition) in offset order; sources may interleave as the
    worker's consumer would interleave them. ``buckets`` then holds what the worker's
    interval tables hold for the deltas of these sources, ``fcr`` the FCR records it sent.
    Every rule is the worker's own (``ccpulse.domain.entity``); this class only stores states
    and applies deltas as the worker's tables and interval side do.
    """

    def __init__(self, settings: Settings, live_rows: bool = False,
                 read_to_end: Callable[[str], bool] = lambda src: True) -> None:
        self.settings = settings
        self.live_rows = live_rows  # keep contact/agent live rows (tests); recompute needs only buckets
        # Has every message of a source been fed (for the judging watermark, as the worker asks the broker)?
        self.read_to_end = read_to_end
        self.buckets: Buckets = {}
        self.fcr: FcrRecords = {}
        self.marks: dict[str, float] = {}  # source -> watermark (highest accepted event time)
        self.contacts: dict[str, dict[str, Any]] = {}  # contact id -> its state (ccpulse.domain.entity)
        self.agents: dict[str, list[dict[str, Any]]] = {}  # agent id -> its kept state changes
        self.contact_rows: dict[str, dict[str, Any]] = {}
        self.recent_rows: dict[str, dict[str, Any]] = {}
        self.agent_rows: dict[str, dict[str, Any]] = {}
        self.rejected: dict[str, int] = {}  # reason -> count
        self.expired: list[str] = []  # open contacts closed as expired (dead-lettered as expired_open)
        self.accepted = 0
        self.contact_sources: set[str] = set()  # the sources contact and survey events came from
        self._due: list[tuple[float, str]] = []  # (judging watermark at which to look, contact id), may be stale
        self._swept_at = 0.0
        self._thresholds: dict[tuple[str, str], tuple[float, float, BusinessClock | None]] = {}
        self.rules = ContactRules(settings, self.sla)
        self.agent_rules = AgentRules(settings)

    # ---- the input check (streams.processing._Processor.accept) -------------------------------
    def accept(self, raw: bytes | None, src: str, agent_topic: bool | None) -> Event | str:
        """The decoded event, or the reason it is rejected. ``agent_topic`` None: any topic."""
        event, reason, _ = check_event(raw, self.marks.get(src, 0.0), self.settings.lateness_seconds, agent_topic)
        return reason if reason is not None else event  # type: ignore[return-value]

    def message(self, raw: bytes | None, src: str, offset: int, agent_topic: bool | None) -> str | None:
        """Process one message of ``src``; returns the reason it was rejected, or None."""
        mark = self.marks.get(src, 0.0)
        event, reason, _ = check_event(raw, mark, self.settings.lateness_seconds, agent_topic)
        contact_side = event is not None and not isinstance(event, AgentStateChanged)
        if contact_side:
            self.contact_sources.add(src)
        try:
            if reason == "late" and contact_side:
                self.late_contact_event(event, raw or b"", src, offset, mark)  # type: ignore[arg-type]
            elif reason is None and isinstance(event, AgentStateChanged):
                reason = self.agent_event(event, raw or b"", src, offset)
            elif reason is None:
                reason = self.contact_event(event, raw or b"", src, offset)  # type: ignore[arg-type]
        except Exception:  # the worker dead-letters a message it cannot process and goes on
            reason = "processing_error"
        if reason is None:
            self.accepted += 1
        else:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
        if agent_topic is not True and not isinstance(event, AgentStateChanged):
            self.sweep(src, offset)
        return reason

    # ---- applying deltas (queue_deltas + IntervalProcessor) -------------------------------------
    def apply(self, delta: Mapping[str, Mapping[str, Any]], src: str, offset: int, base: int = 0) -> None:
        buckets = self.buckets
        for key, change, seq in numbered(delta, offset, base):
            buckets[key], _ = apply_delta(buckets.get(key), change, src, seq)

    def sla(self, queue_id: str, channel: str) -> tuple[float, float, BusinessClock | None]:
        key = (queue_id, channel)
        found = self._thresholds.get(key)
        if found is None:
            q = self.settings.queue(queue_id, channel)
            found = self._thresholds[key] = (q.sl_threshold_seconds, q.short_abandon_seconds,
                                             self.settings.sla_clock(queue_id, channel))
        return found

    # ---- contacts and surveys (ContactProcessor.handle) -----------------------------------------
    def judging_mark(self, src: str | None = None, at: float = 0.0) -> float:
        """The partition's judging watermark (``ccpulse.domain.entity.judging_mark``); with ``src``, that
        source counted at ``at`` (the event about to be applied, as the worker's trial marks)."""
        # Built without copying the marks and sources (twice per contact event): the result is a min or max,
        # so the order of the sources does not matter.
        marks, at_end = self.marks, self.read_to_end
        pairs = [(marks.get(s), at_end(s)) for s in self.contact_sources if s != src]
        if src is not None:
            pairs.append((max(marks.get(src, at), at), at_end(src)))
        return judging_mark(pairs)

    def contact_event(self, event: Event, raw: bytes, src: str, offset: int) -> str | None:
        assert isinstance(event, ContactEvent)
        cid = event.contact_id
        change = self.rules.on_event(cid, self.contacts.get(cid), event_record(event, raw, src, offset),
                                     self.judging_mark(src, event.at))
        if change.status == "duplicate":
            return "duplicate"  # the watermark stays where it was
        self.marks[src] = max(self.marks.get(src, 0.0), event.at)
        if change.status == "applied":
            self.take(cid, change, src, offset, 0)
        return None

    def late_contact_event(self, event: Event, raw: bytes, src: str, offset: int, mark: float) -> None:
        """A late lifecycle event of an open contact closes it (ContactRules.on_late)."""
        cid = event.contact_id  # type: ignore[union-attr]
        change = self.rules.on_late(cid, self.contacts.get(cid), event_record(event, raw, src, offset), mark)
        if change is not None:
            self.take(cid, change, src, offset, SWEEP_INDEX)

    def take(self, cid: str, change: Change, src: str, offset: int, base: int) -> int:
        """Store a contact's change and apply its effects, numbered ``(offset, base + n)``; returns how
        many delta numbers it used."""
        self.apply(change.delta, src, offset, base)
        if change.fcr is not None:  # the worker sends it to the customer side
            self.fcr.setdefault(change.fcr_customer or "", {})[cid] = change.fcr
        for _rec, reason, _message in change.dead:
            if reason == "expired_open":  # the worker's other settle-time dead letters are not counted here
                self.rejected[reason] = self.rejected.get(reason, 0) + 1
                self.expired.append(cid)
        state = change.state
        if state is None:
            self.contacts.pop(cid, None)
        else:
            self.contacts[cid] = state
            heapq.heappush(self._due, (self.rules.sweep_at(state), cid))
        if self.live_rows:
            if change.rows:
                if change.live is None:
                    self.contact_rows.pop(cid, None)
                else:
                    self.contact_rows[cid] = change.live
                if change.summary is not None:
                    self.recent_rows[cid] = change.summary
            elif change.drop_rows:
                self.contact_rows.pop(cid, None)
                self.recent_rows.pop(cid, None)
        return len(change.delta)

    def sweep(self, src: str, offset: int) -> None:
        """Settle, expire, compact and delete the contacts due at the judging watermark (ContactProcessor.sweep),
        each time it has moved ``SWEEP_SECONDS`` on; effects numbered after the message ``src``/``offset``."""
        mark = self.judging_mark()
        if mark - self._swept_at < SWEEP_SECONDS:
            return
        self._swept_at = mark
        base = SWEEP_INDEX
        seen: set[str] = set()
        while self._due and self._due[0][0] <= mark:
            _, cid = heapq.heappop(self._due)
            state = self.contacts.get(cid)
            if state is None or cid in seen:
                continue
            seen.add(cid)
            change = self.rules.on_due(cid, state, mark)
            if change is None:
                heapq.heappush(self._due, (self.rules.sweep_at(state), cid))
                continue
            base += self.take(cid, change, src, offset, base)

    # ---- agents (AgentProcessor.handle) ---------------------------------------------------------
    def agent_event(self, event: AgentStateChanged, raw: bytes, src: str, offset: int) -> str | None:
        agent_id = event.agent_id
        mark = self.marks.get(src, 0.0)
        status, delta, kept = self.agent_rules.on_event(self.agents.get(agent_id, []), event, raw, src, offset, mark)
        if status == "duplicate":
            return "duplicate"
        self.apply(delta, src, offset)
        self.agents[agent_id] = kept
        self.marks[src] = max(mark, event.at)
        if self.live_rows:
            self.agent_rows[agent_id] = fold_agent(agent_id, kept)  # type: ignore[assignment]
        return None

    @property
    def newest(self) -> float:
        """The newest event time accepted on any source (0 when none)."""
        return max(self.marks.values(), default=0.0)


def merge_fcr(into: FcrRecords, other: FcrRecords) -> FcrRecords:
    """The FCR records of two folds together (a contact lives on one partition: no conflicts)."""
    for customer, records in other.items():
        into.setdefault(customer, {}).update(records)
    return into


def apply_fcr(buckets: Buckets, records: FcrRecords, window_seconds: float, source: str = "customers",
              clock: ClockLookup | None = None) -> Buckets:
    """Add every customer's first-contact-resolution and case counts (``customer_contributions`` of
    the latest record of each of its contacts: what the worker's customer side has summed up) to
    ``buckets``. ``clock``: the queues' SLA clocks (``Settings.sla_clock``) for business resolution time."""
    for seq, customer in enumerate(sorted(records)):
        delta = customer_contributions(records[customer], window_seconds, clock)
        for index, (key, change) in enumerate(sorted(delta.items())):
            buckets[key], _ = apply_delta(buckets.get(key), change, source, (seq, index))
    return buckets


def merge_bucket_sets(parts: Iterable[Buckets]) -> Buckets:
    """Buckets of several partitions summed key by key, as the worker's interval side sums their deltas."""
    out: Buckets = {}
    for number, part in enumerate(parts):
        for key, bucket in part.items():
            if key not in out:
                out[key] = {"c": dict(bucket["c"]), "tops": [list(t) for t in bucket["tops"]], "hwm": {}}
                continue
            delta: dict[str, Any] = dict(bucket["c"])
            for wait, visit in bucket["tops"]:
                delta[f"{TOP_PREFIX}{visit}"] = wait
            out[key], _ = apply_delta(out[key], delta, f"part:{number}", (0, 0))
    return out


@dataclass
class BatchResult:
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)  # bucket key -> bucket
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # live contact rows
    recent: dict[str, dict[str, Any]] = field(default_factory=dict)  # contact summaries (the recent rows)
    expired: list[str] = field(default_factory=list)  # open contacts closed as expired, in order
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)  # agent rows
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (message index, reason)


def fold_messages(messages: Iterable[bytes], settings: Settings) -> BatchResult:
    """Fold raw event messages, in order, as one source partition would (any event type on it)."""
    fold = PartitionFold(settings, live_rows=True)
    out = BatchResult()
    for offset, raw in enumerate(messages):
        reason = fold.message(raw, "batch", offset, None)
        if reason is not None:
            out.rejected.append((offset, reason))
    out.buckets = apply_fcr(fold.buckets, fold.fcr, settings.fcr_window_seconds, clock=settings.sla_clock)
    out.contacts, out.agents, out.recent, out.expired = fold.contact_rows, fold.agent_rows, fold.recent_rows, fold.expired
    return out


@dataclass
class RetentionResult:
    customers: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # customer -> contributions
    totals: dict[str, dict[str, int]] = field(default_factory=dict)  # period key -> summed contributions
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (message index, reason)


def fold_retention(messages: Iterable[bytes], fcr: FcrRecords, settings: Settings) -> RetentionResult:
    """Fold customer-event messages (one source, in order) and the contacts' records of each customer
    (``PartitionFold.fcr``) as the worker's retention agent does: the same acceptance, the same
    de-duplication and the same ``retention_contributions``."""
    out = RetentionResult()
    events: dict[str, list[dict[str, Any]]] = {}
    for offset, raw in enumerate(messages):
        try:
            customer, rec = accept_customer_event(raw, "batch", offset, settings.retention.currency)
        except EventRejected as exc:
            out.rejected.append((offset, exc.reason))
            continue
        if add_event(events.setdefault(customer, []), rec) == "duplicate":
            out.rejected.append((offset, "duplicate"))
    for customer in sorted(events.keys() | fcr.keys()):
        facts = [f for f in (fact_record(r) for r in fcr.get(customer, {}).values()) if f is not None]
        contributions = retention_contributions(events.get(customer, []), facts, settings.retention, settings.zone)
        if contributions:
            out.customers[customer] = contributions
            sum_contributions(out.totals, contributions)
    return out
