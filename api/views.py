"""Turning read-model rows into API responses (derivations only; rules live in ccpulse.domain)."""

from __future__ import annotations

import time
from typing import Any

from ccpulse.domain.buckets import interval_figures, merge_buckets, rollup
from ccpulse.domain.intervals import interval_end, interval_start, iso
from ccpulse.domain.live import queue_live
from api.store import ReadModelStore

__all__ = ["agent_view", "interval_rows", "queue_views"]


def _interval_row(store: ReadModelStore, queue_id: str, start: float, end: float, granularity: str,
                  counters: dict[str, int], max_wait: int | None) -> dict[str, Any]:
    sla = store.settings.queue(queue_id, store.queue_channel(queue_id))
    return {"interval_start": iso(start), "interval_end": iso(end), "granularity": granularity,
            **interval_figures(counters, max_wait, sla)}


def interval_rows(store: ReadModelStore, queue_id: str, granularity: str, start: float, end: float) -> list[dict[str, Any]]:
    """The queue's intervals of ``granularity`` overlapping [start, end) that have data."""
    series = store.intervals.get(("queue", queue_id), {})
    zone = store.settings.zone
    return [_interval_row(store, queue_id, s, e, granularity, counters, max_wait)
            for s, e, counters, max_wait in rollup(series, granularity, zone, start, end)]


def _current(store: ReadModelStore, queue_id: str, granularity: str, now: float) -> dict[str, Any]:
    zone = store.settings.zone
    start = interval_start(now, granularity, zone)
    end = interval_end(start, granularity, zone)
    series = store.intervals.get(("queue", queue_id), {})
    counters, max_wait = merge_buckets(b for s, b in series.items() if start <= s < end)
    return _interval_row(store, queue_id, start, end, granularity, counters, max_wait)


def queue_views(store: ReadModelStore, now: float | None = None, only: str | None = None) -> list[dict[str, Any]]:
    """Live state, current 15-minute interval and today's figures of every (or one) queue."""
    now = time.time() if now is None else now
    ids = [only] if only else store.queue_ids()
    live = queue_live(ids, store.contacts.values(), store.agents.values())
    views = []
    for queue_id in ids:
        channel = store.queue_channel(queue_id)
        sla = store.settings.queue(queue_id, channel)
        state = live[queue_id]
        oldest = state.pop("oldest_queued_at")
        views.append({
            "queue_id": queue_id,
            "name": sla.name or queue_id,
            "channel": channel,
            "sl_threshold_seconds": sla.sl_threshold_seconds,
            "sl_target": sla.sl_target,
            "sl_formula": sla.sl_formula,
            "live": {**state, "oldest_queued_at": iso(oldest) if oldest is not None else None,
                     "longest_wait_seconds": round(max(0.0, now - oldest), 3) if oldest is not None else None},
            "current_interval": _current(store, queue_id, "15m", now),
            "today": _current(store, queue_id, "1d", now),
        })
    return views


def agent_view(row: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "agent_id": row["agent_id"],
        "state": row["state"],
        "reason": row.get("reason"),
        "since": iso(row["since"]),
        "time_in_state_seconds": round(max(0.0, now - row["since"]), 3),
        "queue_ids": row.get("queue_ids") or [],
        "team": row.get("team"),
        "site": row.get("site"),
    }
