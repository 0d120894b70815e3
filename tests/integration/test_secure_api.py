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
