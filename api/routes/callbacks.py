"""``POST /api/v1/callbacks/rating``: rating-template answers (e.g. Zalo ZNS) as CSAT survey answers.

Authentication is a **signature instead of a bearer token**: messaging platforms and their relays
call a fixed URL and can sign a body, but are not API clients holding ccpulse tokens. The sender
signs the raw body with the shared secret ``CCPULSE_RATING_CALLBACK_SECRET``:
``X-Ccpulse-Signature: sha256=<hex HMAC-SHA256 of the body>`` (the format of ccpulse's own alert
webhook). Without the secret configured the endpoint is off (503). A replayed body does no harm:
the event id comes from the platform's message id, and events are de-duplicated by it.

The body is mapped by ``ccpulse.domain.rating`` and checked against the contract like any event; a
body that cannot become one is answered 422 with the reason *and* dead-lettered with its bytes (a
signed answer is never lost). A good one goes to the survey topic, keyed by its contact id.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

import orjson
from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from api.deps import bounded_body
from api.routes.events import Ingest
from api.writes import WriteScope
from ccpulse.domain.rating import RatingRejected, rating_survey_event
from ccpulse.kafka import KafkaUnreachable, topic_for_type
from ccpulse.settings import Settings
from ccpulse.webhook import sign
from schemas.api import ErrorResponse
from schemas.deadletter import deadletter_record
from schemas.events import EventRejected, decode_event

__all__ = ["CALLBACK_SOURCE", "MAX_BODY", "SIGNATURE_HEADER", "router"]

log = logging.getLogger("ccpulse.api")

router = APIRouter(prefix="/api/v1/callbacks", tags=["ingest"])

SIGNATURE_HEADER = "X-Ccpulse-Signature"
MAX_BODY = 64 * 1024
#: The ``topic`` of dead-letter records of callback bodies that could not become an event.
CALLBACK_SOURCE = "api:/api/v1/callbacks/rating"


class RatingAccepted(BaseModel):
    status: str = "accepted"
    event_id: str
    contact_id: str
    topic: str
    partition: int
    offset: int


async def _dead_letter(ingest: Ingest, settings: Settings, body: bytes, reason: str, message: str) -> None:
    try:
        producer = await ingest.producer()
        record = deadletter_record(raw=body, key=None, topic=CALLBACK_SOURCE, partition=-1, offset=0,
                                   reason=reason, message=message)
        await (await producer.send(settings.topics.deadletter, record))
    except (KafkaUnreachable, KafkaError) as exc:  # the sender still gets the 422 and its reason
        log.warning("could not dead-letter a rejected rating callback (%s): %s", reason, exc)


@router.post(
    "/rating", status_code=202, response_model=RatingAccepted, summary="Rating-template callback (signed)",
    description="A post-contact rating (1–5 stars, tags, a note; e.g. a Zalo ZNS rating template) as a CSAT "
                "`survey.responded` for the contact named by `tracking_id` (docs/events.md). Authenticated by "
                f"`{SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the raw body>` with the shared secret "
                "CCPULSE_RATING_CALLBACK_SECRET, instead of a bearer token.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object"},
        "example": {"event_name": "user_feedback", "message": {
            "rate": 4, "feedbacks": ["Friendly agent", "Quick answer"], "note": "Thanks!",
            "msg_id": "5dcf84fe1fd8bd85e4ca", "tracking_id": "call-20260302-000123",
            "submit_time": "1772443500000"}}}}}},
    responses={401: {"model": ErrorResponse, "description": "Missing or wrong signature"},
               403: {"model": ErrorResponse, "description": "The contact is outside CCPULSE_RATING_CALLBACK_QUEUES"},
               413: {"model": ErrorResponse, "description": "Body larger than 64 KiB"},
               422: {"model": ErrorResponse, "description": "The body is not a rating (the reason says why)"},
               503: {"model": ErrorResponse, "description": "Not configured, or Kafka unreachable: send it again"}},
)
async def rating_callback(request: Request) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    secret = settings.rating_callback_secret
    if not secret:
        raise HTTPException(503, "rating callbacks are not configured: set CCPULSE_RATING_CALLBACK_SECRET")
    unsigned = HTTPException(401, f"missing or invalid {SIGNATURE_HEADER}: send sha256=<hex HMAC-SHA256 of the raw "
                                  "body> keyed with the shared secret", headers={"WWW-Authenticate": "Signature"})
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not given.startswith("sha256="):  # before reading a byte: an unsigned caller costs no memory
        raise unsigned
    body = await bounded_body(request, MAX_BODY)
    if not hmac.compare_digest(given.encode(), sign(secret, body).encode()):
        raise unsigned
    ingest: Ingest = request.app.state.ingest
    try:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RatingRejected(f"body is not JSON: {exc}"[:300]) from None
        event = rating_survey_event(payload)
        raw = orjson.dumps(event)
        decoded = decode_event(raw)  # the contract's own checks (the worker repeats them)
        limit = settings.rating_callback_queues
        problem = WriteScope(None if limit is None else frozenset(limit), request.app.state.store,
                             request.app.state.contact_owners).problem(decoded)
        if problem is not None:
            await _dead_letter(ingest, settings, body, "out_of_scope", problem)
            raise HTTPException(403, f"out_of_scope: {problem}")
    except (RatingRejected, EventRejected) as exc:
        reason = exc.reason if isinstance(exc, EventRejected) else "invalid_rating"
        message = exc.message if isinstance(exc, EventRejected) else str(exc)
        await _dead_letter(ingest, settings, body, reason, message)
        raise HTTPException(422, f"{reason}: {message}") from None
    topic = topic_for_type(settings, "survey.responded")
    try:
        producer = await ingest.producer()
        metadata = await (await producer.send(topic, raw, key=event["contact_id"].encode()))
    except KafkaUnreachable as exc:
        raise HTTPException(503, str(exc)) from None
    except KafkaError as exc:
        raise HTTPException(503, f"could not write to Kafka at {ingest.servers} ({exc}); send it again") from None
    return {"status": "accepted", "event_id": event["event_id"], "contact_id": event["contact_id"], "topic": topic,
            "partition": metadata.partition, "offset": metadata.offset}
