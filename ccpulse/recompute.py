"""``ccpulse recompute``: re-derive past intervals from the retained events, on a new definition.

The event topics keep 30 days and every rule is a pure function, so any definition can be
applied to the past: a changed service-level threshold, short-abandon or FCR window, a time
zone, or a fixed bug. This command is a second thin driver over the worker's core:

1. **Read** every retained event of the three event topics (from the beginning of retention to
   the end offsets seen at start) in large ``getmany`` batches, partitions split over
   ``--processes`` processes. Reading starts at the beginning, not at ``--from``: the worker's
   state at ``--from`` (watermarks and so lateness, contacts queued earlier, an agent's state
   run, contact expiry, FCR) depends on every earlier event, and only the whole history
   reproduces it exactly.
2. **Fold** each partition with :class:`ccpulse.domain.batch.PartitionFold` — the same
   functions, in the same order, as ``streams/processing.py`` — contact and survey messages
   interleaved by record time, as the worker's consumer receives them. FCR records of all
   partitions are then folded per customer (``apply_fcr``).
3. **Publish** the *closed* 15-minute intervals of ``[--from, --to)`` (those the worker treats
   as final: end + lateness + FCR window behind the newest event read) as a new *generation* of
   the read model: rows ``recomputed|<generation>|interval|<bucket>`` and then the commit marker
   ``generation|<generation>``. API instances switch to a generation atomically once its marker
   and all its rows are in (``ccpulse/readmodel/state.py``); open intervals stay live. Generations this one
   covers entirely are withdrawn (tombstoned) afterwards, so compaction removes them.

``--dry-run --format csv`` publishes nothing and writes, for every interval of the range, the
figures served now beside the recomputed ones (as the API would serve them with the new
settings), with the fields that differ.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import hashlib
import multiprocessing
import os
import queue as queue_module
import secrets
import sys
import time
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from ccpulse.csv_safety import csv_cell
from ccpulse.domain.batch import PartitionFold, apply_fcr, merge_bucket_sets, merge_fcr
from ccpulse.domain.intervals import BUCKET_SECONDS, iso, parse_time, split_bucket_key
from ccpulse.readmodel.keys import GENERATION_PARTITION, generation_marker_key, generation_row_key
from ccpulse.readmodel.rows import generation_covers, interval_row
from ccpulse.readmodel.state import ReadModel
from ccpulse.readmodel.views import entity_rows
from ccpulse.settings import Settings

__all__ = [
    "DIMENSIONS",
    "PROGRESS_SECONDS",
    "Scope",
    "SettingsProblem",
    "add_arguments",
    "closed_until",
    "diff_rows",
    "fold_records",
    "load_settings",
    "run",
    "settings_hash",
    "write_csv",
]

PROGRESS_SECONDS = 2.0
#: Dimensions of the stored buckets (teams and the centre are sums of them).
DIMENSIONS: tuple[str, ...] = ("queue", "channel", "agent", "agentq")
BATCH_RECORDS = 50_000
#: Empty fetches (1 s each) after which a partition short of its end offset counts as read.
STALL_ROUNDS = 10
#: Collector thresholds while folding. The fold keeps every contact's and agent's state (hundreds of
#: thousands of small dicts) and allocates a few dozen short-lived objects per event; at the default
#: (700, 10, 10) the collector rescanned the growing state so often that it cost ~15% of the fold
#: (offline fold of the bench's 200,000 events: ~16.5k -> ~19k events/s CPU). Cycles are still collected.
FOLD_GC_THRESHOLDS = (50_000, 50, 100)


class SettingsProblem(ValueError):
    """The definition to recompute with cannot be used; nothing has been read or published."""


# ---- the definition -----------------------------------------------------------------------------
def load_settings(path: Path | None, current: Settings) -> Settings:
    """The settings to recompute with: the environment plus ``path`` in place of CCPULSE_CONFIG_FILE
    (exactly what a worker restarted with ``CCPULSE_CONFIG_FILE=path`` would use)."""
    if path is None:
        return current
    if not path.is_file():
        raise SettingsProblem(f"no such settings file: {path}")
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsProblem(f"{path} is not valid TOML: {exc}") from None
    previous = os.environ.get("CCPULSE_CONFIG_FILE")
    os.environ["CCPULSE_CONFIG_FILE"] = str(path)
    try:
        new = Settings()
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "(file)"
        raise SettingsProblem(f"invalid setting {where} in {path}: {first['msg']}") from None
    finally:
        if previous is None:
            os.environ.pop("CCPULSE_CONFIG_FILE", None)
        else:
            os.environ["CCPULSE_CONFIG_FILE"] = previous
    if new.topics != current.topics or new.partitions != current.partitions:
        raise SettingsProblem(f"{path} names other topics or partitions than this deployment's; "
                              "a settings file for recompute changes definitions only")
    return new


def settings_hash(settings: Settings) -> str:
    """A short hash of everything that defines the figures (not of connections or tokens)."""
    definition = settings.model_dump(mode="json", include={
        "timezone", "lateness_seconds", "contact_retention_seconds", "contact_summary_days", "open_contact_expiry_days",
        "fcr_window_seconds", "channels", "queues"})
    return hashlib.sha256(orjson.dumps(definition, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def closed_until(newest: float, *settings: Settings) -> int:
    """Start of the first bucket that is not closed yet: a bucket is closed (final) once its end plus
    the lateness bound plus the FCR window lies behind the newest event time (the worker's rule for
    final rows), under every definition given (the running workers' and the new one)."""
    lateness = max(s.lateness_seconds for s in settings)
    window = max(s.fcr_window_seconds for s in settings)
    horizon = newest - lateness - window
    return int(horizon // BUCKET_SECONDS * BUCKET_SECONDS)


@dataclass(frozen=True)
class Scope:
    """Which buckets a generation decides: start in [start, end), of these dimensions (and queues)."""

    start: int
    end: int
    queues: tuple[str, ...] | None = None

    @property
    def dimensions(self) -> tuple[str, ...]:
        # Agent and channel buckets mix queues: only a whole-centre recompute republishes them.
        return ("queue",) if self.queues is not None else DIMENSIONS

    def marker(self) -> dict[str, Any]:
        return {"from": self.start, "to": self.end, "dimensions": list(self.dimensions),
                "queues": None if self.queues is None else list(self.queues)}

    def covers(self, bucket_key: str) -> bool:
        dimension, entity, start = split_bucket_key(bucket_key)
        return generation_covers(self.marker(), dimension, entity, int(start))

    def contains(self, marker: dict[str, Any]) -> bool:
        """Does this scope cover everything ``marker``'s generation covers?"""
        if not (self.start <= marker["from"] and marker["to"] <= self.end):
            return False
        if not set(marker["dimensions"]) <= set(self.dimensions):
            return False
        return self.queues is None or (marker.get("queues") is not None and set(marker["queues"]) <= set(self.queues))

    def describe(self, zone: Any = None) -> str:
        what = "queues " + ", ".join(self.queues) if self.queues is not None else "queues, channels and agents"
        return f"{iso(self.start, zone)} – {iso(self.end, zone)}, {what}"


# ---- reading and folding ------------------------------------------------------------------------
@dataclass
class FoldResult:
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    fcr: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    read: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    newest: float = 0.0


@dataclass(frozen=True)
class Record:
    """What the fold needs of a Kafka record (any object with these attributes will do)."""

    offset: int
    timestamp: int
    value: bytes | None


def fold_records(settings: Settings, topics: Any, partition: int,
                 contact: Iterable[Any], survey: Iterable[Any], agent: Iterable[Any]) -> PartitionFold:
    """Fold one partition's three sources, all at once (tests; the reader below streams the same way)."""
    merger = _PartitionMerger(settings, topics, partition)
    merger.push(topics.contact_events, list(contact))
    merger.push(topics.survey_events, list(survey))
    merger.push(topics.agent_events, list(agent))
    merger.finished = {topics.contact_events, topics.survey_events, topics.agent_events}
    merger.drain()
    return merger.fold


class _PartitionMerger:
    """Feeds a partition's records to its fold: agent records as they come, contact and survey
    records interleaved by record time (the order the worker's consumer receives them in)."""

    def __init__(self, settings: Settings, topics: Any, partition: int) -> None:
        self.fold = PartitionFold(settings, read_to_end=self._read_to_end)
        self.contact_topic, self.survey_topic, self.agent_topic = topics.contact_events, topics.survey_events, topics.agent_events
        self.sources = {t: f"{t}:{partition}" for t in (self.contact_topic, self.survey_topic, self.agent_topic)}
        self.buffers: dict[str, deque[Any]] = {t: deque() for t in self.sources}
        self.finished: set[str] = set()  # topics read to their end offset
        # The contact side's judging watermark looks at both of its sources, as the worker's does.
        self.fold.contact_sources.update((self.sources[self.contact_topic], self.sources[self.survey_topic]))

    def _read_to_end(self, src: str) -> bool:
        """Has every record of ``src`` been fed to the fold (what the worker asks the broker)?"""
        topic = src.rpartition(":")[0]
        return topic in self.finished and not self.buffers[topic]

    def push(self, topic: str, records: Sequence[Any]) -> None:
        self.buffers[topic].extend(records)

    def drain(self) -> None:
        fold = self.fold
        agents = self.buffers[self.agent_topic]
        src = self.sources[self.agent_topic]
        while agents:
            record = agents.popleft()
            fold.message(record.value, src, record.offset, True)
        contacts, surveys = self.buffers[self.contact_topic], self.buffers[self.survey_topic]
        contact_src, survey_src = self.sources[self.contact_topic], self.sources[self.survey_topic]
        contacts_done, surveys_done = self.contact_topic in self.finished, self.survey_topic in self.finished
        while True:
            if contacts and surveys:
                take_contact = contacts[0].timestamp <= surveys[0].timestamp
            elif contacts and surveys_done:
                take_contact = True
            elif surveys and contacts_done:
                take_contact = False
            else:
                return
            if take_contact:
                record = contacts.popleft()
                fold.message(record.value, contact_src, record.offset, False)
            else:
                record = surveys.popleft()
                fold.message(record.value, survey_src, record.offset, False)


@dataclass(frozen=True)
class Plan:
    servers: str
    partitions: tuple[int, ...]
    ends: dict[tuple[str, int], int]  # (topic, partition) -> end offset seen at start
    begins: dict[tuple[str, int], int]

    @property
    def total(self) -> int:
        return sum(max(0, self.ends[k] - self.begins.get(k, 0)) for k in self.ends)


async def _consumer(servers: str, **options: Any) -> Any:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError

    from ccpulse.kafka import KafkaUnreachable

    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False, request_timeout_ms=20000, **options)
    try:
        await asyncio.wait_for(consumer.start(), 20)
    except (KafkaError, OSError, asyncio.TimeoutError):
        await consumer.stop()
        raise KafkaUnreachable(servers) from None
    await consumer._client.force_metadata_update()  # Kafka tells a bare consumer no topics at first
    return consumer


async def plan(settings: Settings, servers: str) -> Plan:
    """The partitions and end offsets of the event topics (the snapshot this recompute reads up to)."""
    from aiokafka import TopicPartition

    topics = settings.topics
    consumer = await _consumer(servers)
    try:
        names = (topics.contact_events, topics.survey_events, topics.agent_events)
        tps = []
        for topic in names:
            found = consumer.partitions_for_topic(topic)
            if not found:
                raise SettingsProblem(f"topic {topic} does not exist on {servers}: no events to recompute "
                                      "(check CCPULSE_TOPICS__*, or run `ccpulse topics`)")
            tps += [TopicPartition(topic, p) for p in sorted(found)]
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
    finally:
        await consumer.stop()
    return Plan(servers, tuple(sorted({tp.partition for tp in tps})),
                {(tp.topic, tp.partition): end for tp, end in ends.items()},
                {(tp.topic, tp.partition): begin for tp, begin in begins.items()})


async def read_and_fold(settings: Settings, the_plan: Plan, partitions: Sequence[int],
                        progress: Callable[[int], None] | None = None) -> FoldResult:
    """Read ``partitions`` of the event topics to the planned end offsets and fold them."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*FOLD_GC_THRESHOLDS)
    try:
        return await _read_and_fold(settings, the_plan, partitions, progress)
    finally:
        gc.set_threshold(*thresholds)


async def _read_and_fold(settings: Settings, the_plan: Plan, partitions: Sequence[int],
                         progress: Callable[[int], None] | None) -> FoldResult:
    from aiokafka import TopicPartition

    topics = settings.topics
    mergers = {p: _PartitionMerger(settings, topics, p) for p in partitions}
    tps = [TopicPartition(t, p) for (t, p) in the_plan.ends if p in mergers]
    for p, merger in mergers.items():  # a topic with fewer partitions has nothing to wait for here
        merger.finished.update(t for t in merger.sources if (t, p) not in the_plan.ends)
    consumer = await _consumer(the_plan.servers, max_partition_fetch_bytes=16 * 1024 * 1024,
                               fetch_max_bytes=64 * 1024 * 1024)
    read = 0
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        pending = set()
        for tp in tps:
            if await consumer.position(tp) >= the_plan.ends[(tp.topic, tp.partition)]:
                mergers[tp.partition].finished.add(tp.topic)
            else:
                pending.add(tp)
        if len(pending) < len(tps):
            consumer.pause(*(set(tps) - pending))
        for merger in mergers.values():
            merger.drain()
        idle = 0
        while pending:
            batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH_RECORDS)
            idle = 0 if batches else idle + 1
            touched = set()
            for tp, records in batches.items():
                mergers[tp.partition].push(tp.topic, records)
                read += len(records)
                touched.add(tp.partition)
            for tp in list(pending):
                if tp in batches or not batches:
                    done = await consumer.position(tp) >= the_plan.ends[(tp.topic, tp.partition)]
                    if done or idle >= STALL_ROUNDS:  # stalled: nothing more arrives below the end offset
                        pending.discard(tp)
                        consumer.pause(tp)
                        mergers[tp.partition].finished.add(tp.topic)
                        touched.add(tp.partition)
            for partition in touched:
                mergers[partition].drain()
            if progress is not None:
                progress(read)
        for merger in mergers.values():
            merger.drain()
    finally:
        await consumer.stop()
    out = FoldResult(read=read)
    folds = [m.fold for m in mergers.values()]
    out.buckets = {k: {"c": b["c"], "tops": b["tops"]} for k, b in merge_bucket_sets(f.buckets for f in folds).items()}
    for fold in folds:
        merge_fcr(out.fcr, fold.fcr)
        for reason, n in fold.rejected.items():
            out.rejected[reason] = out.rejected.get(reason, 0) + n
        out.newest = max(out.newest, fold.newest)
    return out


def _child(index: int, settings: Settings, the_plan: Plan, partitions: Sequence[int], counters: Any, results: Any) -> None:
    """A worker process: fold its partitions and send the result (or the error) back."""
    def progress(read: int) -> None:
        counters[index] = read

    try:
        results.put((index, asyncio.run(read_and_fold(settings, the_plan, partitions, progress)), None))
    except BaseException as exc:  # reported by the parent (exceptions with their own __init__ do not pickle)
        results.put((index, None, (type(exc).__name__, str(exc))))


def fold_all(settings: Settings, the_plan: Plan, processes: int, report: Callable[[int, float], None]) -> FoldResult:
    """Read and fold every partition with ``processes`` processes (partitions dealt round-robin)."""
    groups = [list(the_plan.partitions[i::processes]) for i in range(processes)]
    groups = [g for g in groups if g]
    started = time.monotonic()
    if len(groups) <= 1:
        last = [started]

        def progress(read: int) -> None:
            if time.monotonic() - last[0] >= PROGRESS_SECONDS:
                last[0] = time.monotonic()
                report(read, last[0] - started)

        results = [asyncio.run(read_and_fold(settings, the_plan, groups[0] if groups else [], progress))]
    else:
        context = multiprocessing.get_context("fork")  # the parent holds no loop or connection now
        counters = context.Array("q", len(groups), lock=False)
        queue = context.Queue()
        children = [context.Process(target=_child, args=(i, settings, the_plan, group, counters, queue), daemon=True)
                    for i, group in enumerate(groups)]
        for child in children:
            child.start()
        got: dict[int, FoldResult] = {}
        try:
            last = time.monotonic()
            while len(got) < len(children):
                try:
                    index, result, error = queue.get(timeout=0.25)
                except queue_module.Empty:
                    if any(c.exitcode not in (None, 0) for c in children) and queue.empty():
                        raise RuntimeError("a recompute process died unexpectedly") from None
                    if time.monotonic() - last >= PROGRESS_SECONDS:
                        last = time.monotonic()
                        report(sum(counters), last - started)
                    continue
                if error is not None:
                    kind, message = error
                    if kind == "KafkaUnreachable":
                        from ccpulse.kafka import KafkaUnreachable

                        raise KafkaUnreachable(the_plan.servers)
                    raise RuntimeError(f"a recompute process failed: {kind}: {message}")
                got[index] = result
        finally:
            for child in children:
                if child.is_alive():
                    child.terminate()
                child.join()
        results = [got[i] for i in sorted(got)]
    out = FoldResult()
    out.buckets = merge_bucket_sets(r.buckets for r in results)
    for r in results:
        merge_fcr(out.fcr, r.fcr)
        out.read += r.read
        for reason, n in r.rejected.items():
            out.rejected[reason] = out.rejected.get(reason, 0) + n
        out.newest = max(out.newest, r.newest)
    apply_fcr(out.buckets, out.fcr, settings.fcr_window_seconds, clock=settings.sla_clock)
    return out


# ---- the read model: now, and after this generation --------------------------------------------
async def read_topic(servers: str, topic: str) -> list[tuple[bytes, bytes | None]]:
    """(key, value) of every record of ``topic``, partition by partition, to its end offsets."""
    from aiokafka import TopicPartition

    consumer = await _consumer(servers, max_partition_fetch_bytes=16 * 1024 * 1024)
    out: list[tuple[bytes, bytes | None]] = []
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not tps:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        by_tp: dict[Any, list[tuple[bytes, bytes | None]]] = {tp: [] for tp in tps}
        pending = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000, max_records=BATCH_RECORDS)
            for tp, records in batches.items():
                by_tp[tp].extend((r.key, r.value) for r in records if r.key is not None)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        for tp in tps:
            out.extend(by_tp[tp])
    finally:
        await consumer.stop()
    return out


def _store(settings: Settings, messages: Iterable[tuple[bytes, bytes | None]]) -> ReadModel:
    store = ReadModel(settings)
    for key, value in messages:
        store.apply(key, value)
    return store


def generation_messages(generation: str, scope: Scope, buckets: dict[str, dict[str, Any]],
                        details: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    """The generation's rows, then its commit marker (publication order)."""
    out = []
    for key in sorted(k for k in buckets if scope.covers(k)):
        dimension, entity, start = split_bucket_key(key)
        row = interval_row(dimension, entity, int(start), buckets[key])
        out.append((generation_row_key(generation, key).encode(), orjson.dumps(row)))
    marker = {"kind": "generation", "generation": generation, **scope.marker(), "rows": len(out), **details}
    out.append((generation_marker_key(generation).encode(), orjson.dumps(marker)))
    return out


def withdrawals(store: ReadModel, generation: str, scope: Scope) -> list[bytes]:
    """Keys to tombstone once ``generation`` is committed: every generation it covers entirely
    (marker first, then rows), and rows of older generations that never got a marker."""
    keys: list[bytes] = []
    for old in sorted(set(store.generation_markers) | set(store.generation_rows)):
        if old >= generation:
            continue
        marker = store.generation_markers.get(old)
        if marker is not None:
            if not scope.contains(marker):
                continue
            keys.append(generation_marker_key(old).encode())
        for dimension, entity, start in sorted(store.generation_rows.get(old, {})):
            keys.append(generation_row_key(old, f"{dimension}|{entity}|{start}").encode())
    return keys


# ---- the difference ------------------------------------------------------------------------------
_IDENT = ("interval_start", "interval_end", "granularity")
_SETTINGS_FIELDS = ("sl_threshold_seconds", "sl_target")


def _counted(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """``row``, or None when it counts nothing: a live bucket whose contributions were all retracted
    (e.g. a survey credited to an agent before the transfer that moved the credit arrived on the other
    topic) is served as a row of zeros, which a recompute folding in another order never creates."""
    if row is None or any(v not in (0, 0.0, None) for f, v in row.items() if f not in _IDENT and f not in _SETTINGS_FIELDS):
        return row
    return None


@dataclass
class Diff:
    rows: list[dict[str, Any]] = field(default_factory=list)  # dimension, id, interval_start/end, status, changed, current, recomputed
    fields: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r["status"] == status)

    @property
    def differing(self) -> int:
        return len(self.rows) - self.count("same")


def diff_rows(before: ReadModel, after: ReadModel, scope: Scope) -> Diff:
    """Every 15-minute row of the scope as the API serves it now and as it would serve it after."""
    out = Diff()
    # Per-(agent, queue) rows are compared too: a queue-limited token is served their sums.
    series = {key for store in (before, after) for key in store.intervals
              if key[0] in scope.dimensions and (scope.queues is None or key[1] in scope.queues)}
    for dimension, entity in sorted(series):
        was = {r["interval_start"]: r for r in entity_rows(before, dimension, entity, "15m", scope.start, scope.end)}
        now = {r["interval_start"]: r for r in entity_rows(after, dimension, entity, "15m", scope.start, scope.end)}
        for start in sorted(set(was) | set(now)):
            if parse_time(start) < scope.start:
                continue
            current, recomputed = _counted(was.get(start)), _counted(now.get(start))
            if current is None and recomputed is None:
                continue
            if not out.fields:
                out.fields = [f for f in (current or recomputed or {}) if f not in _IDENT]
            if current is None:
                status, changed = "added", []
            elif recomputed is None:
                status, changed = "removed", []
            else:
                changed = [f for f in out.fields if current.get(f) != recomputed.get(f)]
                status = "changed" if changed else "same"
            end = (current or recomputed)["interval_end"]  # type: ignore[index]
            out.rows.append({"dimension": dimension, "id": entity, "interval_start": start, "interval_end": end,
                             "status": status, "changed": changed, "current": current, "recomputed": recomputed})
    return out


def write_csv(diff: Diff, stream: Any) -> None:
    """One line per interval: its identity, status, the fields that differ, then each figure now
    (``current_<field>``) beside its recomputed value (``recomputed_<field>``); null is empty."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(["dimension", "id", "interval_start", "interval_end", "status", "changed_fields",
                     *(f"{which}_{f}" for f in diff.fields for which in ("current", "recomputed"))])

    def cell(row: dict[str, Any] | None, name: str) -> Any:
        value = None if row is None else row.get(name)
        return "" if value is None else value

    for r in diff.rows:
        writer.writerow([r["dimension"], csv_cell(r["id"]), r["interval_start"], r["interval_end"], r["status"],
                         ";".join(r["changed"]),
                         *(cell(r[which], f) for f in diff.fields for which in ("current", "recomputed"))])


# ---- the command -------------------------------------------------------------------------------
def _time(text: str) -> float | date:
    """RFC 3339 with an offset, or a date (its midnight in the time zone, resolved in run())."""
    try:
        return parse_time(text)
    except ValueError:
        pass
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither an RFC 3339 time with an offset (2026-03-02T08:00:00Z) "
                                         "nor a date (2026-03-02)") from None


def _queues(text: str) -> list[str]:
    return [q.strip() for q in text.split(",") if q.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", type=_time, required=True, metavar="TIME",
                        help="first interval: RFC 3339 (2026-03-02T08:00:00Z) or a date (midnight in the time zone)")
    parser.add_argument("--to", dest="end", type=_time, required=True, metavar="TIME",
                        help="end of the range (exclusive); intervals not closed yet are left to the workers")
    parser.add_argument("--queue", dest="queues", type=_queues, action="append", default=None, metavar="QUEUE",
                        help="only these queues' rows (repeat or comma-separate); default: every queue, channel and agent")
    parser.add_argument("--settings", type=Path, default=None, metavar="FILE",
                        help="TOML settings file with the new definitions (as CCPULSE_CONFIG_FILE); default: the current ones")
    parser.add_argument("--dry-run", action="store_true", help="publish nothing; write current vs recomputed figures")
    parser.add_argument("--format", choices=["csv"], default="csv", help="dry-run output format (csv)")
    parser.add_argument("--output", default="-", metavar="FILE", help="dry-run output file (default: standard output)")
    parser.add_argument("--processes", type=int, default=None, metavar="N",
                        help="processes reading and folding partitions in parallel (default: one per CPU)")


def _resolve_time(value: float | date, zone: Any) -> float:
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=zone).timestamp()
    return value


def _say(message: str) -> None:
    print(f"ccpulse recompute: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``ccpulse recompute``: 0 done, 1 nothing closed in the range yet, 2 a usage, settings or Kafka problem."""
    from aiokafka.errors import KafkaError

    from ccpulse.kafka import KafkaUnreachable, ensure_topics
    from ccpulse.simulate import quiet_kafka_logs

    def fail(message: str) -> int:
        print(f"ccpulse: {message}", file=sys.stderr, flush=True)
        return 2

    # Everything that can be wrong with the request is checked before anything is read or published.
    try:
        new = load_settings(args.settings, settings)
    except SettingsProblem as exc:
        return fail(f"{exc}; nothing was published")
    start, end = (_resolve_time(v, new.zone) for v in (args.start, args.end))
    if end <= start:
        return fail("--to must be after --from")
    if start % BUCKET_SECONDS or end % BUCKET_SECONDS:
        return fail("--from and --to must fall on a 15-minute boundary (intervals are 15-minute buckets)")
    if not args.dry_run and args.output != "-":
        return fail("--output is for --dry-run (a recompute publishes to the read model)")
    if args.output != "-" and not Path(args.output).resolve().parent.is_dir():
        return fail(f"cannot write {args.output}: its directory does not exist")
    processes = args.processes or os.cpu_count() or 1
    if processes < 1:
        return fail("--processes must be at least 1")
    queues = tuple(sorted({q for group in args.queues for q in group})) if args.queues else None

    quiet_kafka_logs(settings)
    servers = settings.kafka_servers
    started = time.monotonic()
    try:
        asyncio.run(ensure_topics(settings, servers))  # as every command does; fails fast, naming the fix
        the_plan = asyncio.run(plan(settings, servers))
        processes = max(1, min(processes, len(the_plan.partitions)))
        _say(f"reading {the_plan.total:,} retained events of {len(the_plan.partitions)} partitions "
             f"with {processes} process{'es' if processes > 1 else ''}")

        def report(read: int, seconds: float) -> None:
            _say(f"{read:,} of {the_plan.total:,} events read ({read / max(seconds, 1e-9):,.0f} events/s)")

        folded = fold_all(new, the_plan, processes, report)
        fold_seconds = time.monotonic() - started
        rate = folded.read / max(fold_seconds, 1e-9)
        rejected = sum(folded.rejected.values())
        closed = closed_until(folded.newest, settings, new)
        scope = Scope(int(start), int(min(end, closed)), queues)
        left_open = f"; intervals from {iso(closed)} on are not closed yet and stay the workers'" if closed < end else ""
        read_line = (f"read {folded.read:,} events ({rejected:,} rejected at input — late, duplicate, invalid — as on the "
                     f"workers) in {fold_seconds:.1f} s: {rate:,.0f} events/s with {processes} "
                     f"process{'es' if processes > 1 else ''}")
        if scope.end <= scope.start:
            _say(read_line)
            if not folded.newest:
                _say(f"nothing published: the event topics hold no events (check CCPULSE_TOPICS__* and "
                     f"CCPULSE_BOOTSTRAP_SERVERS={servers})")
            else:
                _say(f"nothing published: no interval from {iso(start)} on is closed yet (the newest event is at "
                     f"{iso(folded.newest)}; an interval closes once its end plus the lateness bound plus the FCR "
                     "window lies behind it)")
            return 1
        generation = f"{time.time_ns() // 1_000_000:013d}-{secrets.token_hex(3)}"
        details = {"settings_hash": settings_hash(new), "created_at": time.time(), "events": folded.read,
                   "newest_event": folded.newest, "requested_to": end}
        messages = generation_messages(generation, scope, folded.buckets, details)
        existing = asyncio.run(read_topic(servers, settings.topics.read_model))
        before = _store(settings, existing)
        after = _store(new, [*existing, *messages])
        diff = diff_rows(before, after, scope)
        if args.dry_run:
            return _write_dry_run(diff, args.output, read_line, scope, left_open)
        tombstones = withdrawals(before, generation, scope)
        asyncio.run(_publish(settings, servers, messages, tombstones))
    except SettingsProblem as exc:
        return fail(str(exc))
    except KafkaUnreachable as exc:
        return fail(str(exc))
    except RuntimeError as exc:  # a reading process failed
        return fail(f"{exc}; nothing was published")
    except (KafkaError, OSError) as exc:
        return fail(f"Kafka at {servers} failed during the recompute ({type(exc).__name__}: {exc}); nothing new is "
                    "served unless the generation's marker was written — run it again")
    _say(read_line)
    _say(f"published generation {generation}: {len(messages) - 1:,} interval rows of {scope.describe()} "
         f"({diff.differing:,} differ from the figures served before){left_open}; withdrew {len(tombstones):,} "
         f"superseded rows; {time.monotonic() - started:.1f} s in all")
    return 0


def _write_dry_run(diff: Diff, output: str, read_line: str, scope: Scope, left_open: str) -> int:
    try:
        if output == "-":
            write_csv(diff, sys.stdout)
            sys.stdout.flush()
        else:
            with open(output, "w", newline="", encoding="utf-8") as out:
                write_csv(diff, out)
    except OSError as exc:
        print(f"ccpulse: cannot write {output}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        return 2
    _say(read_line)
    _say(f"dry run, nothing published: {len(diff.rows):,} intervals of {scope.describe()} — "
         f"{diff.count('changed'):,} changed, {diff.count('added'):,} added, {diff.count('removed'):,} removed, "
         f"{diff.count('same'):,} unchanged{left_open}; written to {'standard output' if output == '-' else output}")
    return 0


async def _publish(settings: Settings, servers: str, messages: list[tuple[bytes, bytes]], tombstones: list[bytes]) -> None:
    """Send the generation's rows, wait for them, then its marker; then withdraw what it supersedes."""
    from ccpulse.kafka import start_producer

    topic = settings.topics.read_model
    producer = await start_producer(servers, linger_ms=20, max_batch_size=256 * 1024)
    try:
        *rows, (marker_key, marker) = messages
        pending = [await producer.send(topic, value, key=key, partition=GENERATION_PARTITION) for key, value in rows]
        await asyncio.gather(*pending)
        await producer.send_and_wait(topic, marker, key=marker_key, partition=GENERATION_PARTITION)
        pending = [await producer.send(topic, None, key=key, partition=GENERATION_PARTITION) for key in tombstones]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


