"""Running sums of the served interval series: per local day, and over every retained bucket.

A wallboard's ``/api/v1/queues``, ``/api/v1/summary`` and a Prometheus scrape need, for every
queue, today's counters, the open cases (all retained buckets) and the queue's channel (what was
offered to it). Merging each queue's buckets per request made those reads grow with history
(~1 s at 500 queues x 8 days: docs/performance.md). The sums are kept as rows arrive instead —
the old row taken back, the new one added — so a read costs O(queues), whatever the history.

Sums of counters only: the figures are still derived by the pure formulas from summed counters
(never averaged ratios), and a day's longest wait is still the largest of its buckets' (a maximum
cannot be taken back), read from the day's buckets by their start.

Queues also keep sums per local day *and hour*, so the scrape's weekday and hour-of-day profiles
(``/metrics``) add up 8 days or 8 × 24 sums per queue instead of 768 buckets (2 s at 500 queues).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ccpulse.domain.intervals import interval_start
from ccpulse.domain.profiles import slot_of

__all__ = ["SeriesTotals"]

SeriesKey = tuple[str, str]  # (dimension, entity id)
Bucket = Mapping[str, Any]  # {"c": counters, "max_wait_ms": ...}


class SeriesTotals:
    """Sums of every series' bucket counters, by local day (``zone``) and over all its buckets."""

    def __init__(self, zone: Any, hourly: tuple[str, ...] = ("queue",)) -> None:
        self.zone = zone
        self.hourly = hourly  # the dimensions that also keep sums per local day and hour
        self.by_day: dict[SeriesKey, dict[int, dict[str, int]]] = {}
        # series -> (local day start, local hour) -> counters, for the dimensions in ``hourly``
        self.by_hour: dict[SeriesKey, dict[tuple[int, int], dict[str, int]]] = {}
        self.overall: dict[SeriesKey, dict[str, int]] = {}
        # buckets summed, per series and day: a day (a series) whose last bucket goes (retention) is
        # dropped, so a long-running API does not keep a zero-filled entry per series and past day
        self._buckets: dict[tuple[SeriesKey, Any], int] = {}
        self._hour_buckets: dict[tuple[SeriesKey, Any], int] = {}
        self._day_of: dict[int, int] = {}  # bucket start -> start of its local day (a cache)
        self._hour_of: dict[int, int] = {}  # bucket start -> its local hour (a cache)

    def day_of(self, start: int) -> int:
        day = self._day_of.get(start)
        if day is None:
            day = self._day_of[start] = int(interval_start(start, "1d", self.zone))
        return day

    def hour_of(self, start: int) -> int:
        """The local hour of day of a bucket (every UTC offset in use is a multiple of 15 minutes)."""
        hour = self._hour_of.get(start)
        if hour is None:
            hour = self._hour_of[start] = slot_of(start, "hour", self.zone)
        return hour

    def replace(self, key: SeriesKey, start: int, old: Bucket | None, new: Bucket | None) -> None:
        """Bucket ``start`` of series ``key`` changed from ``old`` to ``new`` (None: absent)."""
        if old is None and new is None:
            return
        day_start = self.day_of(start)
        days = self.by_day.setdefault(key, {})
        day = days.setdefault(day_start, {})
        _shift(day, old, new)
        _shift(self.overall.setdefault(key, {}), old, new)
        if key[0] in self.hourly:
            hours = self.by_hour.setdefault(key, {})
            slot = (day_start, self.hour_of(start))
            _shift(hours.setdefault(slot, {}), old, new)
            if not _still_summed(self._hour_buckets, (key, slot), old, new):
                del hours[slot]
                if not hours:
                    del self.by_hour[key]
        if not _still_summed(self._buckets, (key, day_start), old, new):
            del days[day_start]
            if not days:
                del self.by_day[key], self.overall[key]

    def rebuild(self, intervals: Mapping[SeriesKey, Mapping[int, Bucket]]) -> None:
        """Start over from ``intervals`` (the served rows were replaced as a whole)."""
        self.by_day.clear()
        self.overall.clear()
        self._buckets.clear()
        self.by_hour.clear()
        self._hour_buckets.clear()
        for key, series in intervals.items():
            for start, bucket in series.items():
                self.replace(key, start, None, bucket)

    def day(self, key: SeriesKey, day_start: int) -> dict[str, int]:
        """The counters of ``key``'s buckets in the local day starting at ``day_start`` (summed)."""
        return self.by_day.get(key, {}).get(day_start, {})

    def total(self, key: SeriesKey) -> dict[str, int]:
        """The counters of all ``key``'s retained buckets (summed)."""
        return self.overall.get(key, {})

    def profile(self, key: SeriesKey, by: str, start: int, end: int,
                measures: Collection[str] | None = None) -> list[dict[str, int]]:
        """Counters of ``key``'s buckets in the local days starting in [start, end), summed by local
        weekday (7 slots, 0 = Monday) or hour of day (24): ``ccpulse.domain.profiles.profile``'s
        sums for a range of whole days, from the running sums (``key``'s dimension in ``hourly``).
        ``measures``: only these counters (a scrape needs two of them)."""
        if by == "weekday":
            parts = ((slot_of(day, "weekday", self.zone), sums) for day, sums in self.by_day.get(key, {}).items()
                     if start <= day < end)
        elif by == "hour":
            parts = ((hour, sums) for (day, hour), sums in self.by_hour.get(key, {}).items() if start <= day < end)
        else:
            raise ValueError(f"unknown profile {by!r}; use weekday or hour")
        slots: list[dict[str, int]] = [{} for _ in range(7 if by == "weekday" else 24)]
        for slot, sums in parts:
            into = slots[slot]
            for measure in sums if measures is None else measures:
                into[measure] = into.get(measure, 0) + sums.get(measure, 0)
        return slots


def _shift(sums: dict[str, int], old: Bucket | None, new: Bucket | None) -> None:
    """Take ``old``'s counters out of ``sums`` and put ``new``'s in."""
    for bucket, sign in ((old, -1), (new, 1)):
        if bucket is not None:
            for measure, value in bucket["c"].items():
                sums[measure] = sums.get(measure, 0) + sign * value


def _still_summed(counts: dict[tuple[SeriesKey, Any], int], slot: tuple[SeriesKey, Any], old: Bucket | None,
                  new: Bucket | None) -> bool:
    """Count the buckets summed in ``slot``; False (and forgotten) once none is left."""
    count = counts.get(slot, 0) + (new is not None) - (old is not None)
    if count:
        counts[slot] = count
        return True
    counts.pop(slot, None)
    return False
