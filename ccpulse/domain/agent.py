"""How agent state changes turn into an agent's live row.

Like a contact, an agent keeps its recent state changes sorted by event time, so
a late or duplicated change cannot leave a wrong "current state". Changes older
than the lateness bound are folded into a single base record to bound memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from schemas.events import AgentStateChanged

__all__ = ["STAFFED_STATES", "agent_record", "fold_agent", "prune_agent"]

#: States in which an agent counts as staffed on its queues.
STAFFED_STATES = frozenset({"available", "on_contact", "after_contact_work"})
_CARRIED = ("queue_ids", "team", "site")


def agent_record(event: AgentStateChanged, raw: bytes, src: str, offset: int) -> dict[str, Any]:
    """The compact form in which an agent keeps one state change."""
    rec: dict[str, Any] = {"id": event.event_id, "type": event.type, "t": event.at, "state": event.state, "src": src, "off": offset}
    for name in ("reason", *_CARRIED):
        value = getattr(event, name)
        if value is not None:
            rec[name] = value
    rec["raw"] = raw.decode("utf-8", "replace")
    return rec


def fold_agent(agent_id: str, changes: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The agent's live row: latest state, since when, reason, and the latest queues/team/site."""
    row: dict[str, Any] | None = None
    for rec in changes:
        if row is None:
            row = {"agent_id": agent_id, "queue_ids": [], "team": None, "site": None}
        if rec["state"] != row.get("state"):
            row["since"] = rec.get("since", rec["t"])
        row["state"] = rec["state"]
        row["reason"] = rec.get("reason")
        row["changed_at"] = rec["t"]
        for name in _CARRIED:
            if name in rec:
                row[name] = rec[name]
    return row


def prune_agent(changes: list[dict[str, Any]], horizon: float) -> list[dict[str, Any]]:
    """Drop changes older than ``horizon`` but keep what the fold needs from them.

    The newest change before the horizon stays (it is the state at the horizon),
    carrying the latest queues/team/site and the start of its state run.
    """
    old = [c for c in changes if c["t"] < horizon]
    if len(old) <= 1:
        return changes
    base = dict(old[-1])
    run_start = base.get("since", base["t"])
    for rec in reversed(old[:-1]):
        for name in _CARRIED:
            if name in rec and name not in base:
                base[name] = rec[name]
    for rec in reversed(old[:-1]):
        if rec["state"] != base["state"]:
            break
        run_start = rec.get("since", rec["t"])
    base["since"] = run_start
    return [base, *changes[len(old):]]

