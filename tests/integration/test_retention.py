"""Retention end to end: customer events and contacts through Kafka, the worker's retention agent and
the API equal the hand-computed month and year of tests/retention_scenario.py exactly; bad customer
events are dead-lettered with their reason; a signed rating callback becomes a CSAT answer."""

from __future__ import annotations

import orjson
import pytest

from ccpulse.webhook import sign
from tests.retention_scenario import CONTACT_EVENTS, CUSTOMER_EVENTS, EXPECTED_MARCH, EXPECTED_YEAR, REJECTED, RETENTION_ENV

pytestmark = pytest.mark.integration

SECRET = "rating-secret"
RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}


def test_retention_through_the_worker_and_the_api(stack_factory) -> None:
    stack = stack_factory(extra_env={**RETENTION_ENV, "CCPULSE_RATING_CALLBACK_SECRET": SECRET,
                                     # the scenario spans months: keep contacts for their late surveys
                                     "CCPULSE_CONTACT_RETENTION_SECONDS": str(120 * 86400)}).start(workers=1)
    topics = stack.settings.topics
    customer = [(topics.customer_events, e["customer_id"].encode(), orjson.dumps(e)) for e in CUSTOMER_EVENTS]
    bad = [(topics.customer_events, e["customer_id"].encode(), orjson.dumps(e)) for e, _ in REJECTED]
    wrong = (topics.contact_events, b"A", orjson.dumps({**CUSTOMER_EVENTS[1], "event_id": "on-the-wrong-topic"}))
    # Customer events first (their months are revised when the contacts' facts follow), then the contacts.
    stack.produce([*customer[::-1], *bad, wrong])
    stack.produce(CONTACT_EVENTS)

    def exact(granularity: str, expected: dict) -> bool:
        body = stack.get("/api/v1/retention", granularity=granularity, **RANGE).json()
        assert len(body["periods"]) == 1, body
        row = body["periods"][0]
        assert {k: row[k] for k in expected} == pytest.approx(expected)
        return True

    stack.wait_for(lambda: exact("month", EXPECTED_MARCH), timeout=120, what="March 2026 to equal the hand-computed figures")
    stack.wait_for(lambda: exact("year", EXPECTED_YEAR), timeout=30, what="2026 to equal the hand-computed figures")
    csv = stack.get("/api/v1/retention", format="csv", **RANGE)
    assert csv.status_code == 200 and "2026-03" in csv.text

    def dead_letters() -> dict[str, str]:
        records = [orjson.loads(m.value) for m in stack.topic_messages(topics.deadletter)]
        found = {r["reason"]: r["topic"] for r in records}
        assert {"currency_mismatch", "duplicate", "wrong_topic"} <= found.keys(), found
        return found

    found = stack.wait_for(dead_letters, timeout=30, what="the bad customer events to be dead-lettered")
    assert found["currency_mismatch"] == topics.customer_events and found["wrong_topic"] == topics.contact_events

    # A rating-template answer for E's contact cE1 (care queue), after every other event: a CSAT answer of that queue.
    body = orjson.dumps({"message": {"rate": 5, "feedbacks": ["Quick"], "note": "ok", "msg_id": "z-1",
                                     "tracking_id": "cE1", "submit_time": "1773662400000"}})  # 2026-03-16T12:00Z
    import httpx

    response = httpx.post(stack.url + "/api/v1/callbacks/rating", content=body,
                          headers={"X-Ccpulse-Signature": sign(SECRET, body)}, timeout=10)
    assert response.status_code == 202, response.text
    assert response.json()["topic"] == topics.survey_events

    def csat() -> bool:
        rows = stack.get("/api/v1/surveys", queue_id="care", granularity="1d", start="2026-03-16T00:00:00Z",
                         end="2026-03-17T00:00:00Z").json()["intervals"]
        return bool(rows) and rows[0]["csat_responses"] == 1 and rows[0]["csat"] == 1.0

    stack.wait_for(csat, timeout=60, what="the rating to count as a CSAT answer of the care queue")
