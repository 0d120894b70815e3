"""Platform connectors that call ccpulse: Twilio TaskRouter event callbacks and Amazon Connect (EventBridge).

Both map the platform's records with the pure mappings of ``ccpulse/connectors/`` and send the
events through the API's producer (``Ingest``) exactly as ``POST /api/v1/events`` does: each event
checked against the contract, to its topic with its contract key; what cannot be mapped goes to
the dead-letter topic with the platform's original bytes and the reason (and the answer says so).

- ``POST /api/v1/connectors/twilio/taskrouter``: authenticated by ``X-Twilio-Signature``, checked
  with the ``twilio`` package's ``RequestValidator`` against ``CCPULSE_CONNECTORS__TWILIO_AUTH_TOKEN``
  (TaskRouter cannot send a bearer token). Answers 204, as TaskRouter expects within 15 s.
- ``POST /api/v1/connectors/amazon-connect``: an API token with the ``ingest`` scope (an EventBridge
  API destination sends it as ``Authorization: Bearer …``); a queue-limited token may send only
  events of its queues.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel
from twilio.request_validator import RequestValidator

from api.auth import Principal
from api.deps import get_principal, json_batch, require
from api.routes.events import Ingest
from api.writes import WriteScope
from ccpulse.connectors import Rejected
from ccpulse.connectors.amazon_connect import map_record
from ccpulse.connectors.sink import Sink
from ccpulse.connectors.twilio import map_callback
from ccpulse.kafka import KafkaUnreachable
from ccpulse.settings import Settings
from schemas.api import ErrorResponse
from schemas.events import EventRejected, decode_event

__all__ = ["AMAZON_CONNECT_SOURCE", "TWILIO_SOURCE", "router"]

log = logging.getLogger("ccpulse.api")

router = APIRouter(prefix="/api/v1/connectors", tags=["connectors"])

TWILIO_SOURCE = "api:/api/v1/connectors/twilio/taskrouter"
AMAZON_CONNECT_SOURCE = "api:/api/v1/connectors/amazon-connect"
#: A TaskRouter callback is a few KiB of form fields (task attributes included).
TWILIO_MAX_BODY = 64 * 1024
#: EventBridge events are at most 256 KiB; a batch of agent stream records may be larger.
AMAZON_MAX_BODY = 1024 * 1024
AMAZON_MAX_RECORDS = 500
SIGNATURE_HEADER = "X-Twilio-Signature"


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body too large: at most {limit // 1024} KiB")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body too large: at most {limit // 1024} KiB")
    return body


async def _sink(request: Request, source: str) -> Sink:
    ingest: Ingest = request.app.state.ingest
    try:
        producer = await ingest.producer()
    except KafkaUnreachable as exc:
        raise HTTPException(503, str(exc)) from None
    return Sink(request.app.state.settings, producer, source)


async def _flush(sink: Sink, request: Request) -> None:
    try:
        await sink.flush()
    except KafkaError as exc:
        raise HTTPException(503, f"could not write to Kafka ({exc}); send it again (events are de-duplicated by "
                                 "event_id)") from None


@router.post(
    "/twilio/taskrouter", status_code=204, summary="Twilio TaskRouter event callback (signed)",
    description="Point the TaskRouter workspace's Event Callback URL here. Tasks become contacts, TaskQueues queues, "
                "task channels channels, workers agents, activities agent states (docs/connectors.md). Authenticated "
                f"by `{SIGNATURE_HEADER}` (checked with the auth token CCPULSE_CONNECTORS__TWILIO_AUTH_TOKEN), not "
                "by a bearer token. Events ccpulse does not need are accepted and ignored.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
        "schema": {"type": "object", "additionalProperties": {"type": "string"}},
        "example": {"EventType": "task-queue.entered", "Sid": "EV00000000000000000000000000000001",
                    "Timestamp": "1772442060", "TaskSid": "WT00000000000000000000000000000001",
                    "TaskQueueSid": "WQ00000000000000000000000000000001", "TaskChannelUniqueName": "voice",
                    "TaskAttributes": "{\"from\": \"+15551230001\"}"}}}}},
    responses={204: {"description": "Mapped and sent (or ignored: an event ccpulse does not need)"},
               403: {"model": ErrorResponse, "description": "Missing or wrong X-Twilio-Signature"},
               413: {"model": ErrorResponse, "description": "Body larger than 64 KiB"},
               422: {"model": ErrorResponse, "description": "Signed, but not a callback ccpulse can map (dead-lettered)"},
               404: {"model": ErrorResponse, "description": "Not configured (CCPULSE_CONNECTORS__TWILIO_AUTH_TOKEN unset)"},
               503: {"model": ErrorResponse, "description": "Kafka unreachable: Twilio retries"}},
)
async def twilio_taskrouter(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    token = settings.connectors.twilio_auth_token
    if not token:
        # The endpoint is off until configured: a 404 (not a 5xx — nothing failed) that names the fix.
        raise HTTPException(404, "Twilio callbacks are not configured: set CCPULSE_CONNECTORS__TWILIO_AUTH_TOKEN "
                                 "to the account's auth token")
    body = await _body(request, TWILIO_MAX_BODY)
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    url = settings.connectors.twilio_public_url or str(request.url)
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature or not RequestValidator(token).validate(url, params, signature):
        raise HTTPException(403, f"missing or invalid {SIGNATURE_HEADER} for {url}: check the auth token, and set "
                                 "CCPULSE_CONNECTORS__TWILIO_PUBLIC_URL to the URL Twilio calls if a proxy changes it")
    sink = await _sink(request, TWILIO_SOURCE)
    try:
        events = map_callback(params, settings.connectors.twilio_activities)
    except Rejected as exc:
        await sink.dead_letter(body, exc.reason, exc.message)
        await _flush(sink, request)
        raise HTTPException(422, f"{exc.reason}: {exc.message}") from None
    sent = await sink.emit(events, body) if events else True
    await _flush(sink, request)
    if not sent:
        reason = next(iter(sink.rejected))
        raise HTTPException(422, f"{reason}: a mapped event was refused by the contract (dead-lettered)")
    return Response(status_code=204, headers={"Content-Type": "application/json"})


class ConnectorResult(BaseModel):
    index: int
    status: str
    events: int = 0
    reason: str | None = None
    message: str | None = None


class ConnectorResponse(BaseModel):
    accepted: int
    rejected: int
    events: int
    results: list[ConnectorResult]


@router.post(
    "/amazon-connect", status_code=202, response_model=ConnectorResponse,
    summary="Amazon Connect contact events and agent event stream records",
    description="One record or a JSON array of up to 500: EventBridge `Amazon Connect Contact Event`s (e.g. from an "
                "EventBridge API destination) or agent event stream records (docs/connectors.md). Needs a token with "
                "the `ingest` scope. Each record gets a result; records that cannot be mapped are dead-lettered.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}, "maxItems": AMAZON_MAX_RECORDS}]},
        "example": {"id": "0d3a6bc4-7c1e-4a4b-9b1e-000000000001", "detail-type": "Amazon Connect Contact Event",
                    "source": "aws.connect", "time": "2026-03-02T09:01:00Z",
                    "detail": {"eventType": "QUEUED", "contactId": "c0ffee00-0000-4000-8000-000000000001",
                               "channel": "VOICE", "queueInfo": {
                                   "queueArn": "arn:aws:connect:eu-west-1:111122223333:instance/i-1/queue/support",
                                   "enqueueTimestamp": "2026-03-02T09:01:00.000Z"}}}}}}},
    responses={400: {"model": ErrorResponse, "description": "The body is not JSON"},
               413: {"model": ErrorResponse, "description": "Too many records or bytes"},
               422: {"model": ErrorResponse, "description": "An empty batch"},
               503: {"model": ErrorResponse, "description": "Kafka is unreachable; send it again"}},
)
async def amazon_connect(request: Request, principal: Principal = Depends(get_principal)) -> dict[str, Any]:
    require(principal, "ingest")
    items = json_batch(await _body(request, AMAZON_MAX_BODY), AMAZON_MAX_RECORDS, "record")
    settings: Settings = request.app.state.settings
    scope = WriteScope(principal.queues, request.app.state.store, request.app.state.contact_owners)
    sink = await _sink(request, AMAZON_CONNECT_SOURCE)
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        raw = orjson.dumps(item)
        try:
            events = map_record(item, settings.connectors.amazon_connect)
            decoded = [decode_event(orjson.dumps(event)) for event in events]
            for event in decoded:  # the same write scope as POST /api/v1/events (api/writes.py)
                problem = scope.problem(event)
                if problem is not None:
                    raise Rejected("out_of_scope", problem)
                scope.accepted(event)
        except (Rejected, EventRejected) as exc:
            await sink.dead_letter(raw, exc.reason, f"{exc.message} (token {principal.name!r})", index)
            results.append({"index": index, "status": "rejected", "reason": exc.reason, "message": exc.message})
            continue
        if events and not await sink.emit(events, raw, index):
            results.append({"index": index, "status": "rejected", "reason": "schema_violation",
                            "message": "a mapped event was refused by the contract"})
            continue
        results.append({"index": index, "status": "accepted", "events": len(events)})
    await _flush(sink, request)
    accepted = sum(r["status"] == "accepted" for r in results)
    log.info("amazon-connect by %s: %d accepted, %d rejected", principal.name, accepted, len(results) - accepted)
    return {"accepted": accepted, "rejected": len(results) - accepted, "events": sum(r.get("events", 0) for r in results),
            "results": results}
