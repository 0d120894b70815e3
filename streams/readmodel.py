"""Publishing read-model rows: idempotent upserts to the compacted ``cc.read-model``.

Rows are coalesced: a key updated many times within ``publish_interval_seconds``
is sent once, with its latest value. ``None`` is a tombstone (the row is gone).
Row keys are ``<kind>|<id...>`` (``ccpulse.readmodel.keys``); the readers rebuild their
whole state from them (``ccpulse.readmodel.state``).
"""

from __future__ import annotations

from typing import Any

import faust
import orjson

__all__ = ["ReadModelPublisher"]


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
