"""Publishing read-model rows: idempotent upserts to the compacted ``cc.read-model``.

Rows are coalesced: a key updated many times within ``publish_interval_seconds``
is sent once, with its latest value. ``None`` is a tombstone (the row is gone).
Row keys are ``<kind>|<id...>``; the API rebuilds its whole state from them.
"""

from __future__ import annotations

from typing import Any

import faust
import orjson

__all__ = ["ReadModelPublisher", "agent_row_key", "contact_row_key", "interval_row_key", "recent_row_key",
           "retention_row_key", "worker_row_key"]


def contact_row_key(contact_id: str) -> str:
    return f"contact|{contact_id}"


def agent_row_key(agent_id: str) -> str:
    return f"agent|{agent_id}"


def recent_row_key(contact_id: str) -> str:
    return f"recent|{contact_id}"


def worker_row_key(worker_id: str) -> str:
    return f"worker|{worker_id}"


def interval_row_key(bucket_key: str) -> str:
    return f"interval|{bucket_key}"


def retention_row_key(customer_id: str) -> str:
    """A customer's retention contributions (``ccpulse.domain.retention``); the API sums them."""
    return f"retention|{customer_id}"


class ReadModelPublisher:
    """Coalesces row upserts and sends them on :meth:`flush`."""

    def __init__(self, topic: faust.TopicT) -> None:
        self.topic = topic
        self.pending: dict[str, bytes | None] = {}

    def upsert(self, key: str, kind: str, row: dict[str, Any] | None) -> None:
        self.pending[key] = None if row is None else orjson.dumps({"kind": kind, **row})

    async def flush(self) -> int:
        """Send every pending row; returns how many were sent."""
        if not self.pending:
            return 0
        pending, self.pending = self.pending, {}
        for key, value in pending.items():
            await self.topic.send(key=key.encode(), value=value)
        return len(pending)
