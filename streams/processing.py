"""Thin drivers between Faust and the pure domain core.

Each processor takes a batch of Faust events, hands every event to the core
(``ccpulse.domain``), sends what the core returns (interval deltas, dead letters),
waits for those sends to be acknowledged, and only then writes its tables. So a
table (and its changelog) never holds an effect whose messages could be lost in
a crash; a redelivered event re-sends deltas the interval side already applied,
which its per-source high-water mark ignores.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import math
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, TypeVar

import faust
import orjson
from aiokafka.partitioner import murmur2

from ccpulse.domain.agent import fold_agent
from ccpulse.domain.calendar import BusinessClock
from ccpulse.domain.buckets import apply_delta, dominant_channel, interval_figures, merge_buckets
from ccpulse.domain.intervals import BUCKET_SECONDS, is_late, iso, split_bucket_key
from ccpulse.domain.contact import add_event, diff_contributions, event_record, fold_contact
from ccpulse.domain.entity import (SWEEP_INDEX, SWEEP_SECONDS, AgentRules, Change, ContactRules, check_event, judging_mark,
                                   numbered)
from ccpulse.domain.customer import customer_contributions, prune_customer
from ccpulse.domain.retention import accept_customer_event, fact_record
from ccpulse.domain.retention import retention_contributions
from ccpulse.readmodel.keys import agent_row_key, contact_row_key, interval_row_key, recent_row_key, retention_row_key
from ccpulse.readmodel.rows import interval_row
from ccpulse.settings import Settings
from schemas.deadletter import deadletter_record
from schemas.events import AgentStateChanged, Event, EventRejected
from streams import faust_internals
from streams.faust_internals import writing_for
from streams.stats import WorkerStats
from streams.schedule import DueSchedule
from streams.readmodel import ReadModelPublisher

__all__ = ["AgentProcessor", "ContactProcessor", "CustomerProcessor", "Fanout", "IntervalProcessor", "RetentionProcessor",
           "changelog_acknowledged", "changelog_flush", "customer_facts", "customer_facts_message", "facts_groups", "facts_message", "partition_for",
           "watch_changelog"]

log = logging.getLogger("ccpulse.worker")


#: Changelog sends made by table writes in the current agent task (see :func:`changelog_acknowledged`).
_changelog_sends: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("ccpulse_changelog_sends", default=None)


def watch_changelog(table: faust.Table) -> None:
    """Let :func:`changelog_acknowledged` see the changelog messages ``table``'s writes send."""

    def seen(future: Any) -> None:
        sink = _changelog_sends.get()
        if sink is not None:
            sink.append(future)

    faust_internals.on_changelog_send(table, seen)


@contextlib.asynccontextmanager
async def changelog_acknowledged() -> AsyncIterator[None]:
    """Wait, before leaving, until the changelog messages of the table writes made inside are acknowledged.

    An agent's batch is acknowledged (and its offsets become committable) when its processing
    returns. Faust flushes its producer before committing, but that flush gives up as soon as one
    buffered message takes longer than 0.1 s to hand over, so under load offsets could be committed
    while the batch's changelog messages were still unsent: a crash then lost table state whose
    input would never be processed again — double counts on the next event of the same key.
    """
    sink: list[Any] = []
    token = _changelog_sends.set(sink)
    try:
        yield
    finally:
        _changelog_sends.reset(token)
    if sink:
        await asyncio.gather(*sink)


async def changelog_flush() -> None:
    """Wait until the changelog messages of the table writes made so far (in :func:`changelog_acknowledged`)
    are acknowledged: what was written is durable before what depends on it is sent."""
    sink = _changelog_sends.get()
    if sink:
        pending = list(sink)
        sink.clear()
        await asyncio.gather(*pending)


def _write_states(table: faust.Table, states: dict[str, Any], writer: dict[str, faust.EventT]) -> None:
    """Write each state of a batch on the partition of the event that last changed it."""
    for key, state in states.items():
        with writing_for(writer[key]):
            table[key] = state


def _owned(state: dict[str, Any], partitions: set[int] | None) -> bool:
    """Does a table value (which records its partition as ``p``) belong to ``partitions`` (None = all)?"""
    return partitions is None or state.get("p") is None or state["p"] in partitions


def _source(event: faust.EventT) -> str:
    return f"{event.message.topic}:{event.message.partition}"


#: How many dead-lettered duplicate messages an entity remembers (see :func:`_first_rejection`).
_DUPLICATES_KEPT = 200


def _first_rejection(state: dict[str, Any], src: str, offset: int) -> bool:
    """Record in ``state`` that the duplicate message at ``src``/``offset`` is dead-lettered; False when it
    was already (the same message read again after a restart must not be dead-lettered twice)."""
    position = f"{src}@{offset}"
    seen = state.get("dups", [])
    if position in seen:
        return False
    state["dups"] = [*seen, position][-_DUPLICATES_KEPT:]
    return True


def _sweep_key(partition: int) -> str:
    """The watermarks table's key for the record of a contact partition's last sweep that sent something."""
    return f"sweep#{partition}"


def handled_key(src: str) -> str:
    """The watermarks table's key for the last offset of ``src`` handled (next to ``src``'s watermark)."""
    return f"{src}#handled"


def delta_messages(delta: Mapping[str, Mapping[str, Any]], src: str, offset: int, base: int = 0) -> list[tuple[str, bytes]]:
    """One step's bucket deltas as (bucket key, entry) pairs, numbered ``(offset, base + index)`` per source
    (``ccpulse.domain.entity.numbered``) so the interval side can drop redeliveries."""
    return [(bucket, orjson.dumps({"d": change, "s": src, "o": o, "i": i}))
            for bucket, change, (o, i) in numbered(delta, offset, base)]


def facts_message(buckets: Mapping[str, Sequence[bytes]]) -> bytes:
    """One ``cc.interval-facts`` message: a batch's delta entries for the buckets of one partition,
    each bucket's in processing order (``{"b": {bucket: [entry, ...]}}``).

    One message per partition and batch (cut at ``BUNDLE_BYTES``: :func:`facts_messages`), not per
    bucket (nor per delta): each message costs a send
    and a pass through Faust on the interval side (30,000 bench events made 23,205 per-bucket facts
    messages; docs/performance.md). Every bucket of a message
    lives on the partition it is sent to (:func:`partition_for`), so the interval side's tables stay
    partitioned by bucket. The entries keep their own ``(source, offset, index)``, so the interval
    side still drops exactly the redelivered ones, and a message is applied whole or not at all.
    """
    return b'{"b":{' + b",".join(orjson.dumps(bucket) + b":[" + b",".join(entries) + b"]"
                                 for bucket, entries in buckets.items()) + b"}}"


#: Most bytes of one bundle message. aiokafka refuses a message over its 1 MB ``max_request_size``
#: (Kafka's default ``message.max.bytes`` is 1 MB too): a rocksdict worker catching up on a
#: 1,000,000-event backlog made one partition's bundle of 1.17 MB, and its agent stopped there.
BUNDLE_BYTES = 512 * 1024
Entry = TypeVar("Entry", bytes, str)


def split_bundle(items: Sequence[tuple[str, Entry]], budget: int = BUNDLE_BYTES) -> list[list[tuple[str, Entry]]]:
    """``items`` (key, entry) cut into consecutive runs of at most ``budget`` bytes each, counting
    every entry with its key as written and separators (an entry alone over ``budget`` goes alone): the runs
    keep the items' order, so each key's entries stay in processing order across messages."""
    runs: list[list[tuple[str, Entry]]] = [[]]
    size = 0
    key_bytes: dict[str, int] = {}  # a key as the message writes it (JSON, UTF-8)
    for key, entry in items:
        if (written := key_bytes.get(key)) is None:
            written = key_bytes[key] = len(orjson.dumps(key))
        cost = written + (len(entry) if isinstance(entry, bytes) else len(entry.encode())) + 8
        if runs[-1] and size + cost > budget:
            runs.append([])
            size = 0
        runs[-1].append((key, entry))
        size += cost
    return [run for run in runs if run]


def facts_messages(buckets: Mapping[str, Sequence[bytes]], budget: int = BUNDLE_BYTES) -> list[tuple[str, bytes]]:
    """(key, message) of the ``cc.interval-facts`` messages for one partition's buckets: one
    :func:`facts_message`, or several of at most ``budget`` bytes each (:func:`split_bundle`). A
    message is applied whole and each entry keeps its own ``(source, offset, index)``, so a bucket
    whose entries span two messages is still applied once and in order."""
    out = []
    for run in split_bundle([(bucket, entry) for bucket, entries in buckets.items() for entry in entries], budget):
        grouped: dict[str, list[bytes]] = {}
        for bucket, entry in run:
            grouped.setdefault(bucket, []).append(entry)
        out.append((run[0][0], facts_message(grouped)))
    return out


def facts_groups(key: bytes | None, value: bytes) -> list[tuple[str, list[dict[str, Any]]]]:
    """(bucket, entries) pairs of a ``cc.interval-facts`` message: a partition's bundle
    (:func:`facts_message`), or, as sent before bundles, one bucket's list or single entry under its key."""
    decoded = orjson.loads(value)
    if isinstance(decoded, dict) and "b" in decoded:
        return [(bucket, list(entries)) for bucket, entries in decoded["b"].items()]
    if key is None:
        raise ValueError("a facts message without a bucket key")
    return [(key.decode(), decoded if isinstance(decoded, list) else [decoded])]


def customer_facts_message(records: Sequence[tuple[str, str]]) -> bytes:
    """One ``cc.customer-facts`` message: a batch's contact records for the customers of one partition,
    in processing order (``{"cf": [[customer, record], ...]}``); one message per partition and batch
    instead of one per record (30,000 bench events made 13,180 of those)."""
    return b'{"cf":[' + b",".join(b"[" + orjson.dumps(customer) + b"," + record.encode() + b"]"
                                  for customer, record in records) + b"]}"


def customer_facts_messages(records: Sequence[tuple[str, str]], budget: int = BUNDLE_BYTES) -> list[tuple[str, bytes]]:
    """(key, message) of the ``cc.customer-facts`` messages for one partition's records: at most
    ``budget`` bytes each (:func:`split_bundle`), in order. A record's deltas are numbered by its
    message's offset and its place in it (``FACT_STRIDE``), so any cut numbers them apart."""
    return [(run[0][0], customer_facts_message(run)) for run in split_bundle(records, budget)]


def customer_facts(key: bytes | None, value: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(customer, contact record) pairs of a ``cc.customer-facts`` message: a partition's bundle
    (:func:`customer_facts_message`), or, as sent before bundles, one record under its customer's key."""
    decoded = orjson.loads(value)
    if isinstance(decoded, dict) and "cf" in decoded:
        return [(customer, record) for customer, record in decoded["cf"]]
    if key is None:
        raise ValueError("a customer fact without a customer key")
    return [(key.decode(), decoded)]


#: A bundle's n-th customer record numbers its deltas from ``n * FACT_STRIDE`` within the message's
#: offset: apart from each other's, and in the bundle's order (one customer's delta touches far fewer buckets).
FACT_STRIDE = 1 << 20


@functools.lru_cache(maxsize=1 << 16)  # bucket keys repeat all day; murmur2 is pure Python
def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as aiokafka's) gives ``key``: where a keyed
    message would go, so a bundle of keys sent to one partition keeps each key where it always was."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class Fanout:
    """Several processors over one stream: each gets the batch's events of its topics (None = all)."""

    def __init__(self, *routes: tuple[Any, set[str] | None]) -> None:
        self.routes = routes

    async def process(self, events: Sequence[faust.EventT]) -> None:
        for processor, topics in self.routes:
            mine = list(events) if topics is None else [ev for ev in events if ev.message.topic in topics]
            if mine:
                await processor.process(mine)


class _Processor:
    watermarks: faust.Table  # the processors of input topics (contacts, agents, customer events) have one

    def __init__(self, settings: Settings, deadletter: faust.TopicT, readmodel: ReadModelPublisher) -> None:
        self.settings = settings
        self.deadletter = deadletter
        self.readmodel = readmodel
        self.stats = WorkerStats()
        self.outbox: list[Any] = []  # futures of sends that must be acknowledged before table writes
        self.queued_facts: dict[str, list[bytes]] = {}  # bucket -> this batch's delta entries, in order
        self._handled: dict[str, int | None] = {}  # source -> last offset handled, this batch's cache

    async def handle_each(self, events: Sequence[faust.EventT], *args: Any) -> None:
        """``self.handle(ev, *args)`` for every event, reading its keys on its partition; an exception
        (a bug) dead-letters that event as ``processing_error`` and the stream goes on."""
        for ev in events:
            try:
                with writing_for(ev):
                    await self.handle(ev, *args)
            except Exception as exc:
                log.exception("cannot process %s:%s@%s", ev.message.topic, ev.message.partition, ev.message.offset)
                await self.reject(ev, "processing_error", f"{type(exc).__name__}: {exc}"[:500])

    async def reject(self, event: faust.EventT, reason: str, message: str, event_id: str | None = None) -> None:
        """Dead-letter the message ``event`` carries."""
        msg = event.message
        await self._dead_letter(msg.key, msg.value, msg.topic, msg.partition, msg.offset, reason, message, event_id)
        log.debug("rejected %s:%s@%s: %s %s", msg.topic, msg.partition, msg.offset, reason, message)

    async def _dead_letter(self, key: bytes | None, raw: bytes | None, topic: str, partition: int, offset: int,
                           reason: str, message: str, event_id: str | None) -> None:
        record = deadletter_record(raw=raw, key=key, topic=topic, partition=partition, offset=offset,
                                   reason=reason, message=message, event_id=event_id)
        self.outbox.append(await self.deadletter.send(key=key, value=record))

    async def accept(self, ev: faust.EventT, mark: float, *, agent_topic: bool, again: bool = False) -> Event | None:
        """Decode an input message and check its topic and lateness; rejects (and returns None) otherwise."""
        event, reason = await self.check(ev, mark, agent_topic=agent_topic, again=again)
        return event if reason is None else None

    async def check(self, ev: faust.EventT, mark: float, *, agent_topic: bool,
                    again: bool = False) -> tuple[Event | None, str | None]:
        """The core's input check (``ccpulse.domain.entity.check_event``) of one message: (event, None) when
        accepted; else it is dead-lettered and (the event when it could be decoded, the reason) returned.

        ``again``: the message was handled before (see :meth:`handled_before`). It is not rejected a
        second time, and not judged late: the watermark has moved on since, and the entity's state
        may hold it (the caller drops it if not).
        """
        msg = ev.message
        event, reason, message = check_event(msg.value, float("-inf") if again else mark, self.settings.lateness_seconds,
                                             agent_topic)
        self.stats.observe(msg.topic, None if event is None else event.at)
        if reason is None:
            return event, None
        reject = self._silent if again else self.reject
        event_id = None if event is None else event.event_id
        await reject(ev, reason, message, event_id)
        return event, reason

    @staticmethod
    async def _silent(event: faust.EventT, reason: str, message: str, event_id: str | None = None) -> None:
        """A message handled before was dead-lettered then already."""

    def handled_before(self, ev: faust.EventT) -> bool:
        """Was ``ev``'s message handled by an earlier batch (its effects sent, its states written)?
        So it is read again: after a restart from an older committed offset, or from the partition's
        start when nothing was committed yet. (Read once per source and batch.)"""
        last = self.last_handled(_source(ev))
        return last is not None and ev.message.offset <= last

    def last_handled(self, src: str) -> int | None:
        """The last offset of ``src`` an earlier batch handled (None: none), read once per batch."""
        if src not in self._handled:
            self._handled[src] = self.watermarks.get(handled_key(src))
        return self._handled[src]

    def write_progress(self, events: Sequence[faust.EventT], marks: dict[str, float]) -> None:
        """Store, with the batch's states, each source's last offset handled and its watermark
        (``marks``: the sources whose watermark moved on in this batch)."""
        last: dict[str, faust.EventT] = {}
        for ev in events:
            src = _source(ev)
            if src not in last or ev.message.offset > last[src].message.offset:
                last[src] = ev
        for src, ev in last.items():
            with writing_for(ev):
                if src in marks:
                    self.watermarks[src] = marks[src]
                key = handled_key(src)
                if ev.message.offset > (self.watermarks.get(key) or -1):
                    self.watermarks[key] = ev.message.offset
        self._handled = {}

    async def reject_stored(self, key: str, rec: dict[str, Any], reason: str, message: str) -> None:
        """Dead-letter an event accepted earlier and kept in an entity's state, with its own origin."""
        topic, _, partition = rec["src"].rpartition(":")
        await self._dead_letter(key.encode(), rec["raw"].encode(), topic, int(partition), rec["off"], reason, message, rec["id"])

    def queue_deltas(self, delta: dict[str, dict[str, Any]], src: str, offset: int, base: int = 0) -> None:
        """Queue one event's bucket deltas for this batch's messages (:meth:`send_queued_deltas`)."""
        for bucket, entry in delta_messages(delta, src, offset, base):
            self.queue_fact(bucket, entry)

    def queue_fact(self, bucket: str, entry: bytes) -> None:
        """Queue one delta entry (:func:`delta_messages`) for ``bucket``'s message of this batch."""
        self.queued_facts.setdefault(bucket, []).append(entry)

    async def send_queued_deltas(self, facts: faust.TopicT) -> None:
        """Send the batch's queued deltas, one message per partition (:func:`facts_message`)."""
        queued, self.queued_facts = self.queued_facts, {}
        bundles: dict[int, dict[str, list[bytes]]] = {}
        for bucket, entries in queued.items():
            bundles.setdefault(partition_for(bucket, self.settings.partitions), {})[bucket] = entries
        for partition, buckets in bundles.items():
            for key, message in facts_messages(buckets):
                self.outbox.append(await facts.send(key=key.encode(), value=message, partition=partition))

    async def settle_outbox(self) -> None:
        if self.outbox:
            outbox, self.outbox = self.outbox, []
            await asyncio.gather(*outbox)


class ContactProcessor(_Processor):
    """Contact and survey events -> contact state, interval deltas, live contact rows.

    A contact's events come from two topics (contacts and surveys), so after a crash they can be
    redelivered in another interleaving than the first time, and the deltas one event adds depend on
    which of the contact's other events came before it. The interval side drops a delta by its
    (source, offset): a recomputed delta under an offset whose first delta was applied would be
    dropped although it differs. So a batch first writes the contact states *with* the messages it is
    about to send (``out``), waits for those changelog writes, and only then sends: every delta ever
    sent is one a durable state holds, and a redelivered event re-sends exactly those stored messages.
    """

    def __init__(self, settings: Settings, contacts: faust.Table, watermarks: faust.Table, facts: faust.TopicT,
                 customer_facts: faust.TopicT, deadletter: faust.TopicT, readmodel: ReadModelPublisher,
                 highwater: Callable[[str, int], int | None] = lambda topic, partition: None) -> None:
        super().__init__(settings, deadletter, readmodel)
        self.contacts = contacts
        self.watermarks = watermarks
        self.facts = facts
        self.customer_facts = customer_facts
        self.highwater = highwater  # (topic, partition) -> the broker's end offset as last fetched; None: not known
        self._position: dict[str, int] = {}  # source -> the last offset this process handled
        self._swept_at: dict[int, float] = {}
        # When to look at each contact again (settle, then expire): a sweep visits the contacts due,
        # not every stored one (streams/schedule.py).
        self._schedule_of = DueSchedule(contacts)
        self.owner = uuid.uuid4().hex[:12]  # marks the ``out`` messages this process sent itself
        self._sends: list[list[Any]] = []  # this batch's messages, in processing order
        self._sweeps: dict[int, dict[str, Any] | None] = {}  # partition -> its last sweep's record, read this batch
        self.rules = ContactRules(settings, self.sla)

    def sla(self, queue_id: str, channel: str) -> tuple[float, float, BusinessClock | None]:
        q = self.settings.queue(queue_id, channel)
        return q.sl_threshold_seconds, q.short_abandon_seconds, self.settings.sla_clock(queue_id, channel)

    async def process(self, events: Sequence[faust.EventT]) -> None:
        states: dict[str, dict[str, Any]] = {}
        writer: dict[str, faust.EventT] = {}
        marks: dict[str, float] = {}
        self._sends = []
        self._sweeps = {}
        await self.handle_each(events, states, writer, marks)
        await self.settle_outbox()
        _write_states(self.contacts, states, writer)
        for cid, state in states.items():
            self._schedule(cid, state)
        self.write_progress(events, marks)
        await self.send_stored()
        await self.sweep(events)

    async def send_stored(self) -> None:
        """Send the messages the states just written hold (``_sends``), once those writes are durable."""
        await changelog_flush()  # the states holding the messages are durable: now send them
        sends, self._sends = self._sends, []
        records: dict[int, list[tuple[str, str]]] = {}
        for _src, _off, kind, key, value, _owner in sends:
            if kind == "f":
                self.queue_fact(key, value.encode())
            else:
                records.setdefault(partition_for(key, self.settings.partitions), []).append((key, value))
        for partition, bundle in records.items():
            for key, message in customer_facts_messages(bundle):
                self.outbox.append(await self.customer_facts.send(key=key.encode(), partition=partition, value=message))
        await self.send_queued_deltas(self.facts)
        await self.settle_outbox()

    def _load(self, cid: str, partition: int) -> dict[str, Any]:
        """A contact's stored state, without the messages this process already sent (kept: those a
        crashed predecessor may not have sent, until their event is redelivered)."""
        stored = self.contacts.get(cid)
        if stored is None:
            return {"events": [], "contrib": {}, "p": partition}
        return {**stored, "out": [m for m in stored.get("out", ()) if m[5] != self.owner]}

    def _queue(self, state: dict[str, Any], message: list[Any]) -> None:
        state["out"].append(message)
        self._sends.append(message)

    def _resend(self, cid: str, state: dict[str, Any], src: str, offset: int) -> bool:
        """Queue again what ``state`` stored for the message ``src``/``offset`` and a crashed predecessor
        may not have sent (the interval side drops what it has), from now on as this process's own."""
        again = [m for m in state["out"] if m[0] == src and m[1] == offset and m[5] != self.owner]
        if not again:
            return False
        state["out"] = [m for m in state["out"] if m not in again]
        for message in again:
            self._queue(state, [*message[:5], self.owner])
        return True

    def _resend_swept(self, ev: faust.EventT, states: dict[str, dict[str, Any]], writer: dict[str, faust.EventT]) -> None:
        """``ev`` is read again: if the last sweep of its partition numbered its messages after it, send
        those again too (the sweep wrote them into the contacts it changed; a crash may have come
        before they were sent)."""
        msg = ev.message
        partition = msg.partition
        if partition not in self._sweeps:
            self._sweeps[partition] = self.watermarks.get(_sweep_key(partition))
        swept = self._sweeps[partition]
        src = _source(ev)
        if not swept or swept["src"] != src or swept["off"] != msg.offset:
            return
        for cid in swept["cids"]:
            state = states.get(cid) or (self._load(cid, partition) if self.contacts.get(cid) is not None else None)
            if state is None:
                continue
            state = {**state, "out": list(state.get("out", ()))}
            if self._resend(cid, state, src, msg.offset):
                states[cid], writer[cid] = state, ev

    async def handle(self, ev: faust.EventT, states: dict[str, dict[str, Any]], writer: dict[str, faust.EventT],
                     marks: dict[str, float]) -> None:
        msg = ev.message
        src = _source(ev)
        self._position[src] = msg.offset
        mark = marks.get(src, self.watermarks.get(src, 0.0))
        again = self.handled_before(ev)
        event, reason = await self.check(ev, mark, agent_topic=False, again=again)
        if again:  # a sweep may have numbered its messages after this one, whatever it holds (even poison)
            self._resend_swept(ev, states, writer)
        if event is None or isinstance(event, AgentStateChanged) or reason not in (None, "late"):
            return
        cid = event.contact_id
        state = dict(states.get(cid) or self._load(cid, msg.partition))
        state["out"] = list(state.get("out", ()))
        if again:
            # Handled before: re-send what its handling stored (its own step, or a late step's closing),
            # in this event's place in the order (the sweep's, numbered after it, were queued above:
            # the interval side keeps them apart by number, per bucket).
            if self._resend(cid, state, src, msg.offset):
                states[cid], writer[cid] = state, ev
            if any(r["id"] == event.event_id for r in state["events"]) or is_late(event.at, mark, self.settings.lateness_seconds):
                return  # in the state already, or handled long ago (its contact has settled or expired since)
        rec = event_record(event, msg.value, src, msg.offset)
        if reason == "late":  # dead-lettered; an open contact it would have moved on is closed (ContactRules.on_late)
            change = self.rules.on_late(cid, state if state["events"] else None, rec, mark)
            if change is not None:
                await self._take(cid, state, change, src, msg.offset, SWEEP_INDEX, marks)
                states[cid], writer[cid] = change.state, ev  # type: ignore[assignment]
            return
        trial = {**marks, src: max(mark, event.at)}
        change = self.rules.on_event(cid, state if state["events"] else None, rec, self.judging_mark(msg.partition, trial))
        if change.status == "duplicate":
            if again or not _first_rejection(state, src, msg.offset):
                return  # this very message was dead-lettered before (read again after a restart)
            states[cid], writer[cid] = state, ev
            return await self.reject(ev, "duplicate", f"event_id {event.event_id} was already received for contact {cid}", event.event_id)
        if change.status == "redelivered":
            return  # (its stored messages were re-sent above)
        marks[src] = trial[src]
        await self._take(cid, state, change, src, msg.offset, 0, marks)
        states[cid], writer[cid] = change.state, ev  # type: ignore[assignment]

    async def _take(self, cid: str, state: dict[str, Any], change: Change, src: str, offset: int, base: int,
                    marks: Mapping[str, float]) -> int:
        """Dead-letter ``change``'s records, store its messages (numbered ``(offset, base + n)``) in its new
        state for sending, and publish its rows; returns how many delta numbers it used. ``change.state``
        becomes the stored state (None: the contact is deleted; the caller deletes it)."""
        for rec, reason, message in change.dead:
            await self.reject_stored(cid, rec, reason, message)
        self.stats.expired_open += change.expired
        new = change.state
        if new is not None:
            new = change.state = {**new, "p": state.get("p"), "out": list(state["out"])}
            if state.get("dups"):
                new["dups"] = state["dups"]
            for bucket, value in delta_messages(change.delta, src, offset, base):
                self._queue(new, [src, offset, "f", bucket, value.decode(), self.owner])
            if change.fcr is not None:  # fcr exists only for contacts with a customer
                partition = new["p"]
                # With the contact topic's watermark of this partition: how far the customer side may prune.
                contact_src = f"{self.settings.topics.contact_events}:{partition}"
                # ``n`` (events folded) orders a contact's records: a record re-sent after a crash must not
                # replace a newer one that was sent before it.
                fact = {**change.fcr, "w": marks.get(contact_src, self.watermarks.get(contact_src, 0.0)), "wp": partition,
                        "n": len(new["events"])}
                self._queue(new, [src, offset, "c", change.fcr_customer, orjson.dumps(fact).decode(), self.owner])
        if change.rows:
            self.readmodel.upsert(contact_row_key(cid), "contact", change.live)
            if change.summary is not None and new is not None:
                self.readmodel.upsert(recent_row_key(cid), "recent", {**change.summary, "updated_at": new["last_t"]})
        elif change.drop_rows or new is None:
            self.readmodel.upsert(contact_row_key(cid), "contact", None)
            self.readmodel.upsert(recent_row_key(cid), "recent", None)
        return len(change.delta)

    async def sweep(self, events: Sequence[faust.EventT]) -> None:
        """Settle, expire, compact and delete the contacts of the batch's partitions that are due by their
        judging watermark, each time it has moved ``SWEEP_SECONDS`` on (``ContactRules.on_due``).

        What the sweep sends is numbered after the partition's last event of the batch and written,
        with the states that hold it, before it is sent (as a batch's own messages are); a record of
        the sweep lets that event, read again after a crash, send it again (:meth:`_resend_swept`).
        """
        due: dict[int, tuple[float, faust.EventT]] = {}  # partition -> (mark, its last event of the batch)
        for partition, ev in {ev.message.partition: ev for ev in events}.items():
            with writing_for(ev):
                mark = self.judging_mark(partition)
            if mark - self._swept_at.get(partition, 0.0) >= SWEEP_SECONDS:
                self._swept_at[partition] = mark
                due[partition] = (mark, ev)
        if not due:
            return
        changes: list[tuple[str, dict[str, Any], Change]] = []
        for cid, state in self._sweep_candidates(due):
            change = self.rules.on_due(cid, state, due[state["p"]][0])
            if change is None:
                self._schedule(cid, state)
            else:
                changes.append((cid, {**state, "out": [m for m in state.get("out", ()) if m[5] != self.owner]}, change))
        if not changes:
            return
        base = {partition: SWEEP_INDEX for partition in due}
        swept: dict[int, list[str]] = {}
        for cid, state, change in changes:
            partition = state["p"]
            ev = due[partition][1]
            base[partition] += await self._take(cid, state, change, _source(ev), ev.message.offset, base[partition],
                                                {})
            if change.delta or change.fcr is not None:
                swept.setdefault(partition, []).append(cid)
        await self.settle_outbox()  # the dead letters first, then the states that say they were sent
        for cid, state, change in changes:
            with writing_for(due[state["p"]][1]):
                if change.state is None:
                    del self.contacts[cid]
                else:
                    self.contacts[cid] = change.state
                    self._schedule(cid, change.state)
        for partition, (_, ev) in due.items():
            if partition in swept:
                with writing_for(ev):
                    self.watermarks[_sweep_key(partition)] = {"src": _source(ev), "off": ev.message.offset,
                                                              "cids": swept[partition]}
        if self._sends:
            await self.send_stored()

    def _schedule(self, cid: str, state: dict[str, Any]) -> None:
        """Look at ``cid`` again when the sweep has something to do for it (``ContactRules.sweep_at``)."""
        self._schedule_of.add(state.get("p"), cid, self.rules.sweep_at(state))

    def _sweep_candidates(self, due: Mapping[int, tuple[float, faust.EventT]]) -> list[tuple[str, dict[str, Any]]]:
        """The contacts of the partitions ``due`` that may have to settle or expire now."""
        return self._schedule_of.due({partition: mark for partition, (mark, _) in due.items()})

    def judging_mark(self, partition: int, marks: Mapping[str, float] | None = None) -> float:
        """The watermark ``partition``'s contacts settle, expire and are compacted by (``marks``: this
        batch's, first): ``ccpulse.domain.entity.judging_mark`` over its contact and survey sources,
        each read to its end or not by the broker's end offset as last fetched."""
        return judging_mark(((marks or {}).get(src, self.watermarks.get(src)), self._read_to_end(src, partition))
                            for src in self._sources(partition))

    def _read_to_end(self, src: str, partition: int) -> bool:
        """Has this process handled every message of ``src`` the broker had at its last fetch?"""
        end = self.highwater(src.rpartition(":")[0], partition)
        if end is None:
            return False
        position = self._position.get(src)
        if position is None:
            position = self.last_handled(src)
        return end == 0 if position is None else position + 1 >= end

    def _sources(self, partition: int) -> tuple[str, str]:
        """The two input sources of a contact partition (co-partitioned by contact id)."""
        topics = self.settings.topics
        return f"{topics.contact_events}:{partition}", f"{topics.survey_events}:{partition}"

    def republish_all(self, partitions: set[int] | None = None) -> None:
        """After recovery: re-send every local contact's live row (the last ones may have been lost).

        Only those of ``partitions`` (the ones this worker owns now, None = all): the in-memory store
        keeps the rows of partitions revoked in an earlier rebalance, and re-sending those stale rows
        would take the read model back until their new owner changed them again.
        """
        self._schedule_of.reset()  # partitions may have moved: each is walked whole at its next sweep
        for cid, state in list(self.contacts.items()):
            if not _owned(state, partitions):
                continue
            self.readmodel.upsert(contact_row_key(cid), "contact", fold_contact(cid, state["events"], self.sla, self.settings.skew_tolerance_seconds).live)


class AgentProcessor(_Processor):
    """Agent state changes -> agent state, live agent rows."""

    def __init__(self, settings: Settings, agents: faust.Table, watermarks: faust.Table, facts: faust.TopicT,
                 deadletter: faust.TopicT, readmodel: ReadModelPublisher) -> None:
        super().__init__(settings, deadletter, readmodel)
        self.agents = agents
        self.watermarks = watermarks
        self.facts = facts
        self.rules = AgentRules(settings)

    async def process(self, events: Sequence[faust.EventT]) -> None:
        # One round trip per batch, not per event: the batch's deltas are sent, all acknowledged, and
        # only then are the agents' states and the watermarks written (effects before state).
        states: dict[str, dict[str, Any]] = {}
        writer: dict[str, faust.EventT] = {}
        marks: dict[str, float] = {}
        await self.handle_each(events, states, writer, marks)
        await self.send_queued_deltas(self.facts)
        await self.settle_outbox()
        _write_states(self.agents, states, writer)
        self.write_progress(events, marks)

    async def handle(self, ev: faust.EventT, states: dict[str, dict[str, Any]], writer: dict[str, faust.EventT],
                     marks: dict[str, float]) -> None:
        msg = ev.message
        src = _source(ev)
        lateness = self.settings.lateness_seconds
        mark = marks.get(src, self.watermarks.get(src, 0.0))
        again = self.handled_before(ev)
        event = await self.accept(ev, mark, agent_topic=True, again=again)
        if not isinstance(event, AgentStateChanged):
            return
        agent_id = event.agent_id
        previous = dict(states.get(agent_id) or self.agents.get(agent_id) or {"changes": [], "p": msg.partition})
        if again and is_late(event.at, mark, lateness) and not any(c["id"] == event.event_id for c in previous["changes"]):
            return  # handled long ago: pruned from the agent's changes since
        status, delta, kept = self.rules.on_event(previous["changes"], event, msg.value, src, msg.offset, mark)
        if status == "duplicate":
            if again or not _first_rejection(previous, src, msg.offset):
                return  # this very message was dead-lettered before (read again after a restart)
            states[agent_id], writer[agent_id] = previous, ev
            return await self.reject(ev, "duplicate", f"event_id {event.event_id} was already received for agent {agent_id}", event.event_id)
        self.queue_deltas(delta, src, msg.offset)
        new_mark = max(mark, event.at)
        states[agent_id] = {**previous, "changes": kept, "p": msg.partition}
        writer[agent_id] = ev
        if new_mark != mark:
            marks[src] = new_mark
        self.readmodel.upsert(agent_row_key(agent_id), "agent", fold_agent(agent_id, states[agent_id]["changes"]))

    def republish_all(self, partitions: set[int] | None = None) -> None:
        """After recovery: re-send the row of every local agent of ``partitions`` (see ContactProcessor)."""
        for agent_id, state in list(self.agents.items()):
            if not _owned(state, partitions):
                continue
            self.readmodel.upsert(agent_row_key(agent_id), "agent", fold_agent(agent_id, state["changes"]))


class CustomerProcessor(_Processor):
    """Contact records per customer -> first-contact-resolution and case deltas (a repeat revises the past)."""

    def __init__(self, settings: Settings, customers: faust.Table, facts: faust.TopicT,
                 deadletter: faust.TopicT, readmodel: ReadModelPublisher) -> None:
        super().__init__(settings, deadletter, readmodel)
        self.customers = customers
        self.facts = facts
        self._marks: dict[int, float] = {}  # contact partition -> its contact topic's watermark, as facts told

    def horizon(self) -> float | None:
        """The oldest watermark of all contact partitions: no new contact can be queued much before it.

        Facts arrive from the contact partitions in any interleaving (one partition may run days ahead
        of another), so a customer's own newest contact says nothing about what may still come. None
        until every partition has reported (also after a restart: nothing is pruned until then)."""
        marks = [self._marks.get(p) for p in range(self.settings.partitions)]
        return None if None in marks else min(marks)  # type: ignore[type-var]

    async def process(self, events: Sequence[faust.EventT]) -> None:
        # One round trip per batch: the batch's deltas are sent and acknowledged, then each customer
        # it touched is written once (effects before state).
        window = self.settings.fcr_window_seconds
        states: dict[str, dict[str, Any]] = {}
        writer: dict[str, faust.EventT] = {}
        async for ev, index, customer, record in self._records(events):
            try:
                mark, partition = record.pop("w", None), record.pop("wp", None)
                if mark is not None and partition is not None:
                    self._marks[partition] = max(self._marks.get(partition, 0.0), mark)
                old = states.get(customer)
                if old is None:
                    with writing_for(ev):
                        old = self.customers.get(customer) or {"contacts": {}, "contrib": {}}
                # Each fact is the contact's record as of ``n`` events; a record not newer than the one
                # kept (a redelivery, or one the contact side re-sent after a crash) is ignored: folding
                # an older one back in would take counts back that the next record adds again.
                version = record.pop("n", None)
                versions = old.get("versions", {})
                if version is not None and version <= versions.get(record["contact_id"], -1):
                    continue
                contacts = {**old["contacts"], record["contact_id"]: record}
                new_contrib = customer_contributions(contacts, window, self.settings.sla_clock)
                self.queue_deltas(diff_contributions(old["contrib"], new_contrib), _source(ev), ev.message.offset,
                                  index * FACT_STRIDE)
            except Exception as exc:  # only ccpulse writes this topic, but never stop the stream
                log.exception("cannot apply customer fact %s@%s", ev.message.partition, ev.message.offset)
                await self.reject(ev, "processing_error", f"{type(exc).__name__}: {exc}"[:500])
                continue
            horizon = self.horizon()
            kept = contacts if horizon is None else prune_customer(contacts, horizon - window - self.settings.lateness_seconds, window)
            versions = {cid: v for cid, v in {**versions, record["contact_id"]: version or 0}.items() if cid in kept}
            # Pruned contacts' counts are final and already sent: stop tracking them.
            states[customer] = {"contacts": kept, "versions": versions,
                                "contrib": new_contrib if len(kept) == len(contacts) else customer_contributions(kept, window, self.settings.sla_clock)}
            writer[customer] = ev
        await self.send_queued_deltas(self.facts)
        await self.settle_outbox()
        _write_states(self.customers, states, writer)

    async def _records(self, events: Sequence[faust.EventT]) -> AsyncIterator[tuple[faust.EventT, int, str, dict[str, Any]]]:
        """(message, index in it, customer, record) of each customer fact; an unreadable message is dead-lettered."""
        for ev in events:
            try:
                records = customer_facts(ev.message.key, ev.message.value)
            except Exception as exc:  # only ccpulse writes this topic, but never stop the stream
                log.exception("cannot read customer fact %s@%s", ev.message.partition, ev.message.offset)
                await self.reject(ev, "processing_error", f"{type(exc).__name__}: {exc}"[:500])
                continue
            for index, (customer, record) in enumerate(records):
                yield ev, index, customer, record


def _own_copy(bucket: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored bucket to change without changing the table's value in place (``apply_delta`` does)."""
    if bucket is None:
        return None
    return {**bucket, "c": dict(bucket["c"]), "hwm": dict(bucket["hwm"]), "tops": list(bucket["tops"])}


class IntervalProcessor(_Processor):
    """Interval deltas -> 15-minute buckets -> interval rows."""

    def __init__(self, settings: Settings, buckets: faust.Table, interval_stats: faust.TopicT,
                 deadletter: faust.TopicT, readmodel: ReadModelPublisher) -> None:
        super().__init__(settings, deadletter, readmodel)
        self.buckets = buckets
        self.interval_stats = interval_stats
        self._newest: dict[int, int] = {}  # partition -> newest bucket start seen
        self._pruned_at: dict[int, int] = {}
        self.final_rows: list[tuple[str, bytes]] = []  # closed intervals waiting to be sent
        # When to look at each bucket again (to close it, then to delete it): pruning visits the
        # buckets due, not every stored one (streams/schedule.py).
        self._schedule_of = DueSchedule(buckets)

    def publish(self, key: str, bucket: dict[str, Any]) -> None:
        dimension, entity, start = split_bucket_key(key)
        self.readmodel.upsert(interval_row_key(key), "interval", interval_row(dimension, entity, int(start), bucket))

    async def process(self, events: Sequence[faust.EventT]) -> None:
        # Each bucket a batch touches is written (and published) once, after the batch's dead letters
        # are acknowledged: one changelog message per bucket and batch, not per delta.
        states: dict[str, dict[str, Any]] = {}
        writer: dict[str, faust.EventT] = {}
        for ev in events:
            partition = ev.message.partition
            applied: dict[str, dict[str, Any]] = {}
            try:
                for key, entries in facts_groups(ev.message.key, ev.message.value):
                    if key in states:
                        bucket = _own_copy(states[key])
                    else:
                        with writing_for(ev):
                            bucket = _own_copy(self.buckets.get(key))
                    for fact in entries:
                        bucket, _ = apply_delta(bucket, fact["d"], fact["s"], (fact["o"], fact["i"]))
                    applied[key] = bucket
                    int(key.rsplit("|", 1)[1])  # a bucket key ends with its start
            except Exception as exc:  # only ccpulse writes this topic, but never stop the stream
                log.exception("cannot apply interval fact %s@%s", ev.message.partition, ev.message.offset)
                await self.reject(ev, "processing_error", f"{type(exc).__name__}: {exc}"[:500])
                continue
            for key, bucket in applied.items():  # a message is applied whole or not at all
                bucket["p"] = partition
                # Written also when not applied (a redelivery): after a crash the local rocksdict state can
                # be ahead of the changelog, which must get this bucket before the offset is committed.
                states[key], writer[key] = bucket, ev
                start = int(key.rsplit("|", 1)[1])
                self._newest[partition] = max(self._newest.get(partition, 0), start)
        await self.settle_outbox()
        _write_states(self.buckets, states, writer)
        for key, bucket in states.items():
            self.publish(key, bucket)
            self._schedule(key, bucket)
        self.prune(events)
        await self.send_final_rows()

    async def send_final_rows(self) -> None:
        rows, self.final_rows = self.final_rows, []
        for key, value in rows:
            await self.interval_stats.send(key=key.encode(), value=value)

    def _keep_and_settle(self) -> tuple[float, float]:
        """(seconds a bucket is kept, seconds after its start until nothing can change it any more)."""
        return (self.settings.retention_days * 86400,
                BUCKET_SECONDS + self.settings.lateness_seconds + self.settings.fcr_window_seconds)

    def _schedule(self, key: str, bucket: dict[str, Any]) -> None:
        """Look at the bucket again when it is due to close (or, closed, to be deleted)."""
        keep, settle = self._keep_and_settle()
        start = int(key.rsplit("|", 1)[1])
        delete = math.floor(start + keep) + 1  # deleted once start < newest - keep (newest: whole seconds)
        self._schedule_of.add(bucket.get("p"), key, delete if bucket.get("final") else min(start + settle, delete))

    def prune(self, events: Sequence[faust.EventT]) -> None:
        """Publish final rows and delete expired buckets, judged against the newest bucket (event time).

        An interval is final once nothing can change it any more: its end plus the
        lateness bound plus the FCR window (a repeat contact revises the past) lies
        behind the newest bucket. Its row then goes to ``cc.interval-stats`` once.
        Buckets older than the retention are deleted and their rows tombstoned.
        Judged every 15 minutes of event time per partition, on the buckets scheduled to be due.
        """
        keep, settle = self._keep_and_settle()
        last_event = {ev.message.partition: ev for ev in events}
        marks: dict[int, int] = {}
        for partition in last_event:
            newest = self._newest.get(partition, 0)
            if newest - self._pruned_at.get(partition, 0) >= BUCKET_SECONDS:
                self._pruned_at[partition] = marks[partition] = newest
        for key, bucket in self._schedule_of.due(marks):
            newest, ev = marks[bucket["p"]], last_event[bucket["p"]]
            start = int(key.rsplit("|", 1)[1])
            if start < newest - keep:
                with writing_for(ev):
                    del self.buckets[key]
                self.readmodel.upsert(interval_row_key(key), "interval", None)
                continue
            if start + settle <= newest and not bucket.get("final"):
                self.final_rows.append((key, self.final_row(key, bucket)))
                bucket = {**bucket, "final": True}
                with writing_for(ev):
                    self.buckets[key] = bucket
            self._schedule(key, bucket)

    def final_row(self, key: str, bucket: dict[str, Any]) -> bytes:
        """The closed interval's figures for downstream warehouses (``cc.interval-stats``)."""
        dimension, entity, start = split_bucket_key(key)
        counters, max_wait = merge_buckets([bucket])
        channel = entity if dimension == "channel" else dominant_channel(counters)
        sla = self.settings.queue(entity, channel) if dimension == "queue" else self.settings.channels[channel or "voice"]
        return orjson.dumps({
            "dimension": dimension, "id": entity, "granularity": "15m",
            "interval_start": iso(int(start)), "interval_end": iso(int(start) + BUCKET_SECONDS),
            **interval_figures(counters, max_wait, sla),
        })

    def republish_all(self, partitions: set[int] | None = None) -> None:
        """After recovery: re-send the row of every local bucket of ``partitions`` (a crash may have lost
        the last ones; see ContactProcessor for why only those)."""
        self._schedule_of.reset()  # partitions may have moved: each is walked whole at its next pruning
        for key, bucket in list(self.buckets.items()):
            if _owned(bucket, partitions):
                self.publish(key, bucket)


class RetentionProcessor(_Processor):
    """Customer events and the customers' contact records -> per-customer retention contributions.

    Keyed by customer: ``cc.customer-events`` (the contract) and ``cc.customer-facts`` (what the
    contact side learnt about each contact of a customer: breaches, NPS answers) are co-partitioned.
    A customer keeps its events and its contacts' facts; its contributions are a pure fold of both
    (``ccpulse.domain.retention``), published whole as the customer's read-model row, so a
    redelivery or a re-publication changes nothing and the API sums the rows.
    """

    def __init__(self, settings: Settings, retention: faust.Table, watermarks: faust.Table, deadletter: faust.TopicT,
                 readmodel: ReadModelPublisher) -> None:
        super().__init__(settings, deadletter, readmodel)
        self.retention = retention
        self.watermarks = watermarks  # only the offsets handled are kept there (customer events carry no lateness)

    async def process(self, events: Sequence[faust.EventT]) -> None:
        states: dict[str, dict[str, Any]] = {}
        writer: dict[str, faust.EventT] = {}
        await self.handle_each(events, states, writer)
        await self.settle_outbox()  # dead letters are acknowledged before the state that skipped them
        _write_states(self.retention, states, writer)
        self.write_progress(events, {})

    def _state(self, customer: str, states: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return dict(states.get(customer) or self.retention.get(customer) or {"events": [], "facts": {}, "contrib": {}})

    async def handle(self, ev: faust.EventT, states: dict[str, dict[str, Any]], writer: dict[str, faust.EventT]) -> None:
        msg = ev.message
        if msg.topic == self.settings.topics.customer_facts:
            for customer, record in customer_facts(msg.key, msg.value):
                self._fact(ev, customer, record, states, writer)
            return
        reject = self._silent if self.handled_before(ev) else self.reject  # dead-lettered once only
        try:
            customer, rec = accept_customer_event(msg.value, _source(ev), msg.offset, self.settings.retention.currency)
        except EventRejected as exc:
            self.stats.observe(msg.topic, None)
            return await reject(ev, exc.reason, exc.message)
        self.stats.observe(msg.topic, rec["t"])
        state = self._state(customer, states)
        state["events"] = list(state["events"])
        status = add_event(state["events"], rec)
        if status == "duplicate":
            return await reject(ev, "duplicate", f"event_id {rec['id']} was already received for customer "
                                     f"{customer}", rec["id"])
        if status == "redelivered":
            return
        self._settle(ev, customer, state, states, writer)

    def _fact(self, ev: faust.EventT, customer: str, record: dict[str, Any], states: dict[str, dict[str, Any]],
              writer: dict[str, faust.EventT]) -> None:
        """One contact record of ``customer`` (from the contact side): what retention keeps of it."""
        state = self._state(customer, states)
        versions = dict(state.get("fact_versions", {}))
        version = record.get("n")
        if version is not None and version <= versions.get(record["contact_id"], -1):
            return  # not newer than the record kept (see CustomerProcessor)
        versions[record["contact_id"]] = version or 0
        state["fact_versions"] = versions
        facts = dict(state["facts"])
        fact = fact_record(record)
        if fact is None:
            facts.pop(record["contact_id"], None)
        else:
            facts[record["contact_id"]] = fact
        if facts == state["facts"]:  # nothing retention looks at has changed (e.g. a wrap-up)
            states[customer], writer[customer] = state, ev  # but the version moved on
            return
        state["facts"] = facts
        self._settle(ev, customer, state, states, writer)

    def _settle(self, ev: faust.EventT, customer: str, state: dict[str, Any], states: dict[str, dict[str, Any]],
                writer: dict[str, faust.EventT]) -> None:
        """Re-fold ``customer``'s contributions from its changed ``state``, publish them if they moved."""
        contrib = retention_contributions(state["events"], state["facts"].values(), self.settings.retention,
                                         self.settings.zone)
        if contrib != state["contrib"]:
            self.publish(customer, contrib)
        state["contrib"] = contrib
        states[customer], writer[customer] = state, ev

    def publish(self, customer: str, contrib: dict[str, Any]) -> None:
        self.readmodel.upsert(retention_row_key(customer), "retention",
                              {"customer_id": customer, "p": contrib} if contrib else None)

    def republish_all(self) -> None:
        """After recovery: re-fold and re-send every local customer's row. The last rows may have been
        lost, and a restart with other retention settings or time zone re-derives every month this way."""
        for customer, state in list(self.retention.items()):
            contrib = retention_contributions(state["events"], state["facts"].values(), self.settings.retention,
                                             self.settings.zone)
            if contrib or state.get("contrib"):
                self.publish(customer, contrib)
