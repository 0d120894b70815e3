"""A hand-written Flex transfer and a failed one (2026-03-02 from 09:00:00 UTC), as TaskRouter event callbacks.

Field names follow Twilio's TaskRouter event reference (the ``task.transfer-*`` events carry the original
task's ``TaskSid`` with ``TransferSid``, ``TransferMode``, ``TransferType``, ``TransferTo``,
``TransferInitiatingReservationSid``, ``TransferInitiatingWorkerSid``); the values are ours. Queues WQ…11
"billing" and WQ…12 "tier2"; workers alice and bob as in twilio_day.py. Seconds after 09:00:00:

1. T11 voice, billing: enters 10, alice accepts 20 (wait 10); alice cold-transfers it to tier2 at 80: Flex
   creates T12 (its attributes keep the conversation: ``conversations.conversation_id`` = T11), which enters
   tier2 at 80; alice's reservation and T11 go to wrap-up at 80 (talk 60) and complete at 90 (ACW 10). bob
   accepts T12 at 95 (wait 15; the transfer completes), wraps up 155 (talk 60), completes 165 (ACW 10).
2. T13 voice, billing: enters 300, alice accepts 310; at 360 she starts a warm transfer to bob, whose
   reservation is rejected 366 (attempt failed, transfer failed); alice goes on, wraps up 400 (talk 90),
   completes 410 (ACW 10).

Each task is its own ccpulse contact, as in Flex's own reports; ``task.transfer-completed`` (at 95, when bob
took T12) counts the transfer on T11 without moving it: alice's talk and wrap-up of T11 stay hers. By hand
(default voice SLA 20 s):

- billing: offered 2, answered 2 (ASA (10 + 10) / 2 = 10), handled 2: talk 60 + 90, ACW 10 + 10 → AHT 85,
  transfers 1 (T11's; the failed transfer of T13 counts nothing);
- tier2: offered 1, answered 1 (ASA 15), handled 1: talk 60 + ACW 10 = 70, transfers 0;
- alice handled 2, transfers 1; bob handled 1, transfers 0; alice is in after-contact work 80–90 (her
  state), bob never for T13.
"""

from __future__ import annotations

from typing import Any

from tests.ccpulse.connectors.twilio_day import ALICE, BOB, _cb, _worker, task

BILLING, TIER2 = "WQ" + "0" * 30 + "11", "WQ" + "0" * 30 + "12"
T11, T12, T13 = task(11), task(12), task(13)


def _task(sid: str, queue: str, conversation: str) -> dict[str, str]:
    attributes = f'{{"from": "+15551230011", "conversations": {{"conversation_id": "{conversation}"}}}}'
    return {"TaskSid": sid, "TaskQueueSid": queue, "TaskChannelUniqueName": "voice", "TaskAttributes": attributes,
            "ResourceSid": sid}


def _transfer(sid: str, mode: str, kind: str, to: str) -> dict[str, str]:
    return {"TransferSid": sid, "TransferMode": mode, "TransferType": kind, "TransferTo": to,
            "TransferInitiatingReservationSid": "WR" + "0" * 30 + "a1", "TransferInitiatingWorkerSid": ALICE}


def _alice() -> dict[str, str]:
    return _worker(ALICE, "alice", "Available")


def _bob() -> dict[str, str]:
    return _worker(BOB, "bob", "Available")


A, B, C = _task(T11, BILLING, T11), _task(T12, TIER2, T11), _task(T13, BILLING, T13)
COLD = _transfer("TT" + "0" * 30 + "01", "COLD", "QUEUE", TIER2)
WARM = _transfer("TT" + "0" * 30 + "02", "WARM", "WORKER", BOB)

#: The transferred call (1.), in the order TaskRouter sends it.
TRANSFER: list[dict[str, str]] = [
    _cb(10, "task-queue.entered", **A),
    _cb(20, "reservation.accepted", **A, **_alice()),
    _cb(80, "task.transfer-initiated", **A, **COLD),
    _cb(80, "task.created", **B),
    _cb(80, "task-queue.entered", **B),
    _cb(80, "reservation.wrapup", **A, **_alice()),
    _cb(80, "task.wrapup", **A),
    _cb(90, "task.completed", **A),
    _cb(90, "reservation.completed", **A, **_alice()),
    _cb(95, "reservation.accepted", **B, **_bob()),
    _cb(95, "task.transfer-completed", **A, **COLD),
    _cb(155, "task.wrapup", **B),
    _cb(155, "reservation.wrapup", **B, **_bob()),
    _cb(165, "task.completed", **B),
    _cb(165, "reservation.completed", **B, **_bob()),
]

#: The failed warm transfer (2.): the call without its transfer callbacks is ``FAILED_WITHOUT_TRANSFER``.
FAILED: list[dict[str, str]] = [
    _cb(300, "task-queue.entered", **C),
    _cb(310, "reservation.accepted", **C, **_alice()),
    _cb(360, "task.transfer-initiated", **C, **WARM),
    _cb(366, "reservation.rejected", **C, **_bob()),
    _cb(366, "task.transfer-attempt-failed", **C, **WARM),
    _cb(366, "task.transfer-failed", **C, **WARM, TransferFailedReason="rejected"),
    _cb(400, "task.wrapup", **C),
    _cb(400, "reservation.wrapup", **C, **_alice()),
    _cb(410, "task.completed", **C),
    _cb(410, "reservation.completed", **C, **_alice()),
]
FAILED_WITHOUT_TRANSFER = [c for c in FAILED if not c["EventType"].startswith("task.transfer-")]

EXPECTED_QUEUES: dict[str, dict[str, Any]] = {
    BILLING: {"offered": 2, "answered": 2, "asa_seconds": 10.0, "handled": 2, "avg_talk_seconds": 75.0,
              "avg_acw_seconds": 10.0, "aht_seconds": 85.0, "transfers": 1},
    TIER2: {"offered": 1, "answered": 1, "asa_seconds": 15.0, "handled": 1, "avg_talk_seconds": 60.0,
            "avg_acw_seconds": 10.0, "aht_seconds": 70.0, "transfers": 0},
}
EXPECTED_AGENTS: dict[str, dict[str, Any]] = {ALICE: {"handled": 2, "transfers": 1}, BOB: {"handled": 1, "transfers": 0}}
#: alice's states around the transfer: (seconds, state).
ALICE_STATES = [(20, "on_contact"), (80, "after_contact_work"), (90, "available"), (310, "on_contact"),
                (400, "after_contact_work"), (410, "available")]
