"""Which events a queue-limited writer may send: scoped by what an event *touches*, not only by
the queues it names.

A writer limited to queues (an ``ingest`` token with ``queues``/``queue_groups``, or the rating
callback with ``rating_callback_queues``) may change only its own tenant's data:

- a contact event only for a contact that is new or already belongs to one of its queues, and
  any ``queue_id``/``to_queue_id`` must be one of them (so a known contact of another client
  cannot be pulled in);
- ``agent.state_changed`` only for an agent staffed on its queues alone (a state change of an
  agent shared with another client changes that client's staffing too), or a new agent, and the
  new ``queue_ids`` must stay within its queues;
- surveys and QA only for a contact of its queues; any agent an event credits (answered by,
  transferred to, scored, rated) must be staffed on one of its queues;
- no customer (subscription, purchase) events: they are centre-wide.

Ownership is judged from the whole read model (never the writer's filtered view: a contact of
another queue must count as *known*), plus the contacts this API process accepted a
``contact.queued`` for (a source sends ``contact.answered`` a second after ``contact.queued``,
before the worker has published the contact) and those queued earlier in the same batch.
The API can only judge contacts it knows: one evicted from its window (the newest
``RECENT_KEEP`` contacts) counts as new.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from schemas.events import CUSTOMER_EVENT_TYPES, AgentStateChanged, ContactEvent, ContactQueued, Event

__all__ = ["ContactOwners", "WriteScope"]

#: Contacts remembered from accepted ``contact.queued`` events (ids and queues: ~150 bytes each).
OWNERS_KEEP = 200_000


class ContactOwners:
    """The queue of each contact this process accepted a ``contact.queued`` for, newest kept."""

    def __init__(self, keep: int = OWNERS_KEEP) -> None:
        self.keep = keep
        self._queues: OrderedDict[str, str] = OrderedDict()

    def get(self, contact_id: str) -> str | None:
        return self._queues.get(contact_id)

    def record(self, contact_id: str, queue_id: str) -> None:
        self._queues[contact_id] = queue_id
        self._queues.move_to_end(contact_id)
        while len(self._queues) > self.keep:
            self._queues.popitem(last=False)


class WriteScope:
    """Judges the events of one request for a writer limited to ``queues`` (None: unlimited)."""

    def __init__(self, queues: frozenset[str] | None, store: Any, owners: ContactOwners) -> None:
        self.queues = queues
        self.store = store  # the whole read model
        self.owners = owners
        self._batch: dict[str, str] = {}  # contact -> queue, from contact.queued accepted in this request

    # ---- what the read model knows ---------------------------------------------------------
    def contact_queue(self, contact_id: str) -> str | None:
        """The contact's (last) queue as far as this API knows, None for a contact it never saw."""
        if contact_id in self._batch:
            return self._batch[contact_id]
        for rows in (self.store.contacts, self.store.recent):
            row: Mapping[str, Any] | None = rows.get(contact_id)
            if row is not None and row.get("queue_id"):
                return row["queue_id"]
        return self.owners.get(contact_id)

    def _agent_queues(self, agent_id: str) -> list[str] | None:
        row = self.store.agents.get(agent_id)
        return None if row is None else list(row.get("queue_ids") or ())

    def _agent_visible(self, agent_id: str) -> bool:
        assert self.queues is not None
        return any(q in self.queues for q in self._agent_queues(agent_id) or ())

    # ---- the rule --------------------------------------------------------------------------
    def problem(self, event: Event) -> str | None:
        """Why this writer may not send ``event`` (None when it may)."""
        if self.queues is None:
            return None
        if event.type in CUSTOMER_EVENT_TYPES:
            return f"{event.type} is centre-wide customer data: a token limited to queues cannot send it"
        named = [q for q in (getattr(event, "queue_id", None), getattr(event, "to_queue_id", None)) if q is not None]
        if isinstance(event, AgentStateChanged):
            named += event.queue_ids or []
        outside = sorted({q for q in named if q not in self.queues})
        if outside:
            return f"queue {outside[0]!r} is not one of this token's queues"
        if isinstance(event, AgentStateChanged):
            return self._agent_problem(event)
        assert isinstance(event, ContactEvent)  # customer events returned above
        contact = event.contact_id
        known = self.contact_queue(contact)
        if known is not None and known not in self.queues:
            return f"contact {contact!r} belongs to a queue that is not this token's"
        if known is None and not isinstance(event, ContactQueued):  # a new contact starts with its queue
            return f"contact {contact!r} is not known in this token's queues"
        # An agent an event credits (answered by, transferred to, scored, rated) must work here.
        for agent_id in (getattr(event, "agent_id", None), getattr(event, "to_agent_id", None)):
            if agent_id is not None and not self._agent_visible(agent_id):
                return f"agent {agent_id!r} is not staffed on this token's queues"
        return None

    def _agent_problem(self, event: AgentStateChanged) -> str | None:
        assert self.queues is not None
        current = self._agent_queues(event.agent_id)
        if current is None:
            return None if event.queue_ids else (
                f"agent {event.agent_id!r} is not known: a first state change must name its queue_ids")
        elsewhere = sorted(q for q in current if q not in self.queues)
        if not current or elsewhere:
            return (f"agent {event.agent_id!r} is not staffed on this token's queues alone; its state must come "
                    "from a source allowed for all of them")
        return None

    def accepted(self, event: Event) -> None:
        """Remember an accepted event's contact queue for the rest of the batch and later requests."""
        if isinstance(event, ContactQueued):
            self._batch[event.contact_id] = event.queue_id
            self.owners.record(event.contact_id, event.queue_id)
