"""Processing health of one worker, published as a read-model row for /metrics.

Each worker counts what it processed per input topic and how far behind event time
it processed it (event time → processed, wall clock). The API sums the rows of all
workers, so Prometheus scrapes one endpoint and sees the whole cluster.
"""

from __future__ import annotations

import bisect
import os
import socket
import time
from typing import Any

__all__ = ["LATENCY_BUCKETS", "WorkerStats"]

#: Upper bounds (seconds) of the processing-latency histogram.
LATENCY_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class WorkerStats:
    def __init__(self) -> None:
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}"
        self.consumed: dict[str, int] = {}
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)  # last slot: +Inf
        self.latency_sum = 0.0
        self.latency_count = 0
        self.expired_open = 0  # open contacts closed as expired (also dead-lettered as expired_open)

    def observe(self, topic: str, event_time: float | None, now: float | None = None) -> None:
        """Count one processed message; ``event_time`` None for messages without one (rejects)."""
        self.consumed[topic] = self.consumed.get(topic, 0) + 1
        if event_time is None:
            return
        latency = max(0.0, (time.time() if now is None else now) - event_time)
        # Replayed history is days "late": keep it out of the live latency histogram.
        if latency > LATENCY_BUCKETS[-1]:
            return
        self.latency_counts[bisect.bisect_left(LATENCY_BUCKETS, latency)] += 1
        self.latency_sum += latency
        self.latency_count += 1

    def row(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "consumed": dict(self.consumed),
            "latency_buckets": list(LATENCY_BUCKETS),
            "latency_counts": list(self.latency_counts),
            "latency_sum": self.latency_sum,
            "latency_count": self.latency_count,
            "expired_open": self.expired_open,
            "updated_at": time.time(),
        }
