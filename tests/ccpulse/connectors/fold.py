"""Connector output through the pure core (what the worker and ``ccpulse recompute`` run), for hand-worked figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ccpulse.domain.batch import fold_messages
from ccpulse.domain.buckets import interval_figures, merge_buckets
from ccpulse.settings import Settings

Figures = Callable[[str, str], dict[str, Any]]


def fold_figures(events: list[dict[str, Any]]) -> tuple[list[Any], Figures]:
    """Fold contract events in the order given; returns the rejected messages and a
    ``figures(dimension, entity)`` lookup of the summed interval figures (queue SLA defaults)."""
    settings = Settings()
    result = fold_messages([orjson.dumps(e) for e in events], settings)

    def figures(dimension: str, entity: str) -> dict[str, Any]:
        counters, wait = merge_buckets(b for k, b in result.buckets.items() if k.startswith(f"{dimension}|{entity}|"))
        return interval_figures(counters, wait, settings.queue(entity, "voice"))

    return result.rejected, figures


def reversed_within_seconds(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same events with each second's events delivered last-first (another arrival order)."""
    return sorted(events, key=lambda e: (e["occurred_at"][:19], -events.index(e)))
