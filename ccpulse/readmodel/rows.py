"""Read-model rows built from domain state, in one place for every writer.

The workers publish an interval row for each live 15-minute bucket and ``ccpulse recompute``
publishes the same row for a recomputed one: both build it here, so a recomputed row cannot
drift from the live one it replaces.
"""

from __future__ import annotations

from typing import Any

__all__ = ["generation_covers", "interval_row"]


def interval_row(dimension: str, entity: str, start: int, bucket: dict[str, Any]) -> dict[str, Any]:
    """The read-model row of a 15-minute bucket (``ccpulse.domain.buckets``' state)."""
    tops = bucket["tops"]
    return {"kind": "interval", "dimension": dimension, "id": entity, "start": int(start),
            "c": bucket["c"], "max_wait_ms": tops[0][0] if tops else None}


def generation_covers(marker: dict[str, Any], dimension: str, entity: str, start: int) -> bool:
    """Does the generation of ``marker`` (its commit marker row) decide the served row of this bucket?"""
    if dimension not in marker["dimensions"]:
        return False
    queues = marker.get("queues")
    if queues is not None and (dimension != "queue" or entity not in queues):
        return False
    return marker["from"] <= start < marker["to"]
