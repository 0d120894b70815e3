"""The read model's rows in memory, and the pure ``apply`` that rebuilds them from the topic.

Kept apart from Kafka so that every reader applies rows the same way: the API and the worker's
alert evaluator feed it from ``cc.read-model`` (``ccpulse.readmodel.consumer``), ``ccpulse
recompute`` feeds it the messages it read and the generation it is about to publish, to compare.

Interval rows come from two writers. The workers publish ``interval|<bucket>`` rows
(the *live* layer). ``ccpulse recompute`` publishes a *generation*: its rows under
``recomputed|<generation>|interval|<bucket>`` and then a commit marker
``generation|<generation>`` (range, dimensions, queues, row count), all on partition
``GENERATION_PARTITION``. Rows of a generation are buffered and served only once its
marker has arrived with all of them; from then on, every bucket the marker covers is
served from the newest covering generation (absent if the generation has no row for
it), whatever the workers publish for it later, and every other bucket from the live
layer. What is served is a pure function of the rows retained in the topic, so a
restart rebuilds the same answer; a tombstoned marker withdraws its generation.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import orjson

from ccpulse.domain.buckets import dominant_channel, longest_wait
from ccpulse.domain.intervals import bucket_start, bucket_starts, split_bucket_key
from ccpulse.domain.live import QueueLive, queue_live
from ccpulse.domain.retention import sum_contributions
from ccpulse.readmodel.rows import generation_covers
from ccpulse.readmodel.totals import SeriesTotals
from ccpulse.readmodel.views import QueueFigures, centre_live, merged_series, queue_figures
from ccpulse.settings import Settings

T = TypeVar("T")

__all__ = ["RECENT_KEEP", "ReadModel"]

#: Recent-contact rows kept (the newest by ``updated_at``); older ones are dropped on arrival of newer.
RECENT_KEEP = 5000

log = logging.getLogger("ccpulse.readmodel")

SeriesKey = tuple[str, str]  # (dimension, entity)

_bucket_ident = split_bucket_key  # the entity is the middle part, whatever it holds (an id may contain "|")


class ReadModel:
    """Rows by kind, as the read-model messages applied so far leave them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.contacts: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, Any]] = {}
        # (dimension, id) -> bucket start -> {"c": counters, "max_wait_ms": ...}: the rows served
        self.intervals: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        self._live: dict[SeriesKey, dict[int, dict[str, Any]]] = {}  # the workers' rows
        self.totals = SeriesTotals(settings.zone)  # running sums of ``intervals`` (ccpulse/readmodel/totals.py)
        # generation -> (dimension, id, start) -> row; committed or still waiting for its marker
        self.generation_rows: dict[str, dict[tuple[str, str, int], dict[str, Any]]] = {}
        self.generation_markers: dict[str, dict[str, Any]] = {}  # every marker read (committed or not)
        self.generations: dict[str, dict[str, Any]] = {}  # committed generations' markers
        # contact id -> drill-down row of a recent contact, at most ``recent_keep`` (the newest by updated_at)
        self.recent: dict[str, dict[str, Any]] = {}
        self.recent_keep = RECENT_KEEP
        self._recent_heap: list[tuple[float, str]] = []  # (updated_at, contact id), may hold stale entries
        self.alerts: dict[str, dict[str, Any]] = {}  # alert id -> latest record (cc.alerts)
        # customer id -> its retention contributions; and their sum over every customer (period key -> measures)
        self.retention_rows: dict[str, dict[str, dict[str, int]]] = {}
        self.retention_totals: dict[str, dict[str, int]] = {}
        self.workers: dict[str, dict[str, Any]] = {}  # worker id -> its processing stats row
        self._event_mark: float | None = None
        self._event_mark_wall = 0.0
        self.rows_applied = 0
        self.interval_changes = 0  # interval rows applied (the centre series' cache key)
        self._centre: tuple[tuple[int, int], dict[int, dict[str, Any]]] | None = None
        # What reads derive per queue, kept until what it derives from changes (``queue_figures``):
        self._epoch = 0  # bumped when the served rows are replaced as a whole (_serve, clear)
        self.queue_versions: dict[str, int] = {}  # queue -> its served interval rows applied so far
        self.series_added = 0  # served series created by ``apply`` (queue_ids may grow)
        self.live_changes = 0  # contact and agent rows applied (the live figures' cache key)
        self._figures: dict[str, tuple[tuple[Any, ...], QueueFigures]] = {}
        self._day_waits: dict[str, tuple[tuple[int, int, int], int | None]] = {}
        self._derived: dict[str, tuple[tuple[Any, ...], Any]] = {}  # queue ids, live figures
        self._per_queue: dict[tuple[str, str], tuple[tuple[Any, ...], Any]] = {}  # (what, queue) -> (key, value)
        self.last_update: float | None = None  # wall clock of the last row applied

    def clear(self) -> None:
        """Forget every row (to read the topic again from its start)."""
        self.contacts.clear(); self.agents.clear(); self.intervals.clear()
        self.totals.rebuild({})
        self._live.clear(); self.generation_rows.clear(); self.generation_markers.clear(); self.generations.clear()
        self.alerts.clear(); self.workers.clear()
        self.recent.clear(); self._recent_heap.clear()
        self.retention_rows.clear(); self.retention_totals.clear()
        self._epoch += 1; self._figures.clear(); self._day_waits.clear(); self._derived.clear()
        self._per_queue.clear()

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
            if kind in ("contact", "agent"):
                self.live_changes += 1
        elif kind == "interval":
            self.interval_changes += 1
            dimension, entity, start = _bucket_ident(ident)
            interval_row = None if row is None else {"c": row["c"], "max_wait_ms": row.get("max_wait_ms")}
            for layer in (self._live, None if self._covered(dimension, entity, start) else self.intervals):
                if layer is not None:
                    if layer is self.intervals:
                        if dimension == "queue":
                            self.queue_versions[entity] = self.queue_versions.get(entity, 0) + 1
                        if (dimension, entity) not in layer:
                            self.series_added += 1
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

    def apply_alert(self, key: bytes, value: bytes | None) -> None:
        """Apply one ``cc.alerts`` message (the latest record per alert id)."""
        if value is None:
            self.alerts.pop(key.decode(), None)
        else:
            self.alerts[key.decode()] = orjson.loads(value)

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
        self._epoch += 1

    def centre_series(self) -> dict[int, dict[str, Any]]:
        """Every queue's series summed bucket by bucket (the centre), rebuilt only when an interval
        row changed since: the merge costs ~400 ms at 60 queues × 8 days, too long to pay per request
        on the event loop, and between two read-model batches every request shares one."""
        version = (id(self.intervals), self.interval_changes)
        if self._centre is None or self._centre[0] != version:
            self._centre = (version, merged_series(s for (d, _), s in list(self.intervals.items()) if d == "queue"))
        return self._centre[1]

    # ---- figures derived once per change -------------------------------------------------------
    def _queue_key(self, queue_id: str) -> tuple[int, int]:
        """Changes whenever the served rows of ``queue_id`` may have changed."""
        return self._epoch, self.queue_versions.get(queue_id, 0)

    def queue_figures(self, queue_id: str, now: float) -> QueueFigures:
        """A queue's current interval, today, staffing and open cases (``views.queue_figures``),
        derived again only when its rows, its channel or the 15-minute bucket of ``now`` changed:
        deriving them for 500 queues on every /api/v1/queues, scrape and wallboard refresh took
        ~75 ms, and between two changes of a queue every read shares one derivation."""
        channel = self.queue_channel(queue_id)
        key = (*self._queue_key(queue_id), bucket_start(now), channel)
        cached = self._figures.get(queue_id)
        if cached is None or cached[0] != key:
            cached = self._figures[queue_id] = (key, queue_figures(self, queue_id, channel, now))
        return cached[1]

    def warm_figures(self, now: float | None = None) -> int:
        """Derive every queue's figures that a change or a new 15-minute bucket made stale, before
        a reader asks (returns how many were derived). Why: the first /api/v1/queues after a start
        derived 500 queues' figures (129 ms p99 at 10,000 agents x 500 queues x 8 days, 28 ms
        warm); called after each batch of rows, a queue's figures cost ~0.15 ms once per change
        instead of a request paying for all of them at once."""
        now = self.event_now() if now is None else now
        stale = [q for q in self.queue_ids()
                 if (cached := self._figures.get(q)) is None
                 or cached[0] != (*self._queue_key(q), bucket_start(now), self.queue_channel(q))]
        for queue_id in stale:
            self.queue_figures(queue_id, now)
        return len(stale)

    def day_longest_wait(self, queue_id: str, day_start: int) -> int | None:
        """The longest wait of ``queue_id``'s buckets in the local day from ``day_start`` (a
        maximum cannot be taken back as a row changes: read again from the day's 96 buckets,
        only when the queue's rows changed)."""
        key = (*self._queue_key(queue_id), day_start)
        cached = self._day_waits.get(queue_id)
        if cached is None or cached[0] != key:
            series = self.intervals.get(("queue", queue_id), {})
            present = [b for b in map(series.get, bucket_starts(day_start, "1d", self.settings.zone)) if b is not None]
            cached = self._day_waits[queue_id] = (key, longest_wait(present))
        return cached[1]

    def queue_derived(self, what: str, queue_id: str, extra: tuple[Any, ...], build: Callable[[], T]) -> T:
        """``build()``, a figure derived from ``queue_id``'s interval rows alone (and ``extra``),
        kept until those rows or ``extra`` change: /metrics' response-time profiles, 26 samples of
        ~0.2 ms per queue, were derived again for every queue on every scrape."""
        key = (*self._queue_key(queue_id), *extra)
        cached = self._per_queue.get((what, queue_id))
        if cached is None or cached[0] != key:
            cached = self._per_queue[what, queue_id] = (key, build())
        return cast(T, cached[1])

    def _cached(self, name: str, key: tuple[Any, ...], build: Any) -> Any:
        cached = self._derived.get(name)
        if cached is None or cached[0] != key:
            cached = self._derived[name] = (key, build())
        return cached[1]

    def queue_live(self) -> dict[str, QueueLive]:
        """``queue_live`` of every known queue, counted again only when a contact or agent row
        changed (10,000 agents: ~20 ms a count). Shared: callers copy what they change."""
        return self._cached("live", (self.live_changes, *self._ids_key()), lambda: queue_live(
            self.queue_ids(), self.contacts.values(), self.agents.values()))

    def centre_live(self) -> dict[str, Any]:
        """``views.centre_live`` of every row, counted again only when a contact or agent row changed."""
        return self._cached("centre", (self.live_changes,), lambda: centre_live(self.contacts.values(), self.agents.values()))

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
    def _ids_key(self) -> tuple[int, int, int]:
        return self._epoch, self.series_added, self.live_changes

    def queue_ids(self) -> list[str]:
        """Every queue with rows, contacts or agents, or configured; listed again only when a
        series was added or a contact or agent row changed (~10 ms at 10,000 agents)."""
        return list(self._cached("ids", self._ids_key(), self._queue_ids))

    def _queue_ids(self) -> list[str]:
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
