"""Live (snapshot) figures derived from read-model rows: who waits, who works.

Pure functions over the contact and agent rows the workers publish, so every API
instance derives the same answer from the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ccpulse.domain.agent import STAFFED_STATES

__all__ = ["QueueLive", "queue_live"]

AGENT_STATES = ("available", "on_contact", "after_contact_work", "away")
QueueLive = dict[str, Any]


def _empty(queue_id: str) -> QueueLive:
    return {
        "queue_id": queue_id,
        "waiting": 0,
        "waiting_by_channel": {"voice": 0, "chat": 0, "email": 0},
        "oldest_queued_at": None,
        "in_progress": 0,
        "in_acw": 0,
        "agents": {state: 0 for state in AGENT_STATES},
        "agents_staffed": 0,
    }


def queue_live(queue_ids: Iterable[str], contacts: Iterable[Mapping[str, Any]], agents: Iterable[Mapping[str, Any]]) -> dict[str, QueueLive]:
    """Per queue: contacts waiting (by channel), the oldest queue entry, contacts being
    handled / in ACW, and agents staffed on the queue by state (offline agents excluded)."""
    out: dict[str, QueueLive] = {q: _empty(q) for q in queue_ids}
    for row in contacts:
        queue = row.get("queue_id")
        if queue is None:
            continue
        live = out.setdefault(queue, _empty(queue))
        status = row["status"]
        if status == "waiting":
            live["waiting"] += 1
            channel = row.get("channel", "voice")
            live["waiting_by_channel"][channel] = live["waiting_by_channel"].get(channel, 0) + 1
            queued_at = row["queued_at"]
            if live["oldest_queued_at"] is None or queued_at < live["oldest_queued_at"]:
                live["oldest_queued_at"] = queued_at
        elif status == "in_progress":
            live["in_progress"] += 1
        elif status == "acw":
            live["in_acw"] += 1
    for row in agents:
        state = row.get("state")
        if state not in AGENT_STATES:
            continue
        for queue in row.get("queue_ids") or ():
            live = out.setdefault(queue, _empty(queue))
            live["agents"][state] += 1
            if state in STAFFED_STATES:
                live["agents_staffed"] += 1
    return out
