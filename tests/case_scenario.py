"""Scenario "cases": one customer's repeat contacts, with resolution figures worked out by hand.

UTC, default settings: FCR window 24 h; email queues on business hours Mon–Fri 08:00–18:00;
voice and chat on wall time. 2026-03-06 is a Friday, 2026-03-09 a Monday.

Case A (opens Fri 17:00 in billing/voice, resolves Mon 09:30 in mail/email by a2)
  c1 billing (voice) queued Fri 17:00:00, answered 17:00:30 by a1, ended 17:10, wrapped 17:12
     resolved: false
  c2 mail (email) queued Fri 17:30 — 18 min after c1's wrap-up, within the window: joins A —
     answered Mon 09:00 by a2, ended 09:20, wrapped Mon 09:30 resolved: true → A resolves
  wall: Fri 17:00 → Mon 09:30 = 64 h 30 min = 232,200 s
  business (mail's clock): Fri 17:00–18:00 (1 h) + Mon 08:00–09:30 (1.5 h) = 9,000 s; 2 contacts
Case B (opens Mon 11:00 in billing — after A's resolved wrap-up, so a new case)
  c3 billing queued Mon 11:00:00, answered 11:00:20 by a1, ended 11:05, wrapped 11:06
  c4 billing queued Mon 14:00:00 (within 24 h of 11:06: joins B), answered 14:00:10 by a1,
     ended 14:08, wrapped 14:10; no repeat follows → B resolved at its last wrap-up, Mon 14:10
  wall = business (voice: wall clock) = 11:00 → 14:10 = 11,400 s; 2 contacts; resolver a1
Case C (opens Wed 09:00 in webchat/chat, more than 24 h after B's last wrap-up)
  c5 webchat (chat) queued Wed 2026-03-11 09:00, abandoned 09:02
  c6 billing queued Wed 09:30 (joins C), answered 09:31 by a2, still talking → C is open
"""

from __future__ import annotations

from typing import Any


def _ev(n: int, kind: str, at: str, contact: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"case-{n:02d}", "type": f"contact.{kind}", "occurred_at": at, "contact_id": contact, **fields}


K = {"customer_id": "k1"}
CASE_EVENTS: list[dict[str, Any]] = [
    _ev(1, "queued", "2026-03-06T17:00:00Z", "c1", channel="voice", queue_id="billing", **K),
    _ev(2, "answered", "2026-03-06T17:00:30Z", "c1", agent_id="a1"),
    _ev(3, "ended", "2026-03-06T17:10:00Z", "c1"),
    _ev(4, "wrapped_up", "2026-03-06T17:12:00Z", "c1", resolved=False),
    _ev(5, "queued", "2026-03-06T17:30:00Z", "c2", channel="email", queue_id="mail", **K),
    _ev(6, "answered", "2026-03-09T09:00:00Z", "c2", agent_id="a2"),
    _ev(7, "ended", "2026-03-09T09:20:00Z", "c2"),
    _ev(8, "wrapped_up", "2026-03-09T09:30:00Z", "c2", resolved=True),
    _ev(9, "queued", "2026-03-09T11:00:00Z", "c3", channel="voice", queue_id="billing", **K),
    _ev(10, "answered", "2026-03-09T11:00:20Z", "c3", agent_id="a1"),
    _ev(11, "ended", "2026-03-09T11:05:00Z", "c3"),
    _ev(12, "wrapped_up", "2026-03-09T11:06:00Z", "c3"),
    _ev(13, "queued", "2026-03-09T14:00:00Z", "c4", channel="voice", queue_id="billing", **K),
    _ev(14, "answered", "2026-03-09T14:00:10Z", "c4", agent_id="a1"),
    _ev(15, "ended", "2026-03-09T14:08:00Z", "c4"),
    _ev(16, "wrapped_up", "2026-03-09T14:10:00Z", "c4"),
    _ev(17, "queued", "2026-03-11T09:00:00Z", "c5", channel="chat", queue_id="webchat", **K),
    _ev(18, "abandoned", "2026-03-11T09:02:00Z", "c5"),
    _ev(19, "queued", "2026-03-11T09:30:00Z", "c6", channel="voice", queue_id="billing", **K),
    _ev(20, "answered", "2026-03-11T09:31:00Z", "c6", agent_id="a2"),
]

#: (dimension, id, 15-minute bucket start) -> the case figures of that interval row
CASE_EXPECTED: dict[tuple[str, str, str], dict[str, Any]] = {
    ("queue", "billing", "2026-03-06T17:00:00Z"): {
        "cases_opened": 1, "cases_open": 0, "cases_resolved": 0, "avg_resolution_seconds": None,
        "avg_resolution_business_seconds": None, "contacts_per_case": None},
    ("queue", "mail", "2026-03-09T09:30:00Z"): {
        "cases_opened": 0, "cases_resolved": 1, "avg_resolution_seconds": 232_200.0,
        "avg_resolution_business_seconds": 9_000.0, "contacts_per_case": 2.0},
    ("channel", "email", "2026-03-09T09:30:00Z"): {
        "cases_resolved": 1, "avg_resolution_seconds": 232_200.0, "avg_resolution_business_seconds": 9_000.0,
        "contacts_per_case": 2.0},
    ("agent", "a2", "2026-03-09T09:30:00Z"): {
        "cases_resolved": 1, "avg_resolution_seconds": 232_200.0, "avg_resolution_business_seconds": 9_000.0,
        "contacts_per_case": 2.0},
    ("queue", "billing", "2026-03-09T11:00:00Z"): {"cases_opened": 1, "cases_open": 0, "cases_resolved": 0},
    ("queue", "billing", "2026-03-09T14:00:00Z"): {
        "cases_opened": 0, "cases_resolved": 1, "avg_resolution_seconds": 11_400.0,
        "avg_resolution_business_seconds": 11_400.0, "contacts_per_case": 2.0},
    ("agent", "a1", "2026-03-09T14:00:00Z"): {
        "cases_resolved": 1, "avg_resolution_seconds": 11_400.0, "contacts_per_case": 2.0},
    ("queue", "webchat", "2026-03-11T09:00:00Z"): {"cases_opened": 1, "cases_open": 1, "cases_resolved": 0},
    ("channel", "chat", "2026-03-11T09:00:00Z"): {"cases_opened": 1, "cases_open": 1},
}

#: Daily rows (UTC days): billing on Monday 9 March opened B and resolved B.
CASE_EXPECTED_DAILY: dict[tuple[str, str, str], dict[str, Any]] = {
    ("queue", "billing", "2026-03-09T00:00:00Z"): {
        "cases_opened": 1, "cases_resolved": 1, "avg_resolution_seconds": 11_400.0, "contacts_per_case": 2.0},
    ("channel", "voice", "2026-03-06T00:00:00Z"): {"cases_opened": 1, "cases_resolved": 0},
}

#: Open cases now, per queue (live): only C, opened in webchat.
CASE_OPEN_NOW = {"billing": 0, "mail": 0, "webchat": 1}
