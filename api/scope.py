"""A read-only view of the read model limited to a token's queues.

Routes and views read the store through the same attributes whatever the caller,
so limiting what a queue-scoped token sees happens here, once, and every endpoint
(lists, details, intervals, surveys, alerts, the stream, metrics) inherits it.

What a queue-scoped token sees:
- queues, waiting contacts, recent contacts and alerts of its queues;
- agents staffed *only* on its queues (an agent shared with another client's queues
  would reveal that client's traffic through the agent's own figures), and teams made
  of those agents;
- channel figures summed over its queues only;
- nothing process-wide (dead letters, worker stats, consumer lag).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from api.store import ReadModelStore
from api.views import merged_series
from ccpulse.settings import Settings

__all__ = ["ScopedStore", "scoped"]


class ScopedStore:
    """The parts of a :class:`ReadModelStore` a token limited to ``queues`` may see."""

    def __init__(self, store: ReadModelStore, queues: frozenset[str]) -> None:
        self._store = store
        self._queues = queues
        self.settings: Settings = store.settings
        self.counter_floors = store.counter_floors  # same series, same values: sharing floors is correct
        # Process-wide figures are not any one client's business.
        self.rejected: dict[tuple[str, str], int] = {}
        self.workers: dict[str, dict[str, Any]] = {}
        self.lag: dict[str, int] = {}

    # ---- state of the underlying store ----------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._store.ready

    @property
    def not_ready_reason(self) -> str:
        return self._store.not_ready_reason

    @property
    def rows_applied(self) -> int:
        return self._store.rows_applied

    @property
    def last_update(self) -> float | None:
        return self._store.last_update

    def event_now(self) -> float:
        return self._store.event_now()

    # ---- filtered rows ---------------------------------------------------------------------
    def _agent_visible(self, row: dict[str, Any]) -> bool:
        queues = row.get("queue_ids") or ()
        return bool(queues) and all(q in self._queues for q in queues)

    @cached_property
    def contacts(self) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self._store.contacts.items() if r.get("queue_id") in self._queues}

    @cached_property
    def agents(self) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self._store.agents.items() if self._agent_visible(r)}

    @cached_property
    def recent(self) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self._store.recent.items() if r.get("queue_id") in self._queues}

    @cached_property
    def alerts(self) -> dict[str, dict[str, Any]]:
        return {k: a for k, a in self._store.alerts.items() if a.get("queue_id") in self._queues}

    @cached_property
    def intervals(self) -> dict[tuple[str, str], dict[int, dict[str, Any]]]:
        store = self._store
        out: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        by_channel: dict[str, list[dict[int, dict[str, Any]]]] = {}
        for (dimension, entity), series in store.intervals.items():
            if dimension == "queue" and entity in self._queues:
                out[(dimension, entity)] = series
                by_channel.setdefault(store.queue_channel(entity), []).append(series)
            elif dimension == "agent" and entity in self.agents:
                out[(dimension, entity)] = series
        for channel, series_list in by_channel.items():
            out[("channel", channel)] = merged_series(series_list)
        return out

    @property
    def totals(self) -> Any:
        """The store's running sums: read for queue series only, which are the store's own here."""
        return self._store.totals

    def queue_ids(self) -> list[str]:
        return [q for q in self._store.queue_ids() if q in self._queues]

    def queue_channel(self, queue_id: str) -> str:
        return self._store.queue_channel(queue_id)


def scoped(store: ReadModelStore, queues: frozenset[str] | None) -> ReadModelStore | ScopedStore:
    """``store`` itself for an unscoped caller, else its view limited to ``queues``."""
    return store if queues is None else ScopedStore(store, queues)
