"""The API's in-memory read model, rebuilt from the compacted ``cc.read-model`` topic.

Every API instance consumes *all* partitions from the beginning (no consumer
group), so any instance answers any read, whatever worker owns which partition.
It also counts ``cc.deadletter`` records by reason for ``/metrics``.

Interval rows come from two writers. The workers publish ``interval|<bucket>`` rows
(the *live* layer). ``ccpulse recompute`` publishes a *generation*: its rows under
``recomputed|<generation>|interval|<bucket>`` and then a commit marker
``generation|<generation>`` (range, dimensions, queues, row count), all on partition
``GENERATION_PARTITION``. Rows of a generation are buffered and served only once its
marker has arrived with all of them; from then on, every bucket the marker covers is
served from the newest covering generation (absent if the generation has no row for
it), whatever the workers publish for it later, and every other bucket from the live
layer. What is served is a pure function of the rows retained in the topic, so an API
restart rebuilds the same answer; a tombstoned marker withdraws its generation.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import logging
import time
from collections import Counter
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from api.totals import SeriesTotals
from ccpulse.domain.intervals import split_bucket_key
from ccpulse.domain.buckets import dominant_channel
from ccpulse.domain.retention import sum_contributions
from ccpulse.settings import Settings

__all__ = ["GENERATION_PARTITION", "RECENT_KEEP", "ReadModelStore", "generation_covers", "generation_marker_key",
           "generation_row_key", "interval_row"]

#: How often the consumer checks that Kafka is reachable and kept its data (seconds).
BROKER_CHECK_SECONDS = 2.0
#: Recent-contact rows kept (the newest by ``updated_at``); older ones are dropped on arrival of newer.
RECENT_KEEP = 5000

log = logging.getLogger("ccpulse.api")

#: The read-model partition that carries every generation's rows and marker, in publication order.
GENERATION_PARTITION = 0

SeriesKey = tuple[str, str]  # (dimension, entity)


def interval_row(dimension: str, entity: str, start: int, bucket: dict[str, Any]) -> dict[str, Any]:
    """The read-model row of a 15-minute bucket (what the workers publish for it)."""
    tops = bucket["tops"]
    return {"kind": "interval", "dimension": dimension, "id": entity, "start": int(start),
            "c": bucket["c"], "max_wait_ms": tops[0][0] if tops else None}


def generation_row_key(generation: str, bucket_key: str) -> str:
    """Key of a generation's row for ``bucket_key`` (``dimension|id|start``)."""
    return f"recomputed|{generation}|interval|{bucket_key}"


def generation_marker_key(generation: str) -> str:
    return f"generation|{generation}"


def generation_covers(marker: dict[str, Any], dimension: str, entity: str, start: int) -> bool:
    """Does the generation of ``marker`` decide the served row of this bucket?"""
    if dimension not in marker["dimensions"]:
        return False
    queues = marker.get("queues")
    if queues is not None and (dimension != "queue" or entity not in queues):
        return False
    return marker["from"] <= start < marker["to"]


_bucket_ident = split_bucket_key  # the entity is the middle part, whatever it holds (an id may contain "|")


#: Rows applied between two ``gc.freeze`` calls once caught up (:meth:`ReadModelStore.settle_heap`).
FREEZE_EVERY_ROWS = 100_000


class ReadModelStore:
    """Rows by kind, plus catch-up state for ``/readyz``."""

    def __init__(self, settings: Settings, servers: str | None = None) -> None:
        self.settings = settings
        self.servers = servers or settings.kafka_servers
        self.contacts: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, Any]] = {}
        # (dimension, id) -> bucket start -> {"c": counters, "max_wait_ms": ...}: the rows served
        self.intervals: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        self._live: dict[SeriesKey, dict[int, dict[str, Any]]] = {}  # the workers' rows
        self.totals = SeriesTotals(settings.zone)  # running sums of ``intervals`` (api/totals.py)
        # generation -> (dimension, id, start) -> row; committed or still waiting for its marker
        self.generation_rows: dict[str, dict[tuple[str, str, int], dict[str, Any]]] = {}
        self.generation_markers: dict[str, dict[str, Any]] = {}  # every marker read (committed or not)
        self.generations: dict[str, dict[str, Any]] = {}  # committed generations' markers
        # contact id -> drill-down row of a recent contact, at most ``recent_keep`` (the newest by updated_at)
        self.recent: dict[str, dict[str, Any]] = {}
        self.recent_keep = RECENT_KEEP
        self._recent_heap: list[tuple[float, str]] = []  # (updated_at, contact id), may hold stale entries
        self.rejected: Counter[tuple[str, str]] = Counter()  # (topic, reason) -> count
        self.alerts: dict[str, dict[str, Any]] = {}  # alert id -> latest record (cc.alerts)
        # customer id -> its retention contributions; and their sum over every customer (period key -> measures)
        self.retention_rows: dict[str, dict[str, dict[str, int]]] = {}
        self.retention_totals: dict[str, dict[str, int]] = {}
        self.workers: dict[str, dict[str, Any]] = {}  # worker id -> its processing stats row
        self.counter_floors: dict[tuple[str, ...], tuple[float, float]] = {}  # /metrics: series -> (period, served)
        self.lag: dict[str, int] = {}  # input topic -> messages the worker group has not processed
        self._event_mark: float | None = None
        self._event_mark_wall = 0.0
        self.rows_applied = 0
        self._frozen_at = 0  # rows_applied at the last settle_heap
        self.interval_changes = 0  # interval rows applied (the centre series' cache key)
        self._centre: tuple[tuple[int, int], dict[int, dict[str, Any]]] | None = None
        self.last_update: float | None = None  # wall clock of the last row applied
        self.ready = False
        self.not_ready_reason = "starting: reading the read model"
        self.lost_data = False  # the broker came back without data this store had read
        self._last_ends: dict[TopicPartition, int] = {}
        self._read_to: dict[TopicPartition, int] = {}  # one past the last offset read, by partition
        self._task: asyncio.Task[None] | None = None

    # ---- applying rows ------------------------------------------------------------------------
    def apply(self, key: bytes, value: bytes | None) -> None:
        """Apply one read-model message (an upsert, or a tombstone when ``value`` is None)."""
        kind, _, ident = key.decode().partition("|")
        row = orjson.loads(value) if value is not None else None
        rows = {"contact": self.contacts, "agent": self.agents, "worker": self.workers, "recent": self.recent}.get(kind)
        if rows is not None:
            if row is None:
                rows.pop(ident, None)
            elif kind == "recent":
                self._keep_recent(ident, row)  # bounded: keeps the newest rows only
            else:
                rows[ident] = row
        elif kind == "interval":
            self.interval_changes += 1
            dimension, entity, start = _bucket_ident(ident)
            interval_row = None if row is None else {"c": row["c"], "max_wait_ms": row.get("max_wait_ms")}
            for layer in (self._live, None if self._covered(dimension, entity, start) else self.intervals):
                if layer is not None:
                    series = layer.setdefault((dimension, entity), {})
                    old = series.pop(start, None) if interval_row is None else series.get(start)
                    if interval_row is not None:
                        series[start] = interval_row
                    if layer is self.intervals:
                        self.totals.replace((dimension, entity), start, old, interval_row)
        elif kind == "retention":
            # Keep the sum over all customers current: take the customer's old row back, add the new one.
            old = self.retention_rows.pop(ident, None)
            if old is not None:
                sum_contributions(self.retention_totals, old, -1)
            if row is not None:
                self.retention_rows[ident] = row["p"]
                sum_contributions(self.retention_totals, row["p"])
        elif kind == "recomputed":
            generation, _, bucket = ident.partition("|")
            self._generation_row(generation, _bucket_ident(bucket.partition("|")[2]), row)
        elif kind == "generation":
            self._generation_marker(ident, row)
        if row is not None:
            self._see_event_time(row.get("queued_at"), row.get("answered_at"), row.get("changed_at"), row.get("updated_at") if kind == "recent" else None)
        self.rows_applied += 1
        self.last_update = time.time()

    # ---- generations (ccpulse recompute) ---------------------------------------------------------
    def _covered(self, dimension: str, entity: str, start: int) -> bool:
        return any(generation_covers(m, dimension, entity, start) for m in self.generations.values())

    def _generation_row(self, generation: str, where: tuple[str, str, int], row: dict[str, Any] | None) -> None:
        rows = self.generation_rows.setdefault(generation, {})
        if row is None:
            rows.pop(where, None)
            if not rows:
                del self.generation_rows[generation]
            if generation in self.generations:  # not how a generation is withdrawn, but stay consistent
                self._serve()
            return
        rows[where] = {"c": row["c"], "max_wait_ms": row.get("max_wait_ms")}
        self._commit(generation)

    def _generation_marker(self, generation: str, marker: dict[str, Any] | None) -> None:
        if marker is None:  # withdrawn (superseded): its rows' tombstones follow
            self.generation_markers.pop(generation, None)
            self.generation_rows.pop(generation, None)
            if self.generations.pop(generation, None) is not None:
                self._serve()
            return
        self.generation_markers[generation] = marker
        self._commit(generation)

    def _commit(self, generation: str) -> None:
        """Serve a generation once its marker and all the rows it counts are here (atomically)."""
        marker = self.generation_markers.get(generation)
        if marker is None or generation in self.generations:
            return
        if len(self.generation_rows.get(generation, {})) >= marker["rows"]:
            self.generations[generation] = marker
            self._serve()
            log.info("serving recomputed generation %s (%d rows)", generation, marker["rows"])

    def _serve(self) -> None:
        """Rebuild the served rows: the live layer, overlaid by each committed generation, newest last."""
        served = {series_key: dict(series) for series_key, series in self._live.items()}
        for generation in sorted(self.generations):  # ids sort by creation time
            marker = self.generations[generation]
            for (dimension, entity), series in served.items():
                for start in [s for s in series if generation_covers(marker, dimension, entity, s)]:
                    del series[start]
            for (dimension, entity, start), value in self.generation_rows.get(generation, {}).items():
                served.setdefault((dimension, entity), {})[start] = value
        self.totals.rebuild(served)  # (no await in between: a reader sees both old or both new)
        self.intervals = served  # one assignment: readers see the old rows or the new ones, never a mix
        self.interval_changes += 1

    def centre_series(self) -> dict[int, dict[str, Any]]:
        """Every queue's series summed bucket by bucket (the centre), rebuilt only when an interval
        row changed since: the merge costs ~400 ms at 60 queues × 8 days, too long to pay per request
        on the event loop, and between two read-model batches every request shares one."""
        version = (id(self.intervals), self.interval_changes)
        if self._centre is None or self._centre[0] != version:
            from api.views import merged_series  # api.views imports this module
            self._centre = (version, merged_series(s for (d, _), s in list(self.intervals.items()) if d == "queue"))
        return self._centre[1]

    def apply_alert(self, key: bytes, value: bytes | None) -> None:
        """Apply one ``cc.alerts`` message (the latest record per alert id)."""
        if value is None:
            self.alerts.pop(key.decode(), None)
        else:
            self.alerts[key.decode()] = orjson.loads(value)

    # ---- event time -------------------------------------------------------------------------
    def _see_event_time(self, *times: float | None) -> None:
        latest = max((t for t in times if t is not None), default=None)
        if latest is not None and (self._event_mark is None or latest > self._event_mark):
            self._event_mark, self._event_mark_wall = latest, time.monotonic()

    def event_now(self) -> float:
        """Event time advanced by this process's clock: the newest event time seen in the read
        model plus the wall time elapsed since it was seen (the wall clock before any event).

        Live, it is the wall clock minus processing latency; replaying last week, it is last
        week's time — so waits and "current interval" follow the events, not the calendar.
        """
        if self._event_mark is None:
            return time.time()
        return self._event_mark + (time.monotonic() - self._event_mark_wall)

    def _keep_recent(self, contact_id: str, row: dict[str, Any]) -> None:
        """Upsert a recent row, then drop the oldest rows beyond ``recent_keep``."""
        row.setdefault("contact_id", contact_id)
        updated = float(row.get("updated_at") or 0.0)
        self.recent[contact_id] = row
        heapq.heappush(self._recent_heap, (updated, contact_id))
        while len(self.recent) > self.recent_keep and self._recent_heap:
            oldest, cid = heapq.heappop(self._recent_heap)
            current = self.recent.get(cid)
            if current is not None and float(current.get("updated_at") or 0.0) == oldest:
                del self.recent[cid]
        if len(self._recent_heap) > 4 * max(self.recent_keep, len(self.recent)):
            # Too many stale entries (rows updated or deleted since): rebuild from the live rows.
            self._recent_heap = [(float(r.get("updated_at") or 0.0), cid) for cid, r in self.recent.items()]
            heapq.heapify(self._recent_heap)

    # ---- views ------------------------------------------------------------------------------
    def queue_ids(self) -> list[str]:
        seen = {entity for dimension, entity in self.intervals if dimension == "queue"}
        seen.update(row["queue_id"] for row in self.contacts.values() if row.get("queue_id"))
        for row in self.agents.values():
            seen.update(row.get("queue_ids") or ())
        seen.update(self.settings.queues)
        return sorted(seen)

    def queue_channel(self, queue_id: str) -> str:
        """The channel a queue serves, from what was offered to it (voice if unknown)."""
        channel = dominant_channel(self.totals.total(("queue", queue_id)))
        if channel is None:
            channels = [row["channel"] for row in self.contacts.values() if row.get("queue_id") == queue_id]
            return channels[0] if channels else "voice"
        return channel

    # ---- consuming ----------------------------------------------------------------------------
    def start(self, lag: bool = True) -> None:
        self._task = asyncio.create_task(self._run(), name="read-model-consumer")
        self._lag_task = asyncio.create_task(self._lag_loop(), name="consumer-lag") if lag else None

    async def _lag_loop(self, every: float = 10.0) -> None:
        """Every ``every`` seconds: the worker group's lag on the input topics (end − committed)."""
        topics = self.settings.topics
        inputs = {topics.contact_events, topics.agent_events, topics.survey_events}
        while True:
            # Read the group's committed offsets as a (never subscribing) member would: the embedded
            # broker does not answer the admin client's offset fetch.
            consumer = AIOKafkaConsumer(bootstrap_servers=self.servers, group_id=self.settings.worker_id,
                                        enable_auto_commit=False)
            try:
                await consumer.start()
                while True:
                    await consumer._client.force_metadata_update()  # Kafka tells a bare consumer no topics
                    partitions = [TopicPartition(t, p) for t in sorted(inputs) for p in sorted(consumer.partitions_for_topic(t) or [])]
                    ends = await consumer.end_offsets(partitions) if partitions else {}
                    lag: dict[str, int] = {}
                    for tp, end in ends.items():
                        done = await consumer.committed(tp)
                        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - (done if done is not None and done >= 0 else 0))
                    self.lag = lag
                    await asyncio.sleep(every)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # lag is a nice-to-have: never let it disturb reads
                log.debug("consumer lag unavailable: %s", exc)
                self.lag = {}
                await asyncio.sleep(every)
            finally:
                await consumer.stop()

    async def stop(self) -> None:
        if getattr(self, "_lag_task", None) is not None:
            self._lag_task.cancel()  # type: ignore[union-attr]
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def _run(self) -> None:
        """Consume forever; reconnect after broker trouble, reporting not-ready meanwhile."""
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                self.ready = False
                self.not_ready_reason = f"cannot read the read model from Kafka at {self.servers}: {exc}"
                log.warning("%s; retrying in 2 s", self.not_ready_reason)
                await asyncio.sleep(2)

    async def _consume(self) -> None:
        topics = self.settings.topics
        consumer = AIOKafkaConsumer(bootstrap_servers=self.servers, enable_auto_commit=False,
                                    auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024)
        await consumer.start()
        try:
            partitions = []
            for topic in (topics.read_model, topics.deadletter, topics.alerts):
                found = consumer.partitions_for_topic(topic)
                if not found:
                    await consumer._client.force_metadata_update()  # the topic may have just been created
                    found = consumer.partitions_for_topic(topic) or set()
                partitions += [TopicPartition(topic, p) for p in sorted(found)]
            if not partitions:
                raise KafkaError(f"topics {topics.read_model} / {topics.deadletter} do not exist yet")
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            targets = await consumer.end_offsets(partitions)
            if self.ready is False and self.rows_applied:
                # A reconnect: start over so no tombstone is missed.
                self.contacts.clear(); self.agents.clear(); self.intervals.clear(); self.rejected.clear()
                self.totals.rebuild({})
                self._live.clear(); self.generation_rows.clear(); self.generation_markers.clear(); self.generations.clear()
                self.alerts.clear(); self.workers.clear()
                self.recent.clear(); self._recent_heap.clear()
                self.retention_rows.clear(); self.retention_totals.clear()
            caught_up = False
            checked = time.monotonic()
            while True:
                if self.lost_data:  # nothing read from here on would be right
                    await asyncio.sleep(1)
                    continue
                if time.monotonic() - checked >= BROKER_CHECK_SECONDS:
                    checked = time.monotonic()
                    if not await self._broker_ok(consumer, partitions, caught_up):
                        continue
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, messages in batches.items():
                    self._read_to[tp] = messages[-1].offset + 1
                    for message in messages:
                        if tp.topic == topics.deadletter:
                            self._count_rejection(message.value)
                        elif tp.topic == topics.alerts:
                            self.apply_alert(message.key, message.value)
                        else:
                            self.apply(message.key, message.value)
                if not caught_up:
                    positions = {tp: await consumer.position(tp) for tp in partitions}
                    if all(positions[tp] >= targets[tp] for tp in partitions):
                        caught_up = True
                        self.settle_heap(collect=True)
                        self.ready = True
                        self.not_ready_reason = ""
                        log.info("read model caught up: %d rows", self.rows_applied)
                elif self.rows_applied - self._frozen_at >= FREEZE_EVERY_ROWS:
                    self.settle_heap()
        finally:
            await consumer.stop()

    def settle_heap(self, collect: bool = False) -> None:
        """Take the rows read so far out of the cyclic garbage collector's full passes (``gc.freeze``).

        Why: a full pass over a read model of 590,000 rows took 340-750 ms here, and CPython starts
        one whenever the long-lived objects grew by a quarter, in whatever code allocates next: on
        the event loop, in the middle of a request. Rows are plain dicts and lists that never form
        cycles, and frozen objects are still freed by reference counting when a row is replaced; so
        freezing costs nothing but the rare cycle frozen before its collection. ``collect``: one full
        pass first (at start-up, before the API reports ready), so that no garbage is frozen then.
        """
        if collect:
            gc.collect()
        gc.freeze()
        self._frozen_at = self.rows_applied

    async def _broker_ok(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition], caught_up: bool) -> bool:
        """Is Kafka still there, with everything this store has read? Not-ready (with the reason)
        while it is unreachable; ready again once it answers, if it kept its data.

        A broker that comes back with offsets *behind* what this store has read lost data (the
        embedded broker keeps everything in memory): the rows served would no longer match Kafka
        and nothing can repair them from here, so the store stays not-ready and says why.
        """
        try:
            ends = await asyncio.wait_for(consumer.end_offsets(partitions), BROKER_CHECK_SECONDS * 2)
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            if self.ready or not self.not_ready_reason.startswith("lost contact"):
                log.warning("lost contact with Kafka at %s: %s", self.servers, exc or type(exc).__name__)
            self.ready = False
            self.not_ready_reason = f"lost contact with Kafka at {self.servers}; serving the last rows read"
            await asyncio.sleep(1)
            return False
        # End offsets never go down on a broker that keeps its log, and a partition this store has
        # read records from is never empty again. (Comparing them with this consumer's position would
        # not do: the embedded broker counts its end offset in batches. The second test does not
        # depend on when the last check ran: rows read after it are covered too.)
        behind = [tp for tp in partitions
                  if ends[tp] < self._last_ends.get(tp, 0) or (ends[tp] == 0 and self._read_to.get(tp, 0) > 0)]
        self._last_ends.update(ends)
        if behind:
            self.ready = False
            self.not_ready_reason = (
                f"Kafka at {self.servers} lost data: {behind[0].topic}[{behind[0].partition}] now ends before where it "
                "ended (a memory-only broker restarted?). The rows served are no longer Kafka's: restart the workers "
                "and this API once the events are replayed.")
            if self.lost_data is False:
                log.error(self.not_ready_reason)
            self.lost_data = True
            await asyncio.sleep(1)
            return False
        if caught_up and not self.ready:
            log.info("Kafka at %s is back", self.servers)
            self.ready, self.not_ready_reason = True, ""
        return True

    def _count_rejection(self, value: bytes | None) -> None:
        try:
            record = orjson.loads(value or b"{}")
            self.rejected[(record.get("topic", "?"), record.get("reason", "?"))] += 1
        except orjson.JSONDecodeError:
            self.rejected[("?", "?")] += 1
