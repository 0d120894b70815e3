"""Writes scoped by what they touch (api/writes.py): the three write attacks of a queue-limited
``ingest`` token, each refused per event with ``out_of_scope`` and nothing produced to an event
topic, next to the same token's legitimate events, which pass. The producer records what would
go to Kafka; tests/integration/test_secure_api.py repeats the attacks on a real stack and checks
that no figure changes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.auth import hash_token
from api.main import create_app
from api.store import ReadModelStore
from api.writes import ContactOwners, WriteScope
from ccpulse.settings import ApiToken, QueueSettings
from schemas.events import decode_event
from tests.api.conftest import NOW, agent, contact, make_settings, recent
from tests.api.test_callbacks import SECRET, ZALO, FakeIngest
from ccpulse.webhook import sign

BILLING, ADMIN = "ccp_billing-writer", "ccp_admin-writer"
AT = "2026-03-02T09:20:00Z"


@pytest.fixture
def setup() -> tuple[TestClient, Any, ReadModelStore]:
    settings = make_settings(auth_enabled=True, rating_callback_secret=SECRET, api_tokens=[
        ApiToken(name="billing-client", sha256=hash_token(BILLING), scopes=["read", "ingest"], queues=["billing"]),
        ApiToken(name="admin", sha256=hash_token(ADMIN), scopes=["read", "ingest"]),
    ], queues={"billing": QueueSettings(sl_threshold_seconds=20)})
    store = ReadModelStore(settings)
    store.ready = True
    agent(store, "shared", "available", ["sales", "support", "billing"], "red", "hcm")
    agent(store, "sales-only", "available", ["sales"], "red", "hcm")
    agent(store, "bill-1", "available", ["billing"], "blue", "hn")
    contact(store, "c-000100", "waiting", "sales", "voice", NOW - 30)
    recent(store, "c-000099", NOW - 100, queue_id="sales", agent_id="sales-only")
    recent(store, "b-1", NOW - 90, queue_id="billing", agent_id="bill-1")
    app = create_app(settings)
    app.state.store = store
    app.state.ingest = FakeIngest()
    return TestClient(app), app.state.ingest.fake, store


def _post(client: TestClient, events: list[dict[str, Any]], token: str = BILLING) -> dict[str, Any]:
    response = client.post("/api/v1/events", content=orjson.dumps(events), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.text
    return response.json()


def _event(n: int, type_: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"w-{n}", "type": type_, "occurred_at": AT, **fields}


def _event_topics(producer: Any) -> list[str]:
    return [topic for topic, _, _ in producer.sent if topic != "cc.deadletter"]


def test_attack_1_restaffing_a_shared_agent_is_refused(setup) -> None:
    client, producer, _ = setup
    body = _post(client, [_event(1, "agent.state_changed", agent_id="shared", state="available", queue_ids=["billing"]),
                          _event(2, "agent.state_changed", agent_id="shared", state="away")])
    assert [r["status"] for r in body["results"]] == ["rejected", "rejected"]
    assert {r["reason"] for r in body["results"]} == {"out_of_scope"}
    assert {r["code"] for r in body["results"]} == {403}
    assert "not staffed on this token's queues alone" in body["results"][0]["message"]
    assert _event_topics(producer) == []  # nothing reaches the agent topic; the refusals are dead letters
    assert len(producer.sent) == 2


def test_attack_2_pulling_another_queues_contact_in_is_refused(setup) -> None:
    client, producer, _ = setup
    body = _post(client, [
        _event(1, "contact.queued", contact_id="c-000100", queue_id="billing", channel="voice"),  # live in sales
        _event(2, "survey.responded", contact_id="c-000100", survey="csat", score=1),
        _event(3, "contact.queued", contact_id="c-000099", queue_id="billing", channel="voice"),  # recent in sales
        _event(4, "survey.responded", contact_id="c-000099", survey="csat", score=1, queue_id="billing"),
        _event(5, "contact.answered", contact_id="c-000100", agent_id="bill-1"),
    ])
    assert [r["status"] for r in body["results"]] == ["rejected"] * 5
    assert all("belongs to a queue that is not this token's" in r["message"] for r in body["results"])
    assert _event_topics(producer) == []


def test_attack_3_scoring_another_queues_agent_is_refused(setup) -> None:
    client, producer, _ = setup
    body = _post(client, [_event(1, "qa.evaluated", contact_id="b-1", agent_id="sales-only", score=10),
                          _event(2, "survey.responded", contact_id="b-1", agent_id="sales-only", survey="csat", score=1),
                          _event(3, "contact.transferred", contact_id="b-1", to_agent_id="sales-only"),
                          _event(4, "contact.queued", contact_id="new-9", queue_id="billing", channel="voice"),
                          _event(5, "contact.answered", contact_id="new-9", agent_id="sales-only")])
    assert [r["status"] for r in body["results"]] == ["rejected"] * 3 + ["accepted", "rejected"]
    body["results"].pop(3)
    assert all("'sales-only' is not staffed on this token's queues" in r["message"] for r in body["results"])
    assert _event_topics(producer) == ["cc.contact-events"]


def test_the_same_token_still_writes_its_own_tenant(setup) -> None:
    client, producer, _ = setup
    body = _post(client, [
        _event(1, "contact.queued", contact_id="new-1", queue_id="billing", channel="voice"),
        _event(2, "contact.answered", contact_id="new-1", agent_id="bill-1"),  # queued earlier in this batch
        _event(3, "survey.responded", contact_id="b-1", survey="csat", score=5, agent_id="bill-1"),
        _event(4, "qa.evaluated", contact_id="b-1", agent_id="shared", score=80),  # shared agent works billing
        _event(5, "agent.state_changed", agent_id="bill-1", state="away", reason="break"),
        _event(6, "agent.state_changed", agent_id="new-agent", state="available", queue_ids=["billing"]),
    ])
    assert [r["status"] for r in body["results"]] == ["accepted"] * 6, body
    assert {r["code"] for r in body["results"]} == {202}
    assert _event_topics(producer) == ["cc.contact-events", "cc.contact-events", "cc.survey-events",
                                       "cc.survey-events", "cc.agent-events", "cc.agent-events"]
    # A later request about the contact it queued passes before the worker has published it.
    later = _post(client, [_event(7, "contact.ended", contact_id="new-1")])
    assert later["accepted"] == 1


def test_refusals_left_for_unknown_contacts_and_agents(setup) -> None:
    client, _, _ = setup
    body = _post(client, [
        _event(1, "contact.ended", contact_id="never-seen"),
        _event(2, "survey.responded", contact_id="never-seen", survey="csat", score=3),
        _event(3, "agent.state_changed", agent_id="ghost", state="available"),
        _event(4, "contact.queued", contact_id="new-2", queue_id="sales", channel="voice"),
        _event(5, "contact.transferred", contact_id="b-1", to_queue_id="sales"),
        _event(6, "customer.purchase", customer_id="k1", amount=5, currency="USD"),
    ])
    assert [r["status"] for r in body["results"]] == ["rejected"] * 6
    messages = [r["message"] for r in body["results"]]
    assert "not known in this token's queues" in messages[0] and "not known in this token's queues" in messages[1]
    assert "must name its queue_ids" in messages[2]
    assert "'sales' is not one of this token's queues" in messages[3] and "'sales'" in messages[4]
    assert "centre-wide" in messages[5]


def test_an_unlimited_token_is_not_restricted(setup) -> None:
    client, producer, _ = setup
    body = _post(client, [_event(1, "agent.state_changed", agent_id="shared", state="available", queue_ids=["billing"]),
                          _event(2, "contact.queued", contact_id="c-000100", queue_id="billing", channel="voice")],
                 token=ADMIN)
    assert body["accepted"] == 2 and len(_event_topics(producer)) == 2


def test_the_rating_callback_maps_to_contacts_the_same_way(setup) -> None:
    client, producer, store = setup
    client.app.state.settings = client.app.state.settings.model_copy(update={"rating_callback_queues": ["billing"]})

    def rate(tracking_id: str) -> int:
        body = orjson.dumps({**ZALO, "message": {**ZALO["message"], "tracking_id": tracking_id}})
        return client.post("/api/v1/callbacks/rating", content=body,
                           headers={"X-Ccpulse-Signature": sign(SECRET, body)}).status_code

    assert rate("c-000100") == 403  # a sales contact: not this relay's
    assert rate("unknown-contact") == 403
    assert _event_topics(producer) == []
    assert rate("b-1") == 202
    assert _event_topics(producer) == ["cc.survey-events"]


def test_owners_are_bounded() -> None:
    owners = ContactOwners(keep=3)
    for n in range(5):
        owners.record(f"c{n}", "billing")
    assert [owners.get(f"c{n}") for n in range(5)] == [None, None, "billing", "billing", "billing"]
    scope = WriteScope(frozenset({"billing"}), ReadModelStore(make_settings()), owners)
    ev = decode_event(orjson.dumps(_event(1, "contact.ended", contact_id="c4")))
    assert scope.problem(ev) is None and scope.problem(decode_event(orjson.dumps(
        _event(2, "contact.ended", contact_id="c0")))) is not None
