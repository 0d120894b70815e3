"""A read-only view of the read model limited to a token's queues.

Routes and views read the store through the same attributes whatever the caller,
so limiting what a queue-scoped token sees happens here, once, and every endpoint
(lists, details, intervals, surveys, alerts, the stream, metrics) inherits it.

What a queue-scoped token sees:
- queues, waiting contacts, recent contacts and alerts of its queues;
- agents staffed now on at least one of its queues, with ``queue_ids`` cut to its queues,
  and their interval figures on its queues only: the ``agentq`` series (an agent's work per
  queue, see ccpulse.domain.intervals) of its queues summed — never the agent's own series,
  which holds their work on every queue;
- no time in state (available, on contact, after-contact work, away) and so no occupancy or
  utilization: time in state belongs to the agent, not to a queue, and an agent's time on a
  contact of another client's queue must not show;
- teams made of those agents, summed the same way; channel figures summed over its queues;
- nothing process-wide (dead letters, worker stats, consumer lag).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cached_property, partial
from typing import Any, TypeVar

from api.store import ReadModelStore
from ccpulse.domain.live import QueueLive
from ccpulse.readmodel.views import QueueFigures, centre_live, merged_series
from ccpulse.domain.intervals import AGENT_QUEUE, split_agent_queue
from ccpulse.settings import Settings

T = TypeVar("T")

__all__ = ["ScopedStore", "scoped"]


class LazySeries(dict):  # type: ignore[type-arg]
    """Series by (dimension, id) whose merged ones (a channel over the token's queues, an agent over
    them) are summed on first access, not up front: most requests read a few series, and summing
    every channel and agent for each request of a limited token cost ~300 ms at 60 queues × 8 days."""

    def __init__(self, eager: dict, lazy: dict) -> None:
        super().__init__(eager)
        self._lazy = lazy

    def _force(self, key: Any) -> None:
        make = self._lazy.pop(key, None)
        if make is not None:
            dict.__setitem__(self, key, make())

    def __getitem__(self, key: Any) -> Any:
        self._force(key)
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._force(key)
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self._lazy

    def __iter__(self) -> Iterator[Any]:
        return iter([*dict.keys(self), *self._lazy])

    def keys(self) -> list[Any]:  # type: ignore[override]
        return list(self)

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._lazy)

    def items(self) -> list[tuple[Any, Any]]:  # type: ignore[override]
        return [(key, self[key]) for key in self]

    def values(self) -> list[Any]:  # type: ignore[override]
        return [self[key] for key in self]


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
    @cached_property
    def contacts(self) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self._store.contacts.items() if r.get("queue_id") in self._queues}

    @cached_property
    def agents(self) -> dict[str, dict[str, Any]]:
        """Agents staffed now on one of the token's queues, their queue list cut to those queues."""
        out = {}
        for agent_id, row in self._store.agents.items():
            mine = [q for q in row.get("queue_ids") or () if q in self._queues]
            if mine:
                out[agent_id] = {**row, "queue_ids": mine}
        return out

    def agent_visible(self, agent_id: str | None) -> bool:
        """May this token see ``agent_id``: staffed on one of its queues now, or with work on them."""
        return agent_id is not None and (agent_id in self.agents or ("agent", agent_id) in self.intervals)

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
        by_agent: dict[str, list[dict[int, dict[str, Any]]]] = {}
        for (dimension, entity), series in store.intervals.items():
            if dimension == "queue" and entity in self._queues:
                out[(dimension, entity)] = series
                by_channel.setdefault(store.queue_channel(entity), []).append(series)
            elif dimension == AGENT_QUEUE:
                agent_id, queue_id = split_agent_queue(entity)
                if queue_id in self._queues:
                    by_agent.setdefault(agent_id, []).append(series)
        lazy: dict[tuple[str, str], Callable[[], dict[int, dict[str, Any]]]] = {}
        for channel, series_list in by_channel.items():
            lazy[("channel", channel)] = partial(merged_series, series_list)
        for agent_id, series_list in by_agent.items():
            # An agent's figures here are their work on these queues: the agentq series summed
            # (one queue: the series itself, shared, not copied).
            one = series_list[0]
            # mypy cannot infer a lambda whose parameter has a default (the loop's current series, bound here)
            lazy[("agent", agent_id)] = (lambda one=one: one) if len(series_list) == 1 else partial(merged_series, series_list)  # type: ignore[misc]
        return LazySeries(out, lazy)

    @property
    def totals(self) -> Any:
        """The store's running sums: read for queue series only, which are the store's own here."""
        return self._store.totals

    def queue_ids(self) -> list[str]:
        return [q for q in self._store.queue_ids() if q in self._queues]

    def centre_series(self) -> dict[int, dict[str, Any]]:
        """The token's queues summed (few: not worth caching)."""
        return merged_series(self.intervals[k] for k in self.intervals if k[0] == "queue")

    def queue_channel(self, queue_id: str) -> str:
        return self._store.queue_channel(queue_id)

    # ---- figures derived once per change, shared with the store --------------------------------
    # A queue's series, channel and live counts are the same whoever asks (its contacts and the
    # agents staffed on it are all in this view), so the store's caches serve its queues as they are.
    def queue_figures(self, queue_id: str, now: float) -> QueueFigures:
        return self._store.queue_figures(queue_id, now)

    def day_longest_wait(self, queue_id: str, day_start: int) -> int | None:
        return self._store.day_longest_wait(queue_id, day_start)

    def queue_derived(self, what: str, queue_id: str, extra: tuple[Any, ...], build: Callable[[], T]) -> T:
        return self._store.queue_derived(what, queue_id, extra, build)

    def queue_live(self) -> dict[str, QueueLive]:
        """The store's count per queue: read for this view's queues only (``iter_queue_views``)."""
        return self._store.queue_live()

    def centre_live(self) -> dict[str, Any]:
        """Its own rows counted: an agent counts once over *these* queues."""
        return centre_live(self.contacts.values(), self.agents.values())


def scoped(store: ReadModelStore, queues: frozenset[str] | None) -> ReadModelStore | ScopedStore:
    """``store`` itself for an unscoped caller, else its view limited to ``queues``."""
    return store if queues is None else ScopedStore(store, queues)
