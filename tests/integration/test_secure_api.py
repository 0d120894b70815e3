"""Tokens and the ingest endpoint on a real stack: a survey tool's webhook batch lands on the right
topics with the right keys (and its bad events in the dead-letter topic with their bytes), a
queue-scoped token sees only its queue through the live API process, and no token means 401."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import orjson
import pytest

from schemas.deadletter import original_bytes

pytestmark = pytest.mark.integration

ADMIN, SALES_CLIENT = "ccp_admin-token", "ccp_sales-client-token"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _post(stack, events: object, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(stack.url + "/api/v1/events", content=orjson.dumps(events), headers=headers, timeout=30)


def test_ingest_and_queue_scoped_tokens(stack_factory) -> None:
    stack = stack_factory(tokens={
        ADMIN: ["read", "metrics", "ingest"],
        SALES_CLIENT: (["read", "metrics", "ingest"], ["sales"]),
    }).start(workers=1)
    stack.wait_for(lambda: stack.get("/readyz").status_code == 200, timeout=60, what="the API to be ready")
    assert stack.get("/api/v1/queues", token="ccp_wrong").status_code == 401
    assert httpx.get(stack.url + "/api/v1/queues", timeout=10).status_code == 401
    with httpx.stream("GET", stack.url + "/api/v1/stream", timeout=10) as response:
        assert response.status_code == 401
    assert _post(stack, [], None).status_code == 401

    # The admin feeds another client's queue through Kafka directly.
    stack.produce([{"event_id": "k-1", "type": "contact.queued", "occurred_at": _now(), "contact_id": "sup-1",
                    "channel": "chat", "queue_id": "support", "customer_id": "cust-9"}])

    batch = [
        {"event_id": "i-1", "type": "agent.state_changed", "occurred_at": _now(), "agent_id": "s-agent",
         "state": "available", "queue_ids": ["sales"]},
        {"event_id": "i-2", "type": "contact.queued", "occurred_at": _now(), "contact_id": "sal-1",
         "channel": "voice", "queue_id": "sales", "customer_id": "cust-1"},
        {"event_id": "i-3", "type": "survey.responded", "occurred_at": _now(), "contact_id": "sal-1",
         "survey": "csat", "score": 9},  # out of the 1..5 scale
        {"event_id": "i-4", "type": "contact.queued", "occurred_at": _now(), "contact_id": "sup-2",
         "channel": "chat", "queue_id": "support"},  # not this client's queue
        "not an event",
    ]
    response = _post(stack, batch, SALES_CLIENT)
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 3)
    results = body["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "rejected", "rejected", "rejected"]
    assert [r["reason"] for r in results[2:]] == ["score_out_of_scale", "out_of_scope", "not_object"]
    assert results[0]["topic"] == stack.settings.topics.agent_events
    assert results[1]["topic"] == stack.settings.topics.contact_events
    assert all(isinstance(r["offset"], int) and r["offset"] >= 0 for r in results[:2])

    # Accepted events carry the contract's keys; rejected ones are dead letters with their bytes.
    contact_keys = {m.value: m.key for m in stack.topic_messages(stack.settings.topics.contact_events)}
    assert contact_keys[orjson.dumps(batch[1])] == b"sal-1"
    agent_keys = {m.value: m.key for m in stack.topic_messages(stack.settings.topics.agent_events)}
    assert agent_keys[orjson.dumps(batch[0])] == b"s-agent"
    letters = [orjson.loads(m.value) for m in stack.topic_messages(stack.settings.topics.deadletter)]
    by_reason = {letter["reason"]: letter for letter in letters}
    assert set(by_reason) == {"score_out_of_scale", "out_of_scope", "not_object"}
    for index, reason in ((2, "score_out_of_scale"), (3, "out_of_scope"), (4, "not_object")):
        assert original_bytes(orjson.dumps(by_reason[reason])) == orjson.dumps(batch[index])
        assert by_reason[reason]["topic"] == "api:/api/v1/events"

    # The worker processed what was accepted: the admin sees both queues, the client only sales.
    def waiting(token: str) -> dict[str, int]:
        return {q["queue_id"]: q["live"]["waiting"] for q in stack.get("/api/v1/queues", token=token).json()["queues"]}

    stack.wait_for(lambda: waiting(ADMIN) == {"sales": 1, "support": 1}, timeout=60, what="both queues to show a contact")
    assert waiting(SALES_CLIENT) == {"sales": 1}
    assert stack.get("/api/v1/queues/support", token=SALES_CLIENT).status_code == 404
    assert stack.get("/api/v1/queues/support/contacts", token=ADMIN).json()["contacts"][0]["customer_id"] == "c***9"
    summary = stack.get("/api/v1/summary", token=SALES_CLIENT).json()
    assert summary["live"]["waiting"] == 1 and summary["live"]["agents"]["available"] == 1

    client_metrics = stack.get("/metrics", token=SALES_CLIENT).text
    assert 'queue="sales"' in client_metrics and "support" not in client_metrics
    stack.wait_for(lambda: 'ccpulse_events_rejected_total{reason="out_of_scope",topic="api:/api/v1/events"} 1.0'
                   in stack.get("/metrics", token=ADMIN).text, timeout=30, what="the rejections to be counted")

    # The live stream, as a wallboard gets it (token in the URL): the client's queue only.
    with httpx.stream("GET", stack.url + "/api/v1/stream", params={"access_token": SALES_CLIENT}, timeout=10) as response:
        assert response.status_code == 200
        data = next(line for line in response.iter_lines() if line.startswith("data: "))
    snapshot = orjson.loads(data[len("data: "):])
    assert [q["queue_id"] for q in snapshot["queues"]] == ["sales"]
    assert b"support" not in data.encode() and snapshot["auth_disabled"] is False


BILLING = "ccp_billing-client-token"


def test_the_three_write_attacks_change_nothing(stack_factory) -> None:
    """A billing-limited ingest token tries to re-staff a shared agent, to pull a sales contact into
    billing with a bad score, and to score another queue's agent: each event is refused per event,
    and afterwards every figure the admin sees is what it was."""
    stack = stack_factory(tokens={ADMIN: ["read", "metrics", "ingest"],
                                  BILLING: (["read", "ingest"], ["billing"])}).start(workers=1)
    stack.wait_for(lambda: stack.get("/readyz").status_code == 200, timeout=60, what="the API to be ready")

    def ev(n: str, type_: str, **fields: object) -> dict:
        return {"event_id": n, "type": type_, "occurred_at": _now(), **fields}

    # The admin's sources, straight to Kafka: a shared agent works sales, support and billing; a sales
    # contact it handled got CSAT 5; a support agent handled a support contact.
    stack.produce([ev("a-1", "agent.state_changed", agent_id="shared", state="available",
                      queue_ids=["sales", "support", "billing"], team="red"),
                   ev("a-2", "agent.state_changed", agent_id="sup-agent", state="available", queue_ids=["support"])])
    stack.produce([ev("s-1", "contact.queued", contact_id="s-100", channel="voice", queue_id="sales"),
                   ev("s-2", "contact.answered", contact_id="s-100", agent_id="shared"),
                   ev("s-3", "contact.ended", contact_id="s-100"),
                   ev("s-4", "contact.wrapped_up", contact_id="s-100"),
                   ev("p-1", "contact.queued", contact_id="p-100", channel="voice", queue_id="support"),
                   ev("p-2", "contact.answered", contact_id="p-100", agent_id="sup-agent")])
    stack.produce([ev("s-5", "survey.responded", contact_id="s-100", survey="csat", score=5)])

    def admin_view() -> dict:
        recent = stack.get("/api/v1/contacts/recent", limit=500).json()["contacts"]
        shared = stack.get("/api/v1/agents/shared").json()
        sup = stack.get("/api/v1/agents/sup-agent/intervals").json()["intervals"]
        sales = stack.get("/api/v1/queues/sales/intervals").json()["intervals"]
        return {"contacts": sorted((c["contact_id"], c["queue_id"], c["csat"], c["agent_id"]) for c in recent),
                "shared_queues": shared["queue_ids"], "shared_team": shared["team"],
                "sup_qa": [(r["qa_count"], r["qa_score"]) for r in sup],
                "sales": [(r["offered"], r["answered"], r["csat_responses"], r["csat"]) for r in sales]}

    before = stack.wait_for(lambda: (lambda v: v if ("s-100", "sales", 5, "shared") in v["contacts"]
                                     and v["sup_qa"] else None)(admin_view()),
                            timeout=60, what="the admin's events to be processed")
    assert stack.get("/api/v1/agents/sup-agent", token=BILLING).status_code == 404
    assert stack.get("/api/v1/agents/shared", token=BILLING).json()["queue_ids"] == ["billing"]

    attacks = [
        ev("x-1", "agent.state_changed", agent_id="shared", state="available", queue_ids=["billing"]),  # 1
        ev("x-2", "contact.queued", contact_id="s-100", channel="voice", queue_id="billing"),  # 2
        ev("x-3", "survey.responded", contact_id="s-100", survey="csat", score=1),  # 2
        ev("x-4", "contact.queued", contact_id="b-100", channel="voice", queue_id="billing"),  # legitimate
        ev("x-5", "qa.evaluated", contact_id="b-100", agent_id="sup-agent", score=5),  # 3
    ]
    response = _post(stack, attacks, BILLING)
    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "rejected", "accepted", "rejected"]
    assert {r["reason"] for r in results if r["status"] == "rejected"} == {"out_of_scope"}

    # The legitimate event is processed, so everything before it in the pipeline was too.
    stack.wait_for(lambda: any(c["contact_id"] == "b-100" for c in
                               stack.get("/api/v1/contacts/recent", token=BILLING).json()["contacts"]),
                   timeout=60, what="the billing contact to show")
    after = admin_view()
    after["contacts"] = [c for c in after["contacts"] if c[0] != "b-100"]
    assert after == before
    billing_recent = stack.get("/api/v1/contacts/recent", token=BILLING).json()["contacts"]
    assert [c["contact_id"] for c in billing_recent] == ["b-100"]
    # Nothing reached an event topic for the refused events: only the dead-letter topic has them.
    values = {m.value for topic in (stack.settings.topics.agent_events, stack.settings.topics.contact_events,
                                    stack.settings.topics.survey_events) for m in stack.topic_messages(topic)}
    for index in (0, 1, 2, 4):
        assert orjson.dumps(attacks[index]) not in values
