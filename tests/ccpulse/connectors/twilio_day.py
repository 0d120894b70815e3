"""A hand-written TaskRouter morning (2026-03-02 from 09:00:00 UTC): the event callbacks, in the order sent.

Field names follow Twilio's TaskRouter event reference (event callbacks: EventType, Sid, Timestamp,
Task*/Worker*/TaskQueue* fields; TaskRouter v1 as documented in 2025); the values are ours.

Queues: WQ…01 "support" (voice), WQ…02 "webchat" (task channel chat). Workers WK…a1 alice, WK…b2 bob.

1. T1 voice, support: enters 60; a reservation for bob is rejected 66 (ignored); alice accepts 72 (wait 12);
   task and reservation wrap up 252 (talk 180); completed 262 (ACW 10), alice back to Available.
2. T2 voice, support: enters 120, the caller hangs up 160 (abandoned after 40).
3. T3 voice, support: enters 200, hangs up 203 (a short abandon).
4. T4 chat: enters 300, its TTL runs out 420 (flowed out after 120).
5. T5 chat: enters 480, alice accepts 490 (wait 10), wraps up 600 (talk 110), completes 630 (ACW 30).
6. T6 voice: enters support 640, the workflow moves it to WQ…03 "sales" 670 (a re-queue: support counts it
   flowed out after 30), the caller hangs up 700 (abandoned in sales after 30).

Workers: both Available at 0; bob goes on "Break" 300, Offline 600.
Bad callbacks: an unknown event type, a queue entry without its TaskSid, a Timestamp that is not one.
"""

from __future__ import annotations

from typing import Any

T0 = 1772442000
SUPPORT, WEBCHAT, SALES = "WQ" + "0" * 30 + "01", "WQ" + "0" * 30 + "02", "WQ" + "0" * 30 + "03"
ALICE, BOB = "WK" + "0" * 30 + "a1", "WK" + "0" * 30 + "b2"
_seq = iter(range(1, 1000))


def task(n: int) -> str:
    return "WT" + f"{n:032x}"


def _cb(offset: int, event: str, **fields: str) -> dict[str, str]:
    base = {"EventType": event, "Sid": "EV" + f"{next(_seq):032x}", "AccountSid": "AC" + "1" * 32,
            "WorkspaceSid": "WS" + "2" * 32, "Timestamp": str(T0 + offset), "TimestampMs": str((T0 + offset) * 1000)}
    return {**base, **fields}


def _task(n: int, queue: str, channel: str, caller: str) -> dict[str, str]:
    return {"TaskSid": task(n), "TaskQueueSid": queue, "TaskChannelUniqueName": channel,
            "TaskAttributes": f'{{"from": "{caller}", "channelType": "{channel}"}}', "ResourceSid": task(n)}


def _worker(sid: str, name: str, activity: str) -> dict[str, str]:
    return {"WorkerSid": sid, "WorkerName": name, "WorkerActivityName": activity}


T = {n: _task(n, SUPPORT if n <= 3 else WEBCHAT, "voice" if n <= 3 else "chat", f"+1555123000{n}") for n in range(1, 6)}
T[6] = _task(6, SUPPORT, "voice", "+15551230006")
T6_SALES = {**T[6], "TaskQueueSid": SALES}

CALLBACKS: list[dict[str, str]] = [
    _cb(0, "worker.activity.update", **_worker(ALICE, "alice", "Available"), WorkerPreviousActivityName="Offline"),
    _cb(0, "worker.activity.update", **_worker(BOB, "bob", "Available"), WorkerPreviousActivityName="Offline"),
    _cb(60, "task.created", **T[1]),
    _cb(60, "task-queue.entered", **T[1]),
    _cb(61, "reservation.created", **T[1], **_worker(BOB, "bob", "Available")),
    _cb(66, "reservation.rejected", **T[1], **_worker(BOB, "bob", "Available")),
    _cb(72, "reservation.accepted", **T[1], **_worker(ALICE, "alice", "Available")),
    _cb(120, "task.created", **T[2]),
    _cb(120, "task-queue.entered", **T[2]),
    _cb(160, "task.canceled", **T[2], TaskCanceledReason="hangup"),
    _cb(200, "task-queue.entered", **T[3]),
    _cb(203, "task.canceled", **T[3], TaskCanceledReason="hangup"),
    _cb(252, "task.wrapup", **T[1]),
    _cb(252, "reservation.wrapup", **T[1], **_worker(ALICE, "alice", "Available")),
    _cb(262, "task.completed", **T[1], TaskCompletedReason="done"),
    _cb(262, "reservation.completed", **T[1], **_worker(ALICE, "alice", "Available")),
    _cb(300, "worker.activity.update", **_worker(BOB, "bob", "Break"), WorkerPreviousActivityName="Available"),
    _cb(300, "task-queue.entered", **T[4]),
    _cb(310, "task.teleported", **T[4]),  # bad: an event type TaskRouter does not have
    _cb(420, "task.canceled", **T[4], TaskCanceledReason="Task TTL Exceeded"),
    _cb(480, "task-queue.entered", **T[5]),
    _cb(481, "task-queue.entered", TaskQueueSid=WEBCHAT, TaskChannelUniqueName="chat"),  # bad: no TaskSid
    _cb(490, "reservation.accepted", **T[5], **_worker(ALICE, "alice", "Available")),
    _cb(600, "task.wrapup", **T[5]),
    _cb(600, "reservation.wrapup", **T[5], **_worker(ALICE, "alice", "Available")),
    _cb(600, "worker.activity.update", **_worker(BOB, "bob", "Offline"), WorkerPreviousActivityName="Break"),
    {**_cb(610, "task.canceled", **T[4]), "Timestamp": "ten past", "TimestampMs": ""},  # bad: not a time
    _cb(630, "task.completed", **T[5]),
    _cb(630, "reservation.completed", **T[5], **_worker(ALICE, "alice", "Available")),
    _cb(640, "task-queue.entered", **T[6]),
    _cb(670, "task-queue.moved", **T[6]),  # the workflow's timeout moves it on: no event needed
    _cb(670, "task-queue.entered", **T6_SALES),
    _cb(700, "task.canceled", **T6_SALES, TaskCanceledReason="hangup"),
]

BAD = [(18, "unknown_event"), (21, "missing_field"), (26, "invalid_timestamp")]

CONTACT_EVENTS: list[tuple[int, str, str, dict[str, Any]]] = [
    (60, "contact.queued", task(1), {"queue_id": SUPPORT, "channel": "voice", "customer_id": "+15551230001"}),
    (72, "contact.answered", task(1), {"agent_id": ALICE}),
    (120, "contact.queued", task(2), {"queue_id": SUPPORT, "channel": "voice", "customer_id": "+15551230002"}),
    (160, "contact.abandoned", task(2), {}),
    (200, "contact.queued", task(3), {"queue_id": SUPPORT, "channel": "voice", "customer_id": "+15551230003"}),
    (203, "contact.abandoned", task(3), {}),
    (252, "contact.ended", task(1), {}),
    (262, "contact.wrapped_up", task(1), {}),
    (300, "contact.queued", task(4), {"queue_id": WEBCHAT, "channel": "chat", "customer_id": "+15551230004"}),
    (420, "contact.flowed_out", task(4), {"reason": "overflow"}),
    (480, "contact.queued", task(5), {"queue_id": WEBCHAT, "channel": "chat", "customer_id": "+15551230005"}),
    (490, "contact.answered", task(5), {"agent_id": ALICE}),
    (600, "contact.ended", task(5), {}),
    (630, "contact.wrapped_up", task(5), {}),
    (640, "contact.queued", task(6), {"queue_id": SUPPORT, "channel": "voice", "customer_id": "+15551230006"}),
    (670, "contact.queued", task(6), {"queue_id": SALES, "channel": "voice", "customer_id": "+15551230006"}),
    (700, "contact.abandoned", task(6), {}),
]

AGENT_CHANGES: dict[str, list[tuple[int, str, str | None]]] = {
    ALICE: [(0, "available", None), (72, "on_contact", None), (252, "after_contact_work", None), (262, "available", None),
            (490, "on_contact", None), (600, "after_contact_work", None), (630, "available", None)],
    BOB: [(0, "available", None), (300, "away", "Break"), (600, "offline", None)],
}

#: 09:00 interval, by hand. support (voice, 20 s): offered 4 (T6 flowed out to sales after 30 s: not in SL or abandon
#: rate), answered 1 (12 s), abandoned 2 (40 s; 3 s short and within SL): SL 1 / (1 + 2 − 1) = 0.5, abandon rate
#: 1 / 2; handled 1: talk 180 + ACW 10. sales (voice): offered 1, abandoned 1 after 30 s (beyond 20 s, not short):
#: SL 0 / 1 = 0, abandon rate 1.
#: webchat (chat, 60 s): offered 2, answered 1 (10 s), T4 flowed out after 120 s (the max wait): SL 1 / 1;
#: handled 1: talk 110 + ACW 30 = 140.
EXPECTED_INTERVALS: dict[str, dict[str, Any]] = {
    SUPPORT: {"offered": 4, "answered": 1, "abandoned": 2, "short_abandoned": 1, "answered_within_sl": 1,
              "abandoned_within_sl": 1, "service_level": 0.5, "abandon_rate": 0.5, "asa_seconds": 12.0,
              "avg_abandon_seconds": 21.5, "max_wait_seconds": 40.0, "handled": 1, "avg_talk_seconds": 180.0,
              "avg_acw_seconds": 10.0, "aht_seconds": 190.0},
    WEBCHAT: {"offered": 2, "answered": 1, "abandoned": 0, "answered_within_sl": 1, "service_level": 1.0,
              "asa_seconds": 10.0, "max_wait_seconds": 120.0, "handled": 1, "avg_talk_seconds": 110.0,
              "avg_acw_seconds": 30.0, "aht_seconds": 140.0},
}
EXPECTED_INTERVALS[SALES] = {"offered": 1, "answered": 0, "abandoned": 1, "short_abandoned": 0, "abandoned_within_sl": 0,
                             "service_level": 0.0, "abandon_rate": 1.0, "avg_abandon_seconds": 30.0, "max_wait_seconds": 30.0}
FINAL_AGENTS = {ALICE: ("available", 630, None), BOB: ("offline", 600, None)}
