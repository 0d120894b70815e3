"""How agent state changes turn into an agent's live row.

Like a contact, an agent keeps its recent state changes sorted by event time, so
a late or duplicated change cannot leave a wrong "current state". Changes older
than the lateness bound are folded into a single base record to bound memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ccpulse.domain.contact import Contributions, bucket_key, diff_contributions
from ccpulse.domain.intervals import BUCKET_SECONDS, bucket_start
from schemas.events import AgentStateChanged

__all__ = ["STAFFED_STATES", "agent_record", "fold_agent", "prune_agent", "split_span", "time_in_state", "time_in_state_delta"]

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



def split_span(start: float, end: float) -> list[tuple[float, int]]:
    """Split [start, end) at 15-minute boundaries: (bucket start, milliseconds in it).

    Each piece is the difference of rounded boundary offsets, so the pieces always add
    up to the rounded length of the whole span (time is conserved exactly).
    """
    out: list[tuple[float, int]] = []
    if end <= start:
        return out
    origin = round(start * 1000)
    cursor = start
    while cursor < end:
        bucket = bucket_start(cursor)
        stop = min(end, bucket + BUCKET_SECONDS)
        piece = round(stop * 1000) - round(cursor * 1000)
        if piece:
            out.append((bucket, piece))
        cursor = stop
    assert sum(p for _, p in out) == round(end * 1000) - origin
    return out


def time_in_state(agent_id: str, changes: Iterable[Mapping[str, Any]]) -> Contributions:
    """Time the agent spent in each state, per 15-minute bucket, for every closed span.

    A span runs from one state change to the next; the current (open) state is not
    counted until it ends. Offline time is not logged-in time and is not counted.
    """
    out: Contributions = {}
    ordered = list(changes)
    for current, following in zip(ordered, ordered[1:], strict=False):
        if current["state"] == "offline":
            continue
        measure = f"time_{current['state']}_ms"
        for bucket, ms in split_span(current["t"], following["t"]):
            counters = out.setdefault(bucket_key("agent", agent_id, bucket), {})
            counters[measure] = counters.get(measure, 0) + ms
    return out


def time_in_state_delta(agent_id: str, changes: Sequence[Mapping[str, Any]], event_id: str) -> Contributions:
    """What inserting the change ``event_id`` (already in the sorted ``changes``) adds to time in state.

    Only the span it splits changes: prev→next becomes prev→new + new→next. Working on
    that neighbourhood keeps each event O(1) however many changes the agent keeps.
    """
    index = next(i for i, c in enumerate(changes) if c["id"] == event_id)
    before = [*changes[max(0, index - 1):index], *changes[index + 1:index + 2]]
    after = changes[max(0, index - 1):index + 2]
    return diff_contributions(time_in_state(agent_id, before), time_in_state(agent_id, after))
