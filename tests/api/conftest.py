"""Fixtures of the API tests: a read model built row by row with ``store.apply`` (no Kafka),
an app around it (lifespan not entered, so no consumer starts) and a frozen clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.store import ReadModelStore
from ccpulse.settings import QueueSettings, Settings


def at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


NOW = at("2026-03-02T09:20:00Z")  # a Monday; current bucket 09:15, last completed 09:00
T0 = int(at("2026-03-02T09:15:00Z"))
T1 = int(at("2026-03-02T09:00:00Z"))
T2 = int(at("2026-03-02T08:45:00Z"))
YESTERDAY = int(at("2026-03-01T09:00:00Z"))


def put(store: ReadModelStore, key: str, row: dict[str, Any] | None) -> None:
    store.apply(key.encode(), None if row is None else orjson.dumps(row))


def interval(store: ReadModelStore, dimension: str, ident: str, start: int, max_wait_ms: int | None = None, **c: int) -> None:
    put(store, f"interval|{dimension}|{ident}|{start}",
        {"kind": "interval", "dimension": dimension, "id": ident, "start": start, "c": c, "max_wait_ms": max_wait_ms})


def agent(store: ReadModelStore, agent_id: str, state: str, queue_ids: list[str], team: str | None, site: str | None) -> None:
    put(store, f"agent|{agent_id}", {"kind": "agent", "agent_id": agent_id, "state": state, "since": NOW - 60,
                                     "reason": None, "queue_ids": queue_ids, "team": team, "site": site,
                                     "changed_at": NOW - 60})


def contact(store: ReadModelStore, contact_id: str, status: str, queue_id: str, channel: str, queued_at: float,
            agent_id: str | None = None) -> None:
    put(store, f"contact|{contact_id}", {"kind": "contact", "contact_id": contact_id, "status": status,
                                         "queue_id": queue_id, "channel": channel, "queued_at": queued_at,
                                         "priority": 0, "customer_id": None, "agent_id": agent_id,
                                         "answered_at": None, "on_hold": False})


def recent(store: ReadModelStore, contact_id: str, updated_at: float, **fields: Any) -> None:
    row = {"kind": "recent", "contact_id": contact_id, "customer_id": None, "channel": "voice", "queue_id": "sales",
           "agent_id": None, "queued_at": updated_at - 60, "wait_seconds": 10.0, "breached": False,
           "outcome": "answered", "handled_at": None, "resolved": None, "csat": None, "nps": None, "ces": None,
           "comment": None, "updated_at": updated_at, **fields}
    put(store, f"recent|{contact_id}", row)


def make_settings(**overrides: Any) -> Settings:
    """Settings of the API tests; authentication is off unless a test turns it on (see test_auth.py)."""
    return Settings(timezone="UTC", **{"auth_enabled": False, **overrides})


@pytest.fixture
def settings() -> Settings:
    # "vip" overrides its SLA: 10 s threshold, answered-only formula.
    return make_settings(queues={"vip": QueueSettings(sl_threshold_seconds=10, sl_formula="answered_within_over_answered")})


@pytest.fixture
def store(settings: Settings) -> ReadModelStore:
    s = ReadModelStore(settings)
    s.ready = True
    return s


@pytest.fixture
def app(settings: Settings, store: ReadModelStore):
    application = create_app(settings)
    application.state.store = store
    return application


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app)  # no ``with``: the lifespan (Kafka consumer) is not started


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch, app) -> float:
    """Freeze the API's clock (the read model's event clock) at NOW."""
    monkeypatch.setattr(app.state.store, "event_now", lambda: NOW)
    return NOW


SALES_T0 = dict(offered=10, offered_voice=10, answered=8, abandoned=2, short_abandoned=1, answered_within_sl=6,
                abandoned_within_sl=1, wait_answered_ms=80_000, wait_abandoned_ms=30_000, handled=7, talk_ms=700_000,
                hold_ms=70_000, acw_ms=140_000, hold_count=2, transfers=1, csat_responses=4, csat_satisfied=3,
                csat_score_milli=16_000, fcr_handled=5, fcr_resolved=4, fcr_repeat=1)
SALES_T1 = dict(offered=20, offered_voice=20, answered=18, abandoned=2, answered_within_sl=15, wait_answered_ms=180_000,
                wait_abandoned_ms=60_000, handled=18, talk_ms=3_600_000, hold_ms=180_000, acw_ms=540_000,
                nps_responses=4, nps_promoters=3, nps_detractors=1)
SUPPORT_T0 = dict(offered=6, offered_chat=6, answered=5, abandoned=1, answered_within_sl=5, wait_answered_ms=50_000,
                  wait_abandoned_ms=90_000, handled=4, talk_ms=400_000, acw_ms=80_000, csat_responses=2,
                  csat_satisfied=0, csat_score_milli=4_000, qa_count=1, qa_score_milli=70_000, fcr_handled=4,
                  fcr_resolved=2, fcr_repeat=2)
VIP_T2 = dict(offered=3, offered_voice=3, answered=3, answered_within_sl=1, wait_answered_ms=45_000, handled=3, talk_ms=300_000)
A1_T0 = dict(answered=3, answered_within_sl=2, wait_answered_ms=30_000, handled=3, talk_ms=300_000, acw_ms=60_000,
             csat_responses=1, csat_satisfied=1, csat_score_milli=5_000, time_available_ms=200_000,
             time_on_contact_ms=500_000, time_after_contact_work_ms=100_000, time_away_ms=100_000)
A2_T0 = dict(answered=2, answered_within_sl=2, wait_answered_ms=10_000, handled=2, talk_ms=100_000,
             time_available_ms=100_000, time_on_contact_ms=700_000, time_after_contact_work_ms=100_000)
A2_T1 = dict(answered=4, answered_within_sl=3, handled=4, talk_ms=400_000, time_on_contact_ms=900_000)
A3_T0 = dict(answered=5, answered_within_sl=5, handled=4, talk_ms=400_000, qa_count=1, qa_score_milli=70_000,
             time_on_contact_ms=600_000, time_after_contact_work_ms=300_000)

# The same agents' work per queue (agentq series: contact measures only, no time in state), split
# by hand so that each agent's queues sum to its series: a1 worked sales and support at 09:15.
A1_SALES_T0 = dict(answered=2, answered_within_sl=1, wait_answered_ms=20_000, handled=2, talk_ms=200_000, acw_ms=40_000)
A1_SUPPORT_T0 = dict(answered=1, answered_within_sl=1, wait_answered_ms=10_000, handled=1, talk_ms=100_000,
                     acw_ms=20_000, csat_responses=1, csat_satisfied=1, csat_score_milli=5_000)
TIME_IN_STATE = ("time_available_ms", "time_on_contact_ms", "time_after_contact_work_ms", "time_away_ms")


def contact_part(counters: dict[str, int]) -> dict[str, int]:
    """An agent bucket's contact measures (what agentq series hold)."""
    return {k: v for k, v in counters.items() if k not in TIME_IN_STATE}


@pytest.fixture
def centre(store: ReadModelStore) -> ReadModelStore:
    """Three queues (sales: voice, support: chat, vip: voice with its own SLA), five agents in two teams,
    live contacts and the channel buckets matching the queue buckets."""
    interval(store, "queue", "sales", T0, 40_000, **SALES_T0)
    interval(store, "queue", "sales", T1, 70_000, **SALES_T1)
    interval(store, "queue", "sales", YESTERDAY, None, offered=100, offered_voice=100, answered=100,
             answered_within_sl=100, handled=100, talk_ms=1_000_000)
    interval(store, "queue", "support", T0, 90_000, **SUPPORT_T0)
    interval(store, "queue", "vip", T2, 25_000, **VIP_T2)
    interval(store, "channel", "voice", T0, 40_000, **SALES_T0)
    interval(store, "channel", "voice", T1, 70_000, **SALES_T1)
    interval(store, "channel", "voice", T2, 25_000, **VIP_T2)
    interval(store, "channel", "chat", T0, 90_000, **SUPPORT_T0)
    interval(store, "agent", "a1", T0, None, **A1_T0)
    interval(store, "agent", "a2", T0, None, **A2_T0)
    interval(store, "agent", "a2", T1, None, **A2_T1)
    interval(store, "agent", "a3", T0, None, **A3_T0)
    interval(store, "agentq", "a1\x1fsales", T0, None, **A1_SALES_T0)
    interval(store, "agentq", "a1\x1fsupport", T0, None, **A1_SUPPORT_T0)
    interval(store, "agentq", "a2\x1fsales", T0, None, **contact_part(A2_T0))
    interval(store, "agentq", "a2\x1fsales", T1, None, **contact_part(A2_T1))
    interval(store, "agentq", "a3\x1fsupport", T0, None, **contact_part(A3_T0))
    agent(store, "a1", "available", ["sales", "support"], "red", "hcm")
    agent(store, "a2", "on_contact", ["sales"], "red", "hn")
    agent(store, "a3", "after_contact_work", ["support"], "blue", "hcm")
    agent(store, "a4", "offline", ["sales"], "blue", "hn")
    agent(store, "a5", "away", ["support", "vip"], None, "hcm")
    contact(store, "c1", "waiting", "sales", "voice", NOW - 30)
    contact(store, "c2", "waiting", "support", "chat", NOW - 100)
    contact(store, "c3", "in_progress", "sales", "voice", NOW - 300, agent_id="a2")
    contact(store, "c4", "acw", "support", "chat", NOW - 400, agent_id="a3")
    contact(store, "c5", "waiting", "vip", "voice", NOW - 5)
    return store
