"""Running sums of the served interval series: per local day, and over every retained bucket.

A wallboard's ``/api/v1/queues``, ``/api/v1/summary`` and a Prometheus scrape need, for every
queue, today's counters, the open cases (all retained buckets) and the queue's channel (what was
offered to it). Merging each queue's buckets per request made those reads grow with history
(~1 s at 500 queues x 8 days: docs/performance.md). The sums are kept as rows arrive instead —
the old row taken back, the new one added — so a read costs O(queues), whatever the history.

Sums of counters only: the figures are still derived by the pure formulas from summed counters
(never averaged ratios), and a day's longest wait is still the largest of its buckets' (a maximum
cannot be taken back), read from the day's buckets by their start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccpulse.domain.intervals import interval_start

__all__ = ["SeriesTotals"]

SeriesKey = tuple[str, str]  # (dimension, entity id)
Bucket = Mapping[str, Any]  # {"c": counters, "max_wait_ms": ...}


class SeriesTotals:
    """Sums of every series' bucket counters, by local day (``zone``) and over all its buckets."""

    def __init__(self, zone: Any) -> None:
        self.zone = zone
        self.by_day: dict[SeriesKey, dict[int, dict[str, int]]] = {}
        self.overall: dict[SeriesKey, dict[str, int]] = {}
        # buckets summed, per series and day: a day (a series) whose last bucket goes (retention) is
        # dropped, so a long-running API does not keep a zero-filled entry per series and past day
        self._buckets: dict[tuple[SeriesKey, int], int] = {}
        self._day_of: dict[int, int] = {}  # bucket start -> start of its local day (a cache)

    def day_of(self, start: int) -> int:
        day = self._day_of.get(start)
        if day is None:
            day = self._day_of[start] = int(interval_start(start, "1d", self.zone))
        return day

    def replace(self, key: SeriesKey, start: int, old: Bucket | None, new: Bucket | None) -> None:
        """Bucket ``start`` of series ``key`` changed from ``old`` to ``new`` (None: absent)."""
        if old is None and new is None:
            return
        day_start = self.day_of(start)
        days = self.by_day.setdefault(key, {})
        day = days.setdefault(day_start, {})
        overall = self.overall.setdefault(key, {})
        for bucket, sign in ((old, -1), (new, 1)):
            if bucket is not None:
                for measure, value in bucket["c"].items():
                    day[measure] = day.get(measure, 0) + sign * value
                    overall[measure] = overall.get(measure, 0) + sign * value
        count = self._buckets.get((key, day_start), 0) + (new is not None) - (old is not None)
        if count:
            self._buckets[(key, day_start)] = count
            return
        self._buckets.pop((key, day_start), None)
        del days[day_start]
        if not days:
            del self.by_day[key], self.overall[key]

    def rebuild(self, intervals: Mapping[SeriesKey, Mapping[int, Bucket]]) -> None:
        """Start over from ``intervals`` (the served rows were replaced as a whole)."""
        self.by_day.clear()
        self.overall.clear()
        self._buckets.clear()
        for key, series in intervals.items():
            for start, bucket in series.items():
                self.replace(key, start, None, bucket)

    def day(self, key: SeriesKey, day_start: int) -> dict[str, int]:
        """The counters of ``key``'s buckets in the local day starting at ``day_start`` (summed)."""
        return self.by_day.get(key, {}).get(day_start, {})

    def total(self, key: SeriesKey) -> dict[str, int]:
        """The counters of all ``key``'s retained buckets (summed)."""
        return self.overall.get(key, {})

