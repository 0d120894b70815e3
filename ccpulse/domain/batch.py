"""A batch driver over the domain core: fold a list of raw messages without Kafka or Faust.

It applies exactly the rules the live worker applies (same functions, same order
of calls), so tests and re-computations get the live figures from a plain list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ccpulse.domain.agent import agent_record, fold_agent, prune_agent, time_in_state_delta
from ccpulse.domain.buckets import apply_delta
from ccpulse.domain.contact import add_event, diff_contributions, event_record, fold_contact
from ccpulse.domain.customer import fcr_contributions
from ccpulse.domain.intervals import is_late
from ccpulse.settings import Settings
from schemas.events import AgentStateChanged, EventRejected, decode_event

__all__ = ["BatchResult", "fold_messages"]


@dataclass
class BatchResult:
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)  # bucket key -> bucket
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # live contact rows
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)  # agent rows
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (message index, reason)


def fold_messages(messages: Iterable[bytes], settings: Settings) -> BatchResult:
    """Fold raw event messages, in order, as one source partition would."""
    out = BatchResult()
    contact_events: dict[str, list[dict[str, Any]]] = {}
    contributions: dict[str, dict[str, dict[str, float]]] = {}
    agent_changes: dict[str, list[dict[str, Any]]] = {}
    mark = 0.0

    customers: dict[str, dict[str, dict[str, Any]]] = {}
    customer_contrib: dict[str, dict[str, dict[str, float]]] = {}

    def apply(delta: dict[str, dict[str, Any]], offset: int, source: str = "events") -> None:
        for index, (key, change) in enumerate(sorted(delta.items())):
            out.buckets[key], _ = apply_delta(out.buckets.get(key), change, source, (offset, index))

    def sla(queue_id: str, channel: str) -> tuple[float, float]:
        q = settings.queue(queue_id, channel)
        return q.sl_threshold_seconds, q.short_abandon_seconds

    for offset, raw in enumerate(messages):
        try:
            event = decode_event(raw)
        except EventRejected as exc:
            out.rejected.append((offset, exc.reason))
            continue
        if is_late(event.at, mark, settings.lateness_seconds):
            out.rejected.append((offset, "late"))
            continue
        mark = max(mark, event.at)
        if isinstance(event, AgentStateChanged):
            agent_id = event.agent_id
            changes = agent_changes.setdefault(agent_id, [])
            if add_event(changes, agent_record(event, raw, "batch", offset)) == "duplicate":
                out.rejected.append((offset, "duplicate"))
                continue
            apply(time_in_state_delta(agent_id, changes, event.event_id), offset)
            agent_changes[agent_id] = prune_agent(changes, mark - settings.lateness_seconds)
            out.agents[event.agent_id] = fold_agent(event.agent_id, agent_changes[event.agent_id])  # type: ignore[assignment]
            continue
        cid = event.contact_id
        events = contact_events.setdefault(cid, [])
        if add_event(events, event_record(event, raw, "batch", offset)) == "duplicate":
            out.rejected.append((offset, "duplicate"))
            continue
        fold = fold_contact(cid, events, sla)
        apply(diff_contributions(contributions.get(cid, {}), fold.contributions), offset)
        contributions[cid] = fold.contributions
        if fold.fcr is not None and fold.summary and fold.summary["customer_id"]:
            customer = fold.summary["customer_id"]
            records = customers.setdefault(customer, {})
            records[cid] = fold.fcr
            new = fcr_contributions(records, settings.fcr_window_seconds)
            apply(diff_contributions(customer_contrib.get(customer, {}), new), offset, source="customers")
            customer_contrib[customer] = new
        if fold.live is None:
            out.contacts.pop(cid, None)
        else:
            out.contacts[cid] = fold.live
    return out
