"""When to look at a stored state again: a per-partition schedule over a table.

Housekeeping that acts on stored states by event time (settling and expiring contacts, closing and
deleting interval buckets) used to walk the whole table each time the watermark moved. A walk
deserialises every state on a rocksdict store, and the states grow with the data: on a rocksdict
worker 200,000 events in, the contact walk was 62 % of its busy time, and one walk over 7.68 M
buckets takes 9 s (docs/performance.md). Instead each state is scheduled for the event time at which
it is next due, and a visit takes only the states whose time has come.

The schedule lives in memory only (a cache over the table, never the truth): a partition is walked
whole at its first visit after a start or recovery (``reset``) and every ``walk_every`` visits
anyway, so whatever a schedule missed is found within that many visits.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["FULL_WALK_EVERY", "DueSchedule"]

FULL_WALK_EVERY = 60


class _Table(Protocol):
    def items(self) -> Any: ...
    def get(self, key: str) -> Any: ...


class DueSchedule:
    """Per partition, a heap of (due time, key) over ``table``, whose states carry their partition in
    ``"p"``. A key has one live entry: scheduling it again for a later time than its entry's keeps the
    earlier one (the visit then looks and schedules it again), for an earlier time adds a new one."""

    def __init__(self, table: _Table, walk_every: int = FULL_WALK_EVERY) -> None:
        self.table = table
        self.walk_every = walk_every
        self._heaps: dict[int, list[tuple[float, str]]] = {}  # partition -> heap of (when, key)
        self._entry: dict[int, dict[str, float]] = {}  # partition -> key -> its live entry's time
        self._since_walk: dict[int, int] = {}  # partition -> visits since it was last walked whole

    def add(self, partition: int | None, key: str, when: float) -> None:
        """Visit ``key`` (of ``partition``) once the watermark reaches ``when``."""
        if partition is None:
            return
        entry = self._entry.setdefault(partition, {})
        if entry.get(key, math.inf) > when:
            entry[key] = when
            heapq.heappush(self._heaps.setdefault(partition, []), (when, key))

    def reset(self) -> None:
        """Partitions may have moved (a start, a recovery): walk each whole at its next visit."""
        self._since_walk.clear()

    def due(self, marks: Mapping[int, float]) -> list[tuple[str, Any]]:
        """(key, state) of the partitions in ``marks`` that may be due at their watermark: every state
        of a partition walked whole this time, else those whose scheduled time has come. A key taken
        is off the schedule until it is added again."""
        walk = {p for p in marks if self._since_walk.get(p, self.walk_every) >= self.walk_every}
        out: list[tuple[str, Any]] = []
        if walk:
            for partition in walk:
                self._heaps[partition], self._entry[partition], self._since_walk[partition] = [], {}, 0
            for key, state in list(self.table.items()):  # one pass for every partition walked
                if state.get("p") in walk:
                    out.append((key, state))
        for partition, mark in marks.items():
            if partition in walk:
                continue
            self._since_walk[partition] += 1
            heap, entry = self._heaps.get(partition, []), self._entry.get(partition, {})
            while heap and heap[0][0] <= mark:
                when, key = heapq.heappop(heap)
                if entry.get(key) != when:
                    continue  # superseded by an earlier entry, already looked at
                del entry[key]
                state = self.table.get(key)
                if state is not None and state.get("p") == partition:
                    out.append((key, state))
        return out
