"""Weekday and hour-of-day profiles: "how do we do on Mondays?", "what happens at 10:00?".

A profile groups the 15-minute buckets of a date range by the **local** weekday or hour of
day (in the configured IANA zone) at which each bucket starts, sums their counters, and derives
the figures from the sums with the same formulas as every interval row — ratios of sums, never
averages of ratios: Monday's service level over four weeks is (Σ answered within) / (Σ …) of
all four Mondays, not the mean of four daily service levels.

Every UTC offset in use is a multiple of 15 minutes, so each bucket lies within one local hour;
on a DST change day the repeated hour collects both of its occurrences and the skipped one none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ccpulse.domain.buckets import interval_figures, merge_buckets
from ccpulse.domain.calendar import WEEKDAYS
from ccpulse.domain.intervals import BUCKET_SECONDS
from ccpulse.settings import QueueSettings

__all__ = ["PROFILE_BY", "PROFILE_FIELDS", "ProfileBy", "profile", "profile_rows", "slot_label", "slot_of"]

ProfileBy = Literal["weekday", "hour"]
PROFILE_BY: tuple[str, ...] = ("weekday", "hour")

#: The figures of a profile row (a subset of ``buckets.interval_figures``), in CSV column order.
PROFILE_FIELDS: tuple[str, ...] = (
    "offered", "answered", "abandoned", "handled", "asa_seconds", "response_time_seconds", "service_level",
    "aht_seconds", "csat", "csat_responses", "nps", "nps_responses", "cases_resolved", "avg_resolution_seconds",
)


def _slots(by: str) -> int:
    if by == "weekday":
        return 7
    if by == "hour":
        return 24
    raise ValueError(f"unknown profile {by!r}; use weekday or hour")


def slot_of(t: float, by: str, zone: ZoneInfo) -> int:
    """The local weekday (0 = Monday) or hour of day (0–23) of instant ``t`` in ``zone``."""
    local = datetime.fromtimestamp(t, zone)
    _slots(by)
    return local.weekday() if by == "weekday" else local.hour


def slot_label(slot: int, by: str) -> str:
    """``mon`` … ``sun`` for weekdays, ``00:00`` … ``23:00`` for hours."""
    _slots(by)
    return WEEKDAYS[slot] if by == "weekday" else f"{slot:02d}:00"


def profile(series: Mapping[int, Mapping[str, Any]], by: str, zone: ZoneInfo, start: float,
            end: float) -> list[tuple[int, dict[str, int], int | None]]:
    """(slot, summed counters, max wait ms) for every weekday or hour, in slot order.

    Buckets (keyed by start, as in the read model) overlapping [start, end) count in the slot of
    their local start. Slots without data are present with empty counters, so a chart always has
    all seven days or 24 hours.
    """
    groups: list[list[Mapping[str, Any]]] = [[] for _ in range(_slots(by))]
    for bucket_start_, bucket in series.items():
        if bucket_start_ + BUCKET_SECONDS > start and bucket_start_ < end:
            groups[slot_of(bucket_start_, by, zone)].append(bucket)
    out = []
    for slot, buckets in enumerate(groups):
        counters, max_wait = merge_buckets(buckets)
        out.append((slot, counters, max_wait))
    return out


def profile_rows(series: Mapping[int, Mapping[str, Any]], by: str, zone: ZoneInfo, start: float, end: float,
                 sla: QueueSettings) -> list[dict[str, Any]]:
    """The profile's rows: ``slot``, ``label`` and :data:`PROFILE_FIELDS` from the summed counters.

    ``response_time_seconds`` is the mean wait of answered contacts on each queue's SLA clock (for
    email: time to first response in business hours); ``asa_seconds`` the same in wall time.
    """
    rows = []
    for slot, counters, max_wait in profile(series, by, zone, start, end):
        figures = interval_figures(counters, max_wait, sla)
        figures["response_time_seconds"] = figures["asa_business_seconds"]
        rows.append({"slot": slot, "label": slot_label(slot, by), **{name: figures[name] for name in PROFILE_FIELDS}})
    return rows
