"""The scenario of the report tests: two simulated mornings (surveys, QA, teams, repeat contacts) with
customer events for the same customers, and the hand-computed cases of tests/case_scenario.py.

``scenario_store`` folds it with the worker's own rules (``ccpulse.domain.batch``) into a read model, so
the unit tests get API answers by construction (the API app over that store), not typed by hand;
the integration test streams the same events through Kafka and a real worker.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from api.store import ReadModelStore
from ccpulse.domain.batch import fold_messages, fold_retention
from ccpulse.settings import Settings
from ccpulse.simulate import SimConfig, generate
from tests.case_scenario import CASE_EVENTS

__all__ = ["CASES_TEAM", "CONTACT_EVENTS", "CUSTOMER_EVENTS", "PERIOD", "REPORT_ENV", "scenario_store"]

PERIOD = "2026-03"

#: Stack settings: keep every interval of the month (the default keeps 8 days behind the newest event).
REPORT_ENV = {"CCPULSE_RETENTION_DAYS": "400", "CCPULSE_CONTACT_RETENTION_SECONDS": str(40 * 86400)}


def _events() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    first = generate(SimConfig(seed=11, start=datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc), duration_seconds=3600,
                               agents=12, customers=300, customer_events=True))
    second = generate(SimConfig(seed=12, start=datetime(2026, 3, 4, 10, 0, tzinfo=timezone.utc),
                                duration_seconds=2700, agents=12, customers=300))
    contacts, customers = [], []
    for event in [*first, *second]:
        (customers if event["type"].startswith("customer.") else contacts).append(event)
    return _with_qa(contacts) + CASE_AGENTS + CASE_EVENTS, customers


#: The case scenario's agents, in a team of their own: its March resolution times are those of cases A
#: (a2: 232,200 s wall, 9,000 s business) and B (a1: 11,400 s on a wall-clock queue), averaged.
CASE_AGENTS: list[dict[str, Any]] = [
    {"event_id": f"case-agent-{a}", "type": "agent.state_changed", "occurred_at": "2026-03-06T16:00:00Z",
     "agent_id": a, "state": "available", "queue_ids": ["billing", "mail", "webchat"], "team": "team-cases"}
    for a in ("a1", "a2")]
CASES_TEAM = {"cases_resolved": 2, "avg_resolution_seconds": (232_200 + 11_400) / 2,
              "avg_resolution_business_seconds": (9_000 + 11_400) / 2}


def _with_qa(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """QA evaluations of every fifth wrapped-up contact, a minute after its wrap-up (scores 60…100)."""
    agents = {e["contact_id"]: e["agent_id"] for e in events if e["type"] == "contact.answered"}
    wrapped = [e for e in events if e["type"] == "contact.wrapped_up" and e["contact_id"] in agents][::5]
    qa = [{"event_id": f"qa-{n}", "type": "qa.evaluated", "contact_id": e["contact_id"],
           "agent_id": agents[e["contact_id"]], "score": 60 + 10 * (n % 5), "evaluator_id": "sup-1",
           "occurred_at": (datetime.fromisoformat(e["occurred_at"]) + timedelta(minutes=1)).isoformat()}
          for n, e in enumerate(wrapped)]
    return sorted(events + qa, key=lambda e: datetime.fromisoformat(e["occurred_at"]))


CONTACT_EVENTS, CUSTOMER_EVENTS = _events()


def scenario_store(settings: Settings) -> ReadModelStore:
    """A read model holding what a worker publishes for the scenario (intervals, agents, retention)."""
    folded = fold_messages([orjson.dumps(e) for e in CONTACT_EVENTS], settings)
    assert not folded.rejected, folded.rejected[:5]
    from ccpulse.domain.batch import PartitionFold

    fcr = PartitionFold(settings)
    for offset, event in enumerate(CONTACT_EVENTS):
        fcr.message(orjson.dumps(event), "c", offset, None)
    retention = fold_retention([orjson.dumps(e) for e in CUSTOMER_EVENTS], fcr.fcr, settings)
    store = ReadModelStore(settings)
    store.ready = True

    def put(key: str, row: dict[str, Any]) -> None:
        store.apply(key.encode(), orjson.dumps(row))

    for key, bucket in folded.buckets.items():
        dimension, entity, start = key.split("|", 2)
        tops = bucket["tops"]
        put(f"interval|{key}", {"kind": "interval", "dimension": dimension, "id": entity, "start": int(start),
                                "c": bucket["c"], "max_wait_ms": tops[0][0] if tops else None})
    for agent_id, row in folded.agents.items():
        if row is not None:
            put(f"agent|{agent_id}", {"kind": "agent", **row})
    for customer, contributions in retention.customers.items():
        put(f"retention|{customer}", {"kind": "retention", "customer_id": customer, "p": contributions})
    return store
