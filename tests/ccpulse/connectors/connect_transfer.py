"""A hand-written Amazon Connect transfer (2026-03-02 from 09:00:00 UTC): alice transfers C1 from queue
``billing`` to queue ``tier2``, where bob answers. Shapes as in connect_day.py; the values are ours.

Amazon Connect makes the transfer a new contact: C2 (``initiationMethod`` TRANSFER, ``previousContactId``
and ``initialContactId`` C1) is queued in tier2, while C1 is disconnected when alice leaves the call and
alice does her after-contact work on C1. Seconds after 09:00:00 (milliseconds as Connect writes them):

- C1 queued in billing 10.2, alice connected 20.2 (wait 10), transfers at 80.2 (C2 initiated and queued in
  tier2), alice leaves 81.2 (C1 disconnected: talk 61), alice's ACW ends 91.2 (10).
- bob connected to C2 95.2 (wait in tier2 15), C2 disconnected 155.2 (talk 60), bob's ACW ends 165.2 (10).

Each Connect contact is its own ccpulse contact, as in Connect's own reports; C2's QUEUED (a TRANSFER
initiated at 80.2, previous contact C1) counts the transfer on C1 without moving it: alice's talk and ACW
of C1 stay hers. By hand,

- billing: offered 1, answered 1 (ASA 10), handled 1: talk 61 + ACW 10 = 71, transfers 1;
- tier2: offered 1, answered 1 (ASA 15), handled 1: talk 60 + ACW 10 = 70, transfers 0;
- alice handled 1 (71 s), transfers 1; bob handled 1 (70 s), transfers 0.

``records(0)`` (whole seconds: the fractions dropped) gives the same durations.
"""

from __future__ import annotations

from typing import Any

from tests.ccpulse.connectors.connect_day import agent_event, contact_event, on, snapshot

BILLING, TIER2 = "billing", "tier2"
QUEUES = [BILLING, TIER2]


def _transfer_contact(record: dict[str, Any], previous: str) -> dict[str, Any]:
    """C2 as Connect writes a contact created by an agent's transfer."""
    record["detail"].update(initiationMethod="TRANSFER", initialContactId=previous, previousContactId=previous)
    return record


def records(shift: float = 0.2) -> list[Any]:
    """The records in arrival order; every time carries the fraction ``shift`` (0: whole seconds)."""
    def at(second: int) -> float:
        return second + shift

    def idle(agent: str) -> dict[str, Any]:
        return snapshot(agent, "Available", "ROUTABLE", QUEUES)

    def busy(agent: str, contact: str, state: str, since: float, queue: str, initial: str | None = None) -> dict[str, Any]:
        held = on(contact, state, since, queue=queue)
        held["InitialContactId"] = initial
        return snapshot(agent, "Available", "ROUTABLE", QUEUES, [held])

    c1_on, c1_end = busy("alice", "C1", "CONNECTED", at(20), BILLING), busy("alice", "C1", "ENDED", at(81), BILLING)
    c2_on, c2_end = busy("bob", "C2", "CONNECTED", at(95), TIER2, "C1"), busy("bob", "C2", "ENDED", at(155), TIER2, "C1")
    c2 = {"queue": TIER2, "queued": at(80)}
    return [
        contact_event(at(10), "QUEUED", "C1", queue=BILLING),
        contact_event(at(20), "CONNECTED_TO_AGENT", "C1", queue=BILLING, queued=at(10), agent="alice"),
        agent_event(at(20), "STATE_CHANGE", "alice", c1_on, idle("alice")),
        _transfer_contact(contact_event(at(80), "INITIATED", "C2"), "C1"),
        _transfer_contact(contact_event(at(80), "QUEUED", "C2", **c2), "C1"),
        contact_event(at(81), "DISCONNECTED", "C1", queue=BILLING, queued=at(10), agent="alice", connected=at(20),
                      disconnected=at(81)),
        agent_event(at(81), "STATE_CHANGE", "alice", c1_end, c1_on),
        agent_event(at(91), "STATE_CHANGE", "alice", idle("alice"), c1_end),
        _transfer_contact(contact_event(at(95), "CONNECTED_TO_AGENT", "C2", agent="bob", **c2), "C1"),
        agent_event(at(95), "STATE_CHANGE", "bob", c2_on, idle("bob")),
        _transfer_contact(contact_event(at(155), "DISCONNECTED", "C2", agent="bob", connected=at(95), disconnected=at(155),
                                        **c2), "C1"),
        agent_event(at(155), "STATE_CHANGE", "bob", c2_end, c2_on),
        agent_event(at(165), "STATE_CHANGE", "bob", idle("bob"), c2_end),
    ]


#: Hand-worked figures (docstring): queue -> figures, agent -> figures.
EXPECTED_QUEUES: dict[str, dict[str, Any]] = {
    BILLING: {"offered": 1, "answered": 1, "asa_seconds": 10.0, "handled": 1, "avg_talk_seconds": 61.0,
              "avg_acw_seconds": 10.0, "aht_seconds": 71.0, "transfers": 1},
    TIER2: {"offered": 1, "answered": 1, "asa_seconds": 15.0, "handled": 1, "avg_talk_seconds": 60.0,
            "avg_acw_seconds": 10.0, "aht_seconds": 70.0, "transfers": 0},
}
EXPECTED_AGENTS: dict[str, dict[str, Any]] = {
    "alice": {"handled": 1, "aht_seconds": 71.0, "transfers": 1},
    "bob": {"handled": 1, "aht_seconds": 70.0, "transfers": 0},
}
