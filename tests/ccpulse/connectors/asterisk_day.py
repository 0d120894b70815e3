"""A hand-written queue_log fragment of one morning (2026-03-02, from 09:00:00 UTC), with what it must become.

Queues ``support`` (wrapuptime 10 s) and ``sales`` (no wrap-up); members PJSIP/alice, PJSIP/bob and
Local/carol@from-queue/n (carol via a Local channel, as FreePBX adds them). Fields follow the
queue_log reference of Asterisk 18/20 (docs.asterisk.org, "Queue Logs"); the lines are ours.

Calls (seconds after 09:00:00):

1. ``c1`` support: queued 60, bob rings and does not answer (RINGNOANSWER), alice answers 72 (wait 12),
   caller hangs up 252 (talk 180), wrap-up ends 262.
2. ``c2`` sales: queued 120, abandons 160 (wait 40).
3. ``c3`` sales: queued 200, abandons 203 (wait 3: a short abandon), caller id withheld.
4. ``c4`` support: queued 300, times out 330 (flowed out after 30), announcement, re-queued into sales
   332, carol answers 345 (wait 13), blind-transfers at 405 (talk 60) to 7000 = the support queue,
   re-queued 407, alice answers 417 (wait 10), agent hangs up 477 (talk 60), wrap-up ends 487.
5. ``c5`` sales: queued 500, presses 1 at 520 (EXITWITHKEY → callback, wait 20).
6. ``c6`` support: queued 610, alice answers 635 (wait 25: beyond the 20 s threshold), caller hangs up
   695 (talk 60), wrap-up ends 705.

Agents: alice added to support and sales at 0; bob added to support at 5, pauses for lunch 300,
unpauses 540, removed 600 (logs out), added to sales 720 (logs in again); carol added to sales at 10,
pauses all (training) at 700 — Asterisk writes PAUSEALL then a PAUSE per queue.

Bad lines (each dead-lettered with its reason, nothing else stops): a truncated line, an unknown
event, a time that is not a time, and a CONNECT without its member.
"""

from __future__ import annotations

from typing import Any

T0 = 1772442000  # 2026-03-02T09:00:00Z
WRAPUP = {"support": 10}
AGENTS = {"PJSIP/alice": "alice", "PJSIP/bob": "bob", "Local/carol@from-queue/n": "carol"}
QUEUE_EXTENSIONS = {"7000": "support"}
EXIT_KEYS = {"1": "callback"}
CAROL = "Local/carol@from-queue/n"


def _line(offset: int, callid: str, queue: str, agent: str, event: str, *data: str) -> str:
    return "|".join((str(T0 + offset), callid, queue, agent, event, *data))


def c(n: int, start: int) -> str:
    """The callid of call n: Asterisk's uniqueid of the caller channel (epoch.sequence)."""
    return f"{T0 + start}.{n}"


#: The queue_log, in file order.
LINES: list[str] = [
    _line(0, "NONE", "NONE", "NONE", "QUEUESTART", ""),
    _line(0, "MANAGER", "support", "PJSIP/alice", "ADDMEMBER", ""),
    _line(0, "MANAGER", "sales", "PJSIP/alice", "ADDMEMBER", ""),
    _line(5, "MANAGER", "support", "PJSIP/bob", "ADDMEMBER", ""),
    _line(10, "MANAGER", "sales", CAROL, "ADDMEMBER", ""),
    _line(60, c(1, 60), "support", "NONE", "ENTERQUEUE", "", "+15551230001", "1"),
    _line(66, c(1, 60), "support", "PJSIP/bob", "RINGNOANSWER", "6000"),
    _line(72, c(1, 60), "support", "PJSIP/alice", "CONNECT", "12", f"{T0 + 66}.7", "6"),
    _line(120, c(2, 120), "sales", "NONE", "ENTERQUEUE", "", "+15551230002", "1"),
    _line(160, c(2, 120), "sales", "NONE", "ABANDON", "1", "1", "40"),
    _line(200, c(3, 200), "sales", "NONE", "ENTERQUEUE", "", "anonymous", "1"),
    _line(203, c(3, 200), "sales", "NONE", "ABANDON", "1", "1", "3"),
    _line(252, c(1, 60), "support", "PJSIP/alice", "COMPLETECALLER", "12", "180", "1"),
    _line(300, "NONE", "support", "PJSIP/bob", "PAUSE", "lunch"),
    _line(300, c(4, 300), "support", "NONE", "ENTERQUEUE", "", "+15551230004", "1"),
    "1772442310|1772442310.99|sales",  # truncated (a disk filled up mid-line)
    _line(330, c(4, 300), "support", "NONE", "EXITWITHTIMEOUT", "1", "1", "30"),
    _line(332, c(4, 300), "sales", "NONE", "ENTERQUEUE", "", "+15551230004", "1"),
    _line(345, c(4, 300), "sales", CAROL, "CONNECT", "13", f"{T0 + 340}.8", "2"),
    _line(350, "NONE", "NONE", "NONE", "CONFIGRELOAD", ""),
    _line(405, c(4, 300), "sales", CAROL, "BLINDTRANSFER", "7000", "from-internal", "13", "60", "1"),
    _line(407, c(4, 300), "support", "NONE", "ENTERQUEUE", "", "+15551230004", "1"),
    _line(410, c(9, 410), "sales", "NONE", "SOMETHINGNEW", "x"),  # unknown event
    _line(417, c(4, 300), "support", "PJSIP/alice", "CONNECT", "10", f"{T0 + 412}.9", "3"),
    _line(477, c(4, 300), "support", "PJSIP/alice", "COMPLETEAGENT", "10", "60", "1"),
    _line(500, c(5, 500), "sales", "NONE", "ENTERQUEUE", "", "+15551230005", "1"),
    "noon|1772442505.10|sales|NONE|ENTERQUEUE||+15551230010|1",  # not a time
    _line(520, c(5, 500), "sales", "NONE", "EXITWITHKEY", "1", "1", "1", "20"),
    _line(540, "NONE", "support", "PJSIP/bob", "UNPAUSE", ""),
    _line(600, "MANAGER", "support", "PJSIP/bob", "REMOVEMEMBER", ""),
    _line(610, c(6, 610), "support", "NONE", "ENTERQUEUE", "", "+15551230006", "1"),
    _line(620, c(7, 620), "support", "NONE", "CONNECT", "3", "x", "1"),  # a CONNECT without its member
    _line(635, c(6, 610), "support", "PJSIP/alice", "CONNECT", "25", f"{T0 + 630}.11", "1"),
    _line(695, c(6, 610), "support", "PJSIP/alice", "COMPLETECALLER", "25", "60", "1"),
    _line(700, "NONE", "NONE", CAROL, "PAUSEALL", "training"),
    _line(700, "NONE", "sales", CAROL, "PAUSE", "training"),
    _line(720, "MANAGER", "sales", "PJSIP/bob", "ADDMEMBER", ""),
]

#: Dead letters: (line index, reason).
BAD = [(15, "truncated"), (22, "unknown_event"), (26, "invalid_timestamp"), (31, "missing_agent")]


def _iso(offset: float) -> str:
    from ccpulse.connectors import iso

    return iso(T0 + offset)


#: Contact events, in the order they are produced: (seconds, type, contact, extra fields).
CONTACT_EVENTS: list[tuple[int, str, str, dict[str, Any]]] = [
    (60, "contact.queued", c(1, 60), {"queue_id": "support", "channel": "voice", "customer_id": "+15551230001"}),
    (72, "contact.answered", c(1, 60), {"agent_id": "alice"}),
    (120, "contact.queued", c(2, 120), {"queue_id": "sales", "channel": "voice", "customer_id": "+15551230002"}),
    (160, "contact.abandoned", c(2, 120), {}),
    (200, "contact.queued", c(3, 200), {"queue_id": "sales", "channel": "voice"}),
    (203, "contact.abandoned", c(3, 200), {}),
    (252, "contact.ended", c(1, 60), {}),
    (262, "contact.wrapped_up", c(1, 60), {}),
    (300, "contact.queued", c(4, 300), {"queue_id": "support", "channel": "voice", "customer_id": "+15551230004"}),
    (330, "contact.flowed_out", c(4, 300), {"reason": "overflow"}),
    (332, "contact.queued", c(4, 300), {"queue_id": "sales", "channel": "voice", "customer_id": "+15551230004"}),
    (345, "contact.answered", c(4, 300), {"agent_id": "carol"}),
    (405, "contact.transferred", c(4, 300), {"to_queue_id": "support"}),
    (407, "contact.queued", c(4, 300), {"queue_id": "support", "channel": "voice", "customer_id": "+15551230004"}),
    (417, "contact.answered", c(4, 300), {"agent_id": "alice"}),
    (477, "contact.ended", c(4, 300), {}),
    (487, "contact.wrapped_up", c(4, 300), {}),
    (500, "contact.queued", c(5, 500), {"queue_id": "sales", "channel": "voice", "customer_id": "+15551230005"}),
    (520, "contact.flowed_out", c(5, 500), {"reason": "callback"}),
    (610, "contact.queued", c(6, 610), {"queue_id": "support", "channel": "voice", "customer_id": "+15551230006"}),
    (635, "contact.answered", c(6, 610), {"agent_id": "alice"}),
    (695, "contact.ended", c(6, 610), {}),
    (705, "contact.wrapped_up", c(6, 610), {}),
]

#: Agent state changes per agent: (seconds, state, reason, queues).
AGENT_CHANGES: dict[str, list[tuple[int, str, str | None, list[str]]]] = {
    "alice": [(0, "available", None, ["support"]), (0, "available", None, ["sales", "support"]),
              (72, "on_contact", None, ["sales", "support"]), (252, "after_contact_work", None, ["sales", "support"]),
              (262, "available", None, ["sales", "support"]), (417, "on_contact", None, ["sales", "support"]),
              (477, "after_contact_work", None, ["sales", "support"]), (487, "available", None, ["sales", "support"]),
              (635, "on_contact", None, ["sales", "support"]), (695, "after_contact_work", None, ["sales", "support"]),
              (705, "available", None, ["sales", "support"])],
    "bob": [(5, "available", None, ["support"]), (300, "away", "lunch", ["support"]), (540, "available", None, ["support"]),
            (600, "offline", None, []), (720, "available", None, ["sales"])],
    "carol": [(10, "available", None, ["sales"]), (345, "on_contact", None, ["sales"]), (405, "available", None, ["sales"]),
              (700, "away", "training", ["sales"])],
}

#: Figures of the 15-minute interval 09:00 worked out by hand (default voice SLA: 20 s, short abandon 5 s).
#: support: offered c1, c4 (twice), c6 = 4; answered c1 (12 s), c4 (10 s), c6 (25 s) = 3, within 20 s: 2;
#:   c4's first visit flowed out after 30 s (the longest wait). SL = 2 / (3 + 0 − 0); ASA = 47 / 3.
#:   handled 3: talk 180 + 60 + 60, ACW 10 each → AHT (300 + 30) / 3 = 110.
#: sales: offered c2, c3, c4, c5 = 4; answered c4 (13 s); abandoned c2 (40 s), c3 (3 s, short, within SL);
#:   c5 flowed out (callback). SL = 1 / (1 + 2 − 1) = 0.5; abandon rate (2 − 1) / (1 + 2 − 1) = 0.5;
#:   handled 1 (c4 by carol until the transfer at 405: talk 60, no ACW), transfers 1.
EXPECTED_INTERVALS: dict[str, dict[str, Any]] = {
    "support": {"offered": 4, "answered": 3, "abandoned": 0, "answered_within_sl": 2, "service_level": 2 / 3,
                "asa_seconds": 47 / 3, "max_wait_seconds": 30.0, "handled": 3, "avg_talk_seconds": 100.0,
                "avg_acw_seconds": 10.0, "aht_seconds": 110.0, "transfers": 0},
    "sales": {"offered": 4, "answered": 1, "abandoned": 2, "short_abandoned": 1, "abandoned_within_sl": 1,
              "answered_within_sl": 1, "service_level": 0.5, "abandon_rate": 0.5, "asa_seconds": 13.0,
              "avg_abandon_seconds": 21.5, "max_wait_seconds": 40.0, "handled": 1, "avg_talk_seconds": 60.0,
              "avg_acw_seconds": 0.0, "aht_seconds": 60.0, "transfers": 1},
}

#: Live agent rows at the end: agent -> (state, since seconds, reason).
FINAL_AGENTS = {"alice": ("available", 705, None), "bob": ("available", 720, None), "carol": ("away", 700, "training")}
