"""Prometheus exposition: every business series is derived from the read model at scrape time,
so each series exists exactly once per API instance and none goes stale after a rebalance."""

from __future__ import annotations

import time
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from api.deps import get_store
from api.store import ReadModelStore
from api.views import queue_views

router = APIRouter(tags=["metrics"])


class ReadModelCollector:
    def __init__(self, store: ReadModelStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        store = self.store
        waiting = GaugeMetricFamily("ccpulse_queue_contacts_waiting", "Contacts waiting in the queue now", labels=["queue", "channel"])
        longest = GaugeMetricFamily("ccpulse_queue_longest_wait_seconds", "Wait so far of the longest-waiting contact", labels=["queue"])
        agents = GaugeMetricFamily("ccpulse_queue_agents", "Agents staffed on the queue by state", labels=["queue", "state"])
        sl = GaugeMetricFamily("ccpulse_queue_service_level_ratio", "Service level of the current 15-minute interval", labels=["queue"])
        target = GaugeMetricFamily("ccpulse_queue_service_level_target_ratio", "Service-level target of the queue", labels=["queue"])
        for view in queue_views(store):
            q = view["queue_id"]
            for channel, count in view["live"]["waiting_by_channel"].items():
                waiting.add_metric([q, channel], count)
            longest.add_metric([q], view["live"]["longest_wait_seconds"] or 0.0)
            for state, count in view["live"]["agents"].items():
                agents.add_metric([q, state], count)
            if view["current_interval"]["service_level"] is not None:
                sl.add_metric([q], view["current_interval"]["service_level"])
            target.add_metric([q], view["sl_target"])
        yield from (waiting, longest, agents, sl, target)
        rejected = CounterMetricFamily("ccpulse_events_rejected", "Messages sent to the dead-letter topic", labels=["topic", "reason"])
        for (topic, reason), count in sorted(store.rejected.items()):
            rejected.add_metric([topic, reason], count)
        yield rejected
        yield GaugeMetricFamily("ccpulse_read_model_ready", "1 when this API instance has caught up with the read model",
                                value=1.0 if store.ready else 0.0)
        staleness = time.time() - store.last_update if store.last_update else 0.0
        yield GaugeMetricFamily("ccpulse_read_model_staleness_seconds", "Seconds since the last read-model row arrived", value=staleness)
        yield CounterMetricFamily("ccpulse_read_model_rows", "Read-model rows applied by this API instance", value=store.rows_applied)


def registry_for(store: ReadModelStore) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReadModelCollector(store))  # type: ignore[arg-type]
    return registry


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(store: ReadModelStore = Depends(get_store)) -> Response:
    return Response(generate_latest(registry_for(store)), media_type=CONTENT_TYPE_LATEST)
