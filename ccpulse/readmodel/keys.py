"""Read-model row keys: ``<kind>|<id...>`` on the compacted ``cc.read-model`` topic.

The workers and ``ccpulse recompute`` write under these keys and every reader parses them back
(``ccpulse.readmodel.state``), so both sides take them from here. Compaction keeps the latest
value per key, which is why a key names exactly one row.
"""

from __future__ import annotations

__all__ = ["GENERATION_PARTITION", "agent_row_key", "contact_row_key", "generation_marker_key", "generation_row_key",
           "interval_row_key", "recent_row_key", "retention_row_key", "worker_row_key"]

#: The read-model partition that carries every generation's rows and marker, in publication order.
GENERATION_PARTITION = 0


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
    """A customer's retention contributions (``ccpulse.domain.retention``); readers sum them."""
    return f"retention|{customer_id}"


def generation_row_key(generation: str, bucket_key: str) -> str:
    """Key of a generation's row for ``bucket_key`` (``dimension|id|start``)."""
    return f"recomputed|{generation}|interval|{bucket_key}"


def generation_marker_key(generation: str) -> str:
    return f"generation|{generation}"
