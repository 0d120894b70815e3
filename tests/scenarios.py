"""Hand-written event scenarios with their expected figures worked out by hand.

Scenario "foundation" (2026-03-02, UTC; voice threshold 20 s, chat 60 s, short abandon 5 s):

sales (voice)
  c1 queued 09:00:00, answered 09:00:12 by a1 (wait 12, within), hold 09:02:00–09:02:30,
     ended 09:05:00, wrapped 09:05:40 → talk 288−30 = 258, hold 30, ACW 40
  c2 queued 09:01:00, abandoned 09:01:03 (wait 3: short, within)
  c3 queued 09:02:00, abandoned 09:02:45 (wait 45)
  c4 queued 09:03:00, answered 09:03:30 by a1 (wait 30, not within), transferred to support
     09:06:00 → handled in sales at 09:06 with talk 150, no ACW; 1 transfer
  c8 queued 09:14:00, still waiting
  survey csat 5 for c1 at 09:07 → satisfied
support (voice)
  c5 queued 09:04:00, answered 09:04:08 by a2 (wait 8) — the answer is SENT BEFORE the queue
     event (an out-of-order pair) — ended 09:05:30, wrapped 09:05:50 → talk 82, ACW 20
  c4 queued 09:06:00, answered 09:06:05 by a2 (wait 5), ended 09:10:00, wrapped 09:10:20
     → talk 235, ACW 20
  survey nps 6 for c4 at 09:12 → detractor, attributed to support (its last queue)
chat_help (chat)
  c6 queued 09:07:00, answered 09:08:30 by a3 (wait 90, not within 60), ended 09:20:00,
     wrapped 09:20:30 → handled in the 09:15 interval: talk 690, ACW 30
  c7 queued 09:09:00, abandoned 09:09:40 (wait 40: within 60, not short)
c1's answer is sent twice (same event_id): the second is a duplicate and dead-lettered.
"""

from __future__ import annotations

from typing import Any

DAY = "2026-03-02"


def _t(hms: str) -> str:
    return f"{DAY}T{hms}Z"


def _contact(n: int, kind: str, hms: str, contact: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"ev-{n:03d}", "type": f"contact.{kind}", "occurred_at": _t(hms), "contact_id": contact, **fields}


def _agent(n: int, hms: str, agent: str, state: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"ag-{n:03d}", "type": "agent.state_changed", "occurred_at": _t(hms), "agent_id": agent, "state": state, **fields}


C1_ANSWERED = _contact(2, "answered", "09:00:12", "c1", agent_id="a1")

FOUNDATION_EVENTS: list[dict[str, Any]] = [
    _agent(1, "08:59:00", "a1", "available", queue_ids=["sales", "support"], team="team-a"),
    _agent(2, "08:59:00", "a2", "available", queue_ids=["support"], team="team-a"),
    _agent(3, "08:59:00", "a3", "available", queue_ids=["chat_help"], team="team-b"),
    _contact(1, "queued", "09:00:00", "c1", channel="voice", queue_id="sales", customer_id="cust-1"),
    C1_ANSWERED,
    _agent(4, "09:00:12", "a1", "on_contact"),
    _contact(3, "queued", "09:01:00", "c2", channel="voice", queue_id="sales"),
    _contact(4, "abandoned", "09:01:03", "c2"),
    _contact(5, "hold_started", "09:02:00", "c1"),
    _contact(6, "queued", "09:02:00", "c3", channel="voice", queue_id="sales"),
    _contact(7, "hold_ended", "09:02:30", "c1"),
    _contact(8, "abandoned", "09:02:45", "c3"),
    _contact(9, "queued", "09:03:00", "c4", channel="voice", queue_id="sales", customer_id="cust-4"),
    # out-of-order pair: c5 answered arrives before c5 queued
    _contact(11, "answered", "09:04:08", "c5", agent_id="a2"),
    _contact(10, "queued", "09:04:00", "c5", channel="voice", queue_id="support"),
    _agent(5, "09:04:08", "a2", "on_contact"),
    _contact(12, "ended", "09:05:00", "c1"),
    _agent(6, "09:05:00", "a1", "after_contact_work"),
    _contact(13, "ended", "09:05:30", "c5"),
    _contact(14, "wrapped_up", "09:05:40", "c1", resolved=True),
    C1_ANSWERED,  # duplicate (same event_id, another message)
    _contact(15, "wrapped_up", "09:05:50", "c5"),
    _agent(7, "09:05:50", "a2", "available"),
    _contact(16, "answered", "09:03:30", "c4", agent_id="a1"),
    _contact(17, "transferred", "09:06:00", "c4", to_queue_id="support"),
    _contact(18, "queued", "09:06:00", "c4", channel="voice", queue_id="support", customer_id="cust-4"),
    _agent(8, "09:06:00", "a1", "available"),
    _contact(19, "answered", "09:06:05", "c4", agent_id="a2"),
    _agent(9, "09:06:05", "a2", "on_contact"),
    _contact(20, "queued", "09:07:00", "c6", channel="chat", queue_id="chat_help"),
    {"event_id": "sv-001", "type": "survey.responded", "occurred_at": _t("09:07:00"), "contact_id": "c1", "survey": "csat", "score": 5},
    _contact(21, "answered", "09:08:30", "c6", agent_id="a3"),
    _agent(10, "09:08:30", "a3", "on_contact"),
    _contact(22, "queued", "09:09:00", "c7", channel="chat", queue_id="chat_help"),
    _contact(23, "abandoned", "09:09:40", "c7"),
    _contact(24, "ended", "09:10:00", "c4"),
    _contact(25, "wrapped_up", "09:10:20", "c4"),
    _agent(11, "09:10:20", "a2", "available"),
    {"event_id": "sv-002", "type": "survey.responded", "occurred_at": _t("09:12:00"), "contact_id": "c4", "survey": "nps", "score": 6},
    _contact(26, "queued", "09:14:00", "c8", channel="voice", queue_id="sales"),
    _contact(27, "ended", "09:20:00", "c6"),
    _contact(28, "wrapped_up", "09:20:30", "c6"),
]

_ZERO = {
    "offered": 0, "answered": 0, "abandoned": 0, "short_abandoned": 0, "flowed_out": 0,
    "answered_within_sl": 0, "abandoned_within_sl": 0, "service_level": None, "abandon_rate": None,
    "asa_seconds": None, "avg_abandon_seconds": None, "max_wait_seconds": None, "handled": 0,
    "aht_seconds": None, "avg_talk_seconds": None, "avg_hold_seconds": None, "avg_acw_seconds": None,
    "hold_count": 0, "transfers": 0, "csat": None, "csat_responses": 0, "nps": None, "nps_responses": 0,
    "survey_responses": 0,
}

#: (queue, granularity, interval start) -> expected figures, worked out by hand above.
FOUNDATION_EXPECTED: dict[tuple[str, str, str], dict[str, Any]] = {
    ("sales", "15m", _t("09:00:00")): {
        **_ZERO, "offered": 5, "answered": 2, "abandoned": 2, "short_abandoned": 1,
        "answered_within_sl": 1, "abandoned_within_sl": 1,
        "service_level": 1 / 3, "abandon_rate": 1 / 3,
        "asa_seconds": 21.0, "avg_abandon_seconds": 24.0, "max_wait_seconds": 45.0,
        "handled": 2, "aht_seconds": 239.0, "avg_talk_seconds": 204.0, "avg_hold_seconds": 15.0, "avg_acw_seconds": 20.0,
        "hold_count": 1, "transfers": 1, "csat": 1.0, "csat_responses": 1, "survey_responses": 1,
    },
    ("support", "15m", _t("09:00:00")): {
        **_ZERO, "offered": 2, "answered": 2, "answered_within_sl": 2, "service_level": 1.0, "abandon_rate": 0.0,
        "asa_seconds": 6.5, "max_wait_seconds": 8.0,
        "handled": 2, "aht_seconds": 178.5, "avg_talk_seconds": 158.5, "avg_hold_seconds": 0.0, "avg_acw_seconds": 20.0,
        "nps": -100.0, "nps_responses": 1, "survey_responses": 1,
    },
    ("chat_help", "15m", _t("09:00:00")): {
        **_ZERO, "offered": 2, "answered": 1, "abandoned": 1, "abandoned_within_sl": 1,
        "service_level": 0.0, "abandon_rate": 0.5, "asa_seconds": 90.0, "avg_abandon_seconds": 40.0, "max_wait_seconds": 90.0,
    },
    ("chat_help", "15m", _t("09:15:00")): {
        **_ZERO, "handled": 1, "aht_seconds": 720.0, "avg_talk_seconds": 690.0, "avg_hold_seconds": 0.0, "avg_acw_seconds": 30.0,
    },
    ("chat_help", "1h", _t("09:00:00")): {
        **_ZERO, "offered": 2, "answered": 1, "abandoned": 1, "abandoned_within_sl": 1,
        "service_level": 0.0, "abandon_rate": 0.5, "asa_seconds": 90.0, "avg_abandon_seconds": 40.0, "max_wait_seconds": 90.0,
        "handled": 1, "aht_seconds": 720.0, "avg_talk_seconds": 690.0, "avg_hold_seconds": 0.0, "avg_acw_seconds": 30.0,
    },
}

#: Final agent states: agent -> (state, since).
FOUNDATION_AGENTS = {
    "a1": ("available", _t("09:06:00")),
    "a2": ("available", _t("09:10:20")),
    "a3": ("on_contact", _t("09:08:30")),
}
FOUNDATION_WAITING = {"sales": (1, _t("09:14:00")), "support": (0, None), "chat_help": (0, None)}


# ---------------------------------------------------------------------------------------------
"""Scenario "metrics": two days in Europe/Berlin across the DST change of 2026-03-29 (02:00 → 03:00).

billing (voice, threshold 20 s, short abandon 5 s), agent b1:
  m1 (customer k1) queued 03-28 23:50:00+01 (22:50Z), answered 23:50:30 (wait 30, not within),
     ended 03-29 00:10:30+01, wrapped 00:11:00+01 (23:11Z on the 28th) → handled on local day 29:
     talk 1200, ACW 30. CSAT 4 at 00:20+01. QA 80 at 12:00+02.
  m2 (customer k1) queued 03-29 09:00:00+02 — a repeat of m1 within 24 h, so m1 is NOT
     first-contact-resolved (this revises day 29, where m1 was handled) — answered 09:00:10 (wait 10),
     ended 09:05:10, wrapped 09:06:10 resolved → talk 300, ACW 60; NPS 10 and CES 6 at 09:10; QA 90.
  m3 queued 10:00:00+02, abandoned 10:00:08 (wait 8: not short, within).
  m9 queued 05:00+02, sent after everything else: 5 h behind the watermark → dead-lettered `late`.
"""


def _ev(n: str, kind: str, at: str, contact: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"m-{n}", "type": kind, "occurred_at": at, "contact_id": contact, **fields}


METRICS_TIMEZONE = "Europe/Berlin"
METRICS_EVENTS: list[dict[str, Any]] = [
    {"event_id": "m-a1", "type": "agent.state_changed", "occurred_at": "2026-03-28T23:00:00+01:00", "agent_id": "b1",
     "state": "available", "queue_ids": ["billing"], "team": "night"},
    _ev("01", "contact.queued", "2026-03-28T23:50:00+01:00", "m1", channel="voice", queue_id="billing", customer_id="k1"),
    _ev("02", "contact.answered", "2026-03-28T23:50:30+01:00", "m1", agent_id="b1"),
    _ev("03", "contact.ended", "2026-03-29T00:10:30+01:00", "m1"),
    _ev("04", "contact.wrapped_up", "2026-03-29T00:11:00+01:00", "m1", resolved=True),
    _ev("05", "survey.responded", "2026-03-29T00:20:00+01:00", "m1", survey="csat", score=4),
    _ev("06", "contact.queued", "2026-03-29T09:00:00+02:00", "m2", channel="voice", queue_id="billing", customer_id="k1"),
    _ev("07", "contact.answered", "2026-03-29T09:00:10+02:00", "m2", agent_id="b1"),
    _ev("08", "contact.ended", "2026-03-29T09:05:10+02:00", "m2"),
    _ev("09", "contact.wrapped_up", "2026-03-29T09:06:10+02:00", "m2", resolved=True),
    _ev("10", "survey.responded", "2026-03-29T09:10:00+02:00", "m2", survey="nps", score=10),
    _ev("11", "survey.responded", "2026-03-29T09:10:00+02:00", "m2", survey="ces", score=6),
    _ev("12", "contact.queued", "2026-03-29T10:00:00+02:00", "m3", channel="voice", queue_id="billing"),
    _ev("13", "contact.abandoned", "2026-03-29T10:00:08+02:00", "m3"),
    _ev("14", "qa.evaluated", "2026-03-29T12:00:00+02:00", "m1", agent_id="b1", score=80),
    _ev("15", "qa.evaluated", "2026-03-29T12:00:00+02:00", "m2", agent_id="b1", score=90),
    _ev("16", "contact.queued", "2026-03-29T05:00:00+02:00", "m9", channel="voice", queue_id="billing"),
]

_M0 = {**_ZERO, "csat_mean": None, "ces": None, "ces_easy": None, "ces_responses": 0, "qa_score": None, "qa_count": 0,
       "fcr_rate": None, "repeat_rate": None}

#: (queue, granularity, interval start in UTC) -> expected figures.
METRICS_EXPECTED: dict[tuple[str, str, str], dict[str, Any]] = {
    # local day 2026-03-28 (24 h)
    ("billing", "1d", "2026-03-27T23:00:00Z"): {
        **_M0, "offered": 1, "answered": 1, "service_level": 0.0, "abandon_rate": 0.0, "asa_seconds": 30.0,
        "max_wait_seconds": 30.0,
    },
    # local day 2026-03-29 (23 h: DST starts)
    ("billing", "1d", "2026-03-28T23:00:00Z"): {
        **_M0, "offered": 2, "answered": 1, "answered_within_sl": 1, "abandoned": 1, "abandoned_within_sl": 1,
        "service_level": 0.5, "abandon_rate": 0.5, "asa_seconds": 10.0, "avg_abandon_seconds": 8.0, "max_wait_seconds": 10.0,
        "handled": 2, "aht_seconds": 795.0, "avg_talk_seconds": 750.0, "avg_hold_seconds": 0.0, "avg_acw_seconds": 45.0,
        "csat": 1.0, "csat_mean": 4.0, "csat_responses": 1, "nps": 100.0, "nps_responses": 1,
        "ces": 6.0, "ces_easy": 1.0, "ces_responses": 1, "survey_responses": 3, "qa_score": 85.0, "qa_count": 2,
        "fcr_rate": 0.5, "repeat_rate": 0.5,
    },
    # the local hour 09:00–10:00 (+02:00) on the DST day
    ("billing", "1h", "2026-03-29T07:00:00Z"): {
        **_M0, "offered": 1, "answered": 1, "answered_within_sl": 1, "service_level": 1.0, "abandon_rate": 0.0,
        "asa_seconds": 10.0, "max_wait_seconds": 10.0, "handled": 1, "aht_seconds": 360.0, "avg_talk_seconds": 300.0,
        "avg_hold_seconds": 0.0, "avg_acw_seconds": 60.0, "nps": 100.0, "nps_responses": 1, "ces": 6.0, "ces_easy": 1.0,
        "ces_responses": 1, "survey_responses": 2, "fcr_rate": 1.0, "repeat_rate": 0.0,
    },
}
METRICS_DAY_HOURS = {"2026-03-27T23:00:00Z": 24, "2026-03-28T23:00:00Z": 23}
