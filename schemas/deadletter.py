"""The dead-letter record: what ``cc.deadletter`` carries for every rejected message."""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson

__all__ = ["deadletter_record", "original_bytes"]


def deadletter_record(
    *,
    raw: bytes | None,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    reason: str,
    message: str,
    event_id: str | None = None,
) -> bytes:
    """JSON value of a dead-letter message; ``value_b64`` holds the original bytes exactly."""
    record: dict[str, Any] = {
        "reason": reason,
        "message": message,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": key.decode("utf-8", "replace") if key is not None else None,
        "value_b64": base64.b64encode(raw).decode() if raw is not None else None,
        "event_id": event_id,
        "rejected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return orjson.dumps(record)


def original_bytes(record: bytes) -> bytes | None:
    """The original message value of a dead-letter record."""
    value = orjson.loads(record).get("value_b64")
    return None if value is None else base64.b64decode(value)
