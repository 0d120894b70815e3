"""Ingest: ``POST /api/v1/events`` for sources that can only call webhooks (e.g. a survey tool).

Each event of the batch is checked against the contract exactly as a worker checks it
(``schemas.events.decode_event``). Accepted events go to their topic with their
contract key; rejected ones go to the dead-letter topic with their original bytes and
the reason — the same as a bad message on a topic, so nothing is lost and
``ccpulse_events_rejected`` counts them. The answer is ``202`` with one result per event.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, HTTPException, Request

from api.auth import Principal
from api.deps import bounded_body, get_principal, json_batch, require
from api.writes import WriteScope
from ccpulse.kafka import KafkaUnreachable, start_producer, topic_for_type
from ccpulse.settings import Settings
from schemas.api import ErrorResponse, IngestResponse
from schemas.deadletter import deadletter_record
from schemas.events import EventRejected, decode_event, entity_key

__all__ = ["INGEST_SOURCE", "Ingest", "MAX_BATCH", "router"]

log = logging.getLogger("ccpulse.api")

router = APIRouter(prefix="/api/v1", tags=["ingest"])

#: Events per request, and bytes per request body.
MAX_BATCH = 1000
MAX_BODY = 4 * 1024 * 1024
#: The ``topic`` of dead-letter records of events rejected at the ingest endpoint.
INGEST_SOURCE = "api:/api/v1/events"


class Ingest:
    """The API's producer, started on the first ingest request (read-only deployments never need one)."""

    def __init__(self, settings: Settings, servers: str | None = None) -> None:
        self.settings = settings
        self.servers = servers or settings.kafka_servers
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                # acks=all (start_producer's default): a 202 means every in-sync replica has the event.
                self._producer = await start_producer(self.servers)
            return self._producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


@router.post(
    "/events", status_code=202, response_model=IngestResponse, summary="Send events (webhook ingest)",
    description="One event object or a JSON array of up to 1,000, each as the event contract defines it "
                "(docs/events.md). Needs a token with the `ingest` scope; a queue-limited token may only send "
                "events that touch its queues alone: a new contact or one of its queues, an agent staffed on its "
                "queues alone, surveys and QA of its contacts naming its agents (docs/operations.md, "
                "\"Security model\"); any other event is rejected `out_of_scope` and not produced to its topic. Every event gets a result; sending a batch again is harmless "
                "(events are de-duplicated by `event_id`).",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}, "maxItems": MAX_BATCH}]},
        "example": [{"type": "survey.responded", "event_id": "ev-1", "occurred_at": "2026-03-02T09:21:00Z",
                     "contact_id": "c-000123", "survey": "csat", "score": 4}]}}}},
    responses={400: {"model": ErrorResponse, "description": "The body is not JSON"},
               413: {"model": ErrorResponse, "description": "Too many events or too many bytes"},
               422: {"model": ErrorResponse, "description": "An empty batch"},
               503: {"model": ErrorResponse, "description": "Kafka is unreachable; send the batch again later"}},
)
async def ingest_events(request: Request, principal: Principal = Depends(get_principal)) -> dict:
    require(principal, "ingest")
    items = json_batch(await bounded_body(request, MAX_BODY), MAX_BATCH, "event object")
    settings: Settings = request.app.state.settings
    ingest: Ingest = request.app.state.ingest
    scope = WriteScope(principal.queues, request.app.state.store, request.app.state.contact_owners)
    try:
        producer = await ingest.producer()
    except KafkaUnreachable as exc:
        raise HTTPException(503, str(exc)) from None
    results: list[dict[str, Any]] = []
    pending: list[tuple[int, asyncio.Future[Any]]] = []
    try:
        for index, item in enumerate(items):
            raw = orjson.dumps(item)
            event_id = item.get("event_id") if isinstance(item, dict) and isinstance(item.get("event_id"), str) else None
            result: dict[str, Any] = {"index": index, "event_id": event_id, "status": "accepted", "code": 202}
            try:
                event = decode_event(raw)
                problem = scope.problem(event)
                if problem is not None:
                    raise EventRejected("out_of_scope", problem)
                scope.accepted(event)
            except EventRejected as exc:
                result.update(status="rejected", reason=exc.reason, message=exc.message,
                              code=403 if exc.reason == "out_of_scope" else 422)
                record = deadletter_record(raw=raw, key=None, topic=INGEST_SOURCE, partition=-1, offset=index,
                                           reason=exc.reason, message=f"{exc.message} (token {principal.name!r})",
                                           event_id=event_id)
                pending.append((-1, await producer.send(settings.topics.deadletter, record)))
            else:
                result["topic"] = topic_for_type(settings, event.type)
                pending.append((index, await producer.send(result["topic"], raw, key=entity_key(event).encode())))
            results.append(result)
        for index, future in pending:
            metadata = await future
            if index >= 0:
                results[index].update(partition=metadata.partition, offset=metadata.offset)
    except KafkaError as exc:
        raise HTTPException(503, f"could not write to Kafka at {ingest.servers} ({exc}); send the batch again "
                                 "(events are de-duplicated by event_id)") from None
    accepted = sum(r["status"] == "accepted" for r in results)
    log.info("ingest by %s: %d accepted, %d rejected", principal.name, accepted, len(results) - accepted)
    return {"accepted": accepted, "rejected": len(results) - accepted, "results": results}
