"""Real-time SLA breach detection, run by the leader worker once a second.

The leader keeps the whole read model in memory (read from Kafka as the API reads it: ``ccpulse.readmodel``), so
it sees every queue whatever partitions it owns. Each second it builds a snapshot
per queue, evaluates the pure rules (``ccpulse.domain.alerts``) at *event time
advanced by the worker's clock* — so a contact breaches the moment it has waited
too long, even when no further event arrives — and publishes every transition to
``cc.alerts`` (key: alert id), plus the optional webhook.

After a restart or a leadership change the firing alerts are taken back from
``cc.alerts``, so nothing fires twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ccpulse.domain.alerts import QueueSnapshot, evaluate_queue, step
from ccpulse.domain.buckets import merge_buckets
from ccpulse.domain.intervals import BUCKET_SECONDS, bucket_start
from ccpulse.domain.live import queue_live
from ccpulse.readmodel.consumer import ReadModelConsumer
from ccpulse.settings import Settings
from ccpulse.webhook import WebhookSender

__all__ = ["AlertEvaluator", "snapshots"]

log = logging.getLogger("ccpulse.alerts")
Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


def snapshots(store: ReadModelConsumer, now: float) -> list[QueueSnapshot]:
    """A snapshot of every queue: waiting contacts, staffed agents, current and 30-minute counters."""
    current = bucket_start(now)
    queues = store.queue_ids()
    live = queue_live(queues, store.contacts.values(), store.agents.values())
    waiting: dict[str, list[float]] = {q: [] for q in queues}
    for row in store.contacts.values():
        if row.get("status") == "waiting" and row.get("queue_id") in waiting:
            waiting[row["queue_id"]].append(row["queued_at"])
    out = []
    for queue in queues:
        series = store.intervals.get(("queue", queue), {})
        now_counters, _ = merge_buckets([series[current]] if current in series else [])
        # "Rolling 30 minutes": the current 15-minute interval and the one before it.
        last_30, _ = merge_buckets(series[s] for s in (current - BUCKET_SECONDS, current) if s in series)
        out.append(QueueSnapshot(queue, tuple(waiting[queue]), live[queue]["agents_staffed"], now_counters, last_30))
    return out


class AlertEvaluator:
    def __init__(self, settings: Settings, store: ReadModelConsumer, publish: Publish) -> None:
        self.settings = settings
        self.store = store
        self.publish = publish
        self.tracks: dict[tuple[str, str], dict[str, Any]] = {}
        self.last_round = float("-inf")
        self.webhook = WebhookSender(settings.alert_webhook_url, settings.alert_webhook_secret) if settings.alert_webhook_url else None

    def restore(self) -> None:
        """Take back the firing alerts published earlier (by this or another leader)."""
        for alert in self.store.alerts.values():
            if alert["state"] == "firing":
                self.tracks[(alert["queue_id"], alert["rule"])] = {
                    "active_since": alert["started_at"], "clear_since": None, "alert": alert,
                }

    async def evaluate(self, wall_now: float | None = None) -> int:
        """One evaluation round; returns how many transitions were published."""
        if not self.store.ready:
            return 0
        wall_now = time.monotonic() if wall_now is None else wall_now
        if wall_now - self.last_round > 3 * self.settings.alert_interval_seconds:
            # First round, or leadership came back after a pause: another leader may have
            # changed what is firing meanwhile; start again from cc.alerts.
            self.tracks.clear()
            self.restore()
        self.last_round = wall_now
        if self.webhook is not None:
            self.webhook.start()
        now = self.store.event_now()
        published = 0
        for snapshot in snapshots(self.store, now):
            channel = self.store.queue_channel(snapshot.queue_id)
            sla = self.settings.queue(snapshot.queue_id, channel)
            clock = self.settings.sla_clock(snapshot.queue_id, channel)  # business hours, or None: wall time
            for condition in evaluate_queue(snapshot, sla, now, clock):
                key = (snapshot.queue_id, condition.rule)
                # Waits are breached the instant they cross the line; ratios must hold a while.
                hold = 0.0 if condition.rule.startswith(("contact_", "longest_", "no_agents")) else sla.alert_for_seconds
                track, record = step(self.tracks.get(key), snapshot.queue_id, condition, now, hold, sla.alert_clear_seconds)
                self.tracks[key] = track
                if record is not None:
                    await self.publish(record["id"], record)
                    if self.webhook is not None:
                        self.webhook.enqueue(record)
                    published += 1
                    log.info("alert %s %s (%s=%s, threshold %s)", record["state"], record["id"], condition.rule,
                             condition.value, condition.threshold)
        return published
