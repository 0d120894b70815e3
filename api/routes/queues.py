"""Queues: live state, current interval, today, and interval history."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from api.deps import get_store, known_queue
from api.store import ReadModelStore
from api.views import interval_rows, queue_views
from ccpulse.domain.intervals import iso
from schemas.api import ErrorResponse, IntervalList, QueueList, QueueView

router = APIRouter(prefix="/api/v1/queues", tags=["queues"])
NOT_FOUND = {404: {"model": ErrorResponse, "description": "Unknown queue"}}


@router.get("", response_model=QueueList, summary="Every queue: live state, current interval and today")
async def list_queues(store: ReadModelStore = Depends(get_store)) -> dict:
    now = time.time()
    return {"generated_at": iso(now), "queues": queue_views(store, now)}


@router.get("/{queue_id}", response_model=QueueView, responses=NOT_FOUND, summary="One queue")
async def get_queue(queue_id: str, store: ReadModelStore = Depends(get_store)) -> dict:
    return queue_views(store, only=known_queue(store, queue_id))[0]


@router.get("/{queue_id}/intervals", response_model=IntervalList, responses={**NOT_FOUND, 422: {"description": "Bad range"}},
            summary="Interval figures of a queue")
async def queue_intervals(
    queue_id: str,
    granularity: Literal["15m", "1h", "1d"] = "15m",
    start: datetime | None = Query(None, description="RFC 3339; default: start of today (configured time zone)"),
    end: datetime | None = Query(None, description="RFC 3339, exclusive; default: now"),
    store: ReadModelStore = Depends(get_store),
) -> dict:
    known_queue(store, queue_id)
    zone = store.settings.zone
    for name, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} needs a UTC offset, e.g. 2026-11-23T08:00:00Z")
    now = time.time()
    end_t = end.timestamp() if end else now + 1
    start_t = start.timestamp() if start else datetime.fromtimestamp(now, zone).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    if end_t <= start_t:
        raise HTTPException(422, "end must be after start")
    if end_t - start_t > 400 * 86400:
        raise HTTPException(422, "range too long: at most 400 days")
    return {"queue_id": queue_id, "granularity": granularity, "timezone": store.settings.timezone,
            "intervals": interval_rows(store, queue_id, granularity, start_t, end_t)}
