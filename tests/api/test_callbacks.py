"""POST /api/v1/callbacks/rating: the documented mapping of a rating-template answer to a CSAT
``survey.responded``, the signature (401), bad bodies (422, dead-lettered) and the off switch (503)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.store import ReadModelStore
from ccpulse.domain.rating import RatingRejected, rating_survey_event
from ccpulse.webhook import sign
from schemas.events import SurveyResponded, decode_event
from tests.api.conftest import make_settings

SECRET = "s3cret-shared-with-the-platform"
ZALO = {"event_name": "user_feedback", "app_id": "123", "oa_id": "456", "timestamp": "1772443500123",
        "message": {"note": "Nhân viên nhiệt tình", "rate": 4, "submit_time": "1772443500000",
                    "msg_id": "5dcf84fe1fd8bd85e4ca", "feedbacks": ["Friendly agent", "", "Quick answer"],
                    "tracking_id": "call-20260302-000123"}}


class _Metadata:
    partition, offset = 2, 17


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> Any:
        self.sent.append((topic, value, key))
        future: Any = __import__("asyncio").get_running_loop().create_future()
        future.set_result(_Metadata())
        return future


class FakeIngest:
    servers = "fake:9092"

    def __init__(self) -> None:
        self.fake = FakeProducer()

    async def producer(self) -> FakeProducer:
        return self.fake


@pytest.fixture
def setup() -> tuple[TestClient, FakeProducer]:
    settings = make_settings(rating_callback_secret=SECRET)
    app = create_app(settings)
    app.state.store = ReadModelStore(settings)
    app.state.ingest = FakeIngest()
    return TestClient(app), app.state.ingest.fake


def post(client: TestClient, body: bytes, secret: str | None = SECRET) -> Any:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Ccpulse-Signature"] = sign(secret, body)
    return client.post("/api/v1/callbacks/rating", content=body, headers=headers)


def test_mapping_is_the_documented_one() -> None:
    event = rating_survey_event(ZALO)
    assert event == {
        "type": "survey.responded", "event_id": "rating-5dcf84fe1fd8bd85e4ca", "occurred_at": "2026-03-02T09:25:00Z",
        "source": "rating-callback", "contact_id": "call-20260302-000123", "survey": "csat", "score": 4,
        "comment": "Nhân viên nhiệt tình", "tags": ["Friendly agent", "Quick answer"],
    }
    decoded = decode_event(orjson.dumps(event))
    assert isinstance(decoded, SurveyResponded) and decoded.scale == (1, 5) and decoded.tags == event["tags"]
    # camelCase at the top level (resellers' reports) maps the same; an empty note is no comment
    flat = {"rate": 1, "msgId": "m-2", "trackingId": "chat-9", "submitDate": 1772443500000, "note": " "}
    assert rating_survey_event(flat) == {
        "type": "survey.responded", "event_id": "rating-m-2", "occurred_at": "2026-03-02T09:25:00Z",
        "source": "rating-callback", "contact_id": "chat-9", "survey": "csat", "score": 1}


@pytest.mark.parametrize("body, where", [
    ({"message": {**ZALO["message"], "rate": 6}}, "rate"),
    ({"message": {**ZALO["message"], "rate": 0}}, "rate"),
    ({"message": {k: v for k, v in ZALO["message"].items() if k != "tracking_id"}}, "tracking_id"),
    ({"message": {**ZALO["message"], "submit_time": "soon"}}, "submit_time"),
    ({"message": {**ZALO["message"], "submit_time": 1772443500}}, "submit_time"),  # seconds, not ms
    ([1, 2], "JSON object"),
])
def test_bad_bodies_name_the_problem(body: Any, where: str) -> None:
    with pytest.raises(RatingRejected, match=where):
        rating_survey_event(body)


def test_a_signed_callback_goes_to_the_survey_topic_keyed_by_contact(setup) -> None:
    client, producer = setup
    response = post(client, orjson.dumps(ZALO))
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "event_id": "rating-5dcf84fe1fd8bd85e4ca",
                               "contact_id": "call-20260302-000123", "topic": "cc.survey-events",
                               "partition": 2, "offset": 17}
    [(topic, value, key)] = producer.sent
    assert topic == "cc.survey-events" and key == b"call-20260302-000123"
    assert orjson.loads(value) == rating_survey_event(ZALO)


@pytest.mark.parametrize("secret", [None, "another-secret"])
def test_a_bad_signature_is_401(setup, secret: str | None) -> None:
    client, producer = setup
    response = post(client, orjson.dumps(ZALO), secret=secret)
    assert response.status_code == 401 and "X-Ccpulse-Signature" in response.json()["detail"]
    assert producer.sent == []


def test_a_body_changed_after_signing_is_401(setup) -> None:
    client, producer = setup
    body = orjson.dumps(ZALO)
    response = client.post("/api/v1/callbacks/rating", content=body.replace(b'"rate":4', b'"rate":5'),
                           headers={"X-Ccpulse-Signature": sign(SECRET, body)})
    assert response.status_code == 401 and producer.sent == []


@pytest.mark.parametrize("body", [b"{not json", orjson.dumps({"message": {**ZALO["message"], "rate": 9}})])
def test_a_bad_body_is_422_and_dead_lettered(setup, body: bytes) -> None:
    client, producer = setup
    response = post(client, body)
    assert response.status_code == 422 and response.json()["detail"].startswith("invalid_rating: ")
    [(topic, record, _)] = producer.sent
    assert topic == "cc.deadletter"
    dead = orjson.loads(record)
    assert dead["reason"] == "invalid_rating" and base64.b64decode(dead["value_b64"]) == body
    assert dead["topic"] == "api:/api/v1/callbacks/rating"


def test_off_without_a_secret() -> None:
    settings = make_settings()
    app = create_app(settings)
    app.state.store = ReadModelStore(settings)
    response = TestClient(app).post("/api/v1/callbacks/rating", content=b"{}")
    assert response.status_code == 503 and "CCPULSE_RATING_CALLBACK_SECRET" in response.json()["detail"]
