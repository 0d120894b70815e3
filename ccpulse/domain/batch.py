"""Batch drivers over the domain core: fold raw messages without Kafka or Faust.

:class:`PartitionFold` applies, to the messages of one partition number, exactly the rules
the live worker applies to them (``streams/processing.py``), calling the same functions in
the same order: the input check (decode, topic, lateness against the per-source watermark),
the contact fold and its contribution deltas, agent time in state, contact expiry, and the
per-source high-water marks of the interval buckets. ``ccpulse recompute`` runs one per
partition; :func:`fold_messages` runs one over a plain list (tests, one source).

First-contact resolution crosses partitions (a customer's contacts live on any of them), so
a fold only collects each contact's latest FCR record; :func:`apply_fcr` turns all of them
into bucket counts at the end with the worker's own ``fcr_contributions``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ccpulse.domain.agent import agent_record, fold_agent, prune_agent, time_in_state_delta
from ccpulse.domain.buckets import apply_delta
from ccpulse.domain.calendar import BusinessClock
from ccpulse.domain.contact import TOP_PREFIX, add_event, diff_contributions, event_record, fold_contact
from ccpulse.domain.customer import ClockLookup, customer_contributions
from ccpulse.domain.intervals import is_late
from ccpulse.domain.retention import accept_customer_event, retention_contributions, fact_record, sum_contributions
from ccpulse.settings import Settings
from schemas.events import CUSTOMER_EVENT_TYPES, AgentStateChanged, Event, EventRejected, decode_event

__all__ = ["SWEEP_SECONDS", "BatchResult", "PartitionFold", "RetentionResult", "apply_fcr", "fold_messages",
           "fold_retention", "merge_bucket_sets"]

#: The worker settles and expires a partition's contacts each time its watermark has moved this far.
SWEEP_SECONDS = 60.0

Buckets = dict[str, dict[str, Any]]
#: customer id -> contact id -> the contact's latest ``ContactFold.fcr`` record
FcrRecords = dict[str, dict[str, dict[str, Any]]]


class PartitionFold:
    """The live worker's state and rules for one partition number, fed message by message.

    Feed each source (topic-partition) in offset order; sources may interleave as the
    worker's consumer would interleave them. ``buckets`` then holds what the worker's
    interval tables hold for the deltas of these sources, ``fcr`` the FCR records it sent.
    """

    def __init__(self, settings: Settings, live_rows: bool = False) -> None:
        self.settings = settings
        self.live_rows = live_rows  # keep contact/agent live rows (tests); recompute needs only buckets
        self.buckets: Buckets = {}
        self.fcr: FcrRecords = {}
        self.marks: dict[str, float] = {}  # source -> watermark (highest accepted event time)
        self.contacts: dict[str, dict[str, Any]] = {}  # contact id -> {"events", "contrib", "fcr", "last_t"}
        self.agents: dict[str, list[dict[str, Any]]] = {}  # agent id -> its kept state changes
        self.contact_rows: dict[str, dict[str, Any]] = {}
        self.agent_rows: dict[str, dict[str, Any]] = {}
        self.rejected: dict[str, int] = {}  # reason -> count
        self.accepted = 0
        self._contact_sources: set[str] = set()
        self._expiry: list[tuple[float, str]] = []  # (last event time + retention, contact id), may be stale
        self._swept_at = 0.0
        self._thresholds: dict[tuple[str, str], tuple[float, float, BusinessClock | None]] = {}

    # ---- the input check (streams.processing._Processor.accept) -------------------------------
    def accept(self, raw: bytes | None, src: str, agent_topic: bool | None) -> Event | str:
        """The decoded event, or the reason it is rejected. ``agent_topic`` None: any topic."""
        try:
            event = decode_event(raw)
        except EventRejected as exc:
            return exc.reason
        if event.type in CUSTOMER_EVENT_TYPES:  # customer events have their own topic and driver
            return "wrong_topic"
        if agent_topic is not None and isinstance(event, AgentStateChanged) != agent_topic:
            return "wrong_topic"
        if is_late(event.at, self.marks.get(src, 0.0), self.settings.lateness_seconds):
            return "late"
        return event

    def message(self, raw: bytes | None, src: str, offset: int, agent_topic: bool | None) -> str | None:
        """Process one message of ``src``; returns the reason it was rejected, or None."""
        event = self.accept(raw, src, agent_topic)
        if isinstance(event, str):
            reason: str | None = event
        else:
            try:
                if isinstance(event, AgentStateChanged):
                    reason = self.agent_event(event, raw or b"", src, offset)
                else:
                    reason = self.contact_event(event, raw or b"", src, offset)
            except Exception:  # the worker dead-letters a message it cannot process and goes on
                reason = "processing_error"
        if reason is None:
            self.accepted += 1
        else:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
        if agent_topic is not True and not isinstance(event, AgentStateChanged):
            self.sweep()
        return reason

    # ---- applying deltas (queue_deltas + IntervalProcessor) -------------------------------------
    def apply(self, delta: Mapping[str, Mapping[str, Any]], src: str, offset: int) -> None:
        buckets = self.buckets
        for index, (key, change) in enumerate(sorted(delta.items())):
            buckets[key], _ = apply_delta(buckets.get(key), change, src, (offset, index))

    def sla(self, queue_id: str, channel: str) -> tuple[float, float, BusinessClock | None]:
        key = (queue_id, channel)
        found = self._thresholds.get(key)
        if found is None:
            q = self.settings.queue(queue_id, channel)
            found = self._thresholds[key] = (q.sl_threshold_seconds, q.short_abandon_seconds,
                                             self.settings.sla_clock(queue_id, channel))
        return found

    # ---- contacts and surveys (ContactProcessor.handle) -----------------------------------------
    def contact_event(self, event: Event, raw: bytes, src: str, offset: int) -> str | None:
        assert not isinstance(event, AgentStateChanged)
        cid = event.contact_id
        state = self.contacts.get(cid) or {"events": [], "contrib": {}, "fcr": None, "last_t": 0.0}
        events = list(state["events"])
        if add_event(events, event_record(event, raw, src, offset)) == "duplicate":
            return "duplicate"
        fold = fold_contact(cid, events, self.sla, self.settings.skew_tolerance_seconds)
        self.apply(diff_contributions(state["contrib"], fold.contributions), src, offset)
        if fold.fcr is not None and fold.fcr != state["fcr"]:  # the worker sends it to the customer side
            self.fcr.setdefault(fold.summary["customer_id"], {})[cid] = fold.fcr  # type: ignore[index]
        at = event.at
        last_t = max(state["last_t"], at)
        self.contacts[cid] = {"events": events, "contrib": fold.contributions, "fcr": fold.fcr, "last_t": last_t}
        if last_t != state["last_t"]:
            heapq.heappush(self._expiry, (last_t + self.settings.contact_retention_seconds, cid))
        self.marks[src] = max(self.marks.get(src, 0.0), at)
        self._contact_sources.add(src)
        if self.live_rows:
            if fold.live is None:
                self.contact_rows.pop(cid, None)
            else:
                self.contact_rows[cid] = fold.live
        return None

    def sweep(self) -> None:
        """Expire contacts kept ``contact_retention_seconds`` past their last event (ContactProcessor.sweep):
        an event for an expired contact starts it afresh, as on the worker."""
        mark = max((self.marks[s] for s in self._contact_sources), default=0.0)
        if mark - self._swept_at < SWEEP_SECONDS:
            return
        self._swept_at = mark
        keep = self.settings.contact_retention_seconds
        while self._expiry and self._expiry[0][0] <= mark:
            due, cid = heapq.heappop(self._expiry)
            state = self.contacts.get(cid)
            if state is not None and state["last_t"] + keep == due:
                del self.contacts[cid]
                self.contact_rows.pop(cid, None)

    # ---- agents (AgentProcessor.handle) ---------------------------------------------------------
    def agent_event(self, event: AgentStateChanged, raw: bytes, src: str, offset: int) -> str | None:
        agent_id = event.agent_id
        changes = list(self.agents.get(agent_id, ()))
        status = add_event(changes, agent_record(event, raw, src, offset))
        if status == "duplicate":
            return "duplicate"
        if status == "applied":
            self.apply(time_in_state_delta(agent_id, changes, event.event_id), src, offset)
        mark = max(self.marks.get(src, 0.0), event.at)
        self.agents[agent_id] = prune_agent(changes, mark - self.settings.lateness_seconds)
        self.marks[src] = mark
        if self.live_rows:
            self.agent_rows[agent_id] = fold_agent(agent_id, self.agents[agent_id])  # type: ignore[assignment]
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
    out.contacts, out.agents = fold.contact_rows, fold.agent_rows
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
