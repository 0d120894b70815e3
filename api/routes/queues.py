"""Queues: live state, current interval, today, staffing, and interval history."""

from __future__ import annotations


from fastapi import APIRouter, Depends

from api.deps import CSV_RESPONSE, IntervalQuery, get_store, interval_answer, interval_query, known_queue
from api.store import ReadModelStore
from api.views import queue_views
from ccpulse.domain.intervals import iso
from schemas.api import ErrorResponse, QueueIntervals, QueueList, QueueView

router = APIRouter(prefix="/api/v1/queues", tags=["queues"])
NOT_FOUND = {404: {"model": ErrorResponse, "description": "Unknown queue"}}
BAD_RANGE = {422: {"model": ErrorResponse, "description": "Bad granularity, range or format"}}


@router.get("", response_model=QueueList, summary="Every queue: live state, current interval, today and staffing")
async def list_queues(store: ReadModelStore = Depends(get_store)) -> dict:
    now = store.event_now()
    return {"generated_at": iso(now), "queues": queue_views(store, now)}


@router.get("/{queue_id}", response_model=QueueView, responses=NOT_FOUND, summary="One queue")
async def get_queue(queue_id: str, store: ReadModelStore = Depends(get_store)) -> dict:
    return queue_views(store, only=known_queue(store, queue_id))[0]


@router.get("/{queue_id}/intervals", response_model=QueueIntervals,
            responses={**CSV_RESPONSE, **NOT_FOUND, **BAD_RANGE}, summary="Interval figures of a queue")
async def queue_intervals(queue_id: str, q: IntervalQuery = Depends(interval_query),
                          store: ReadModelStore = Depends(get_store)):
    return interval_answer(store, "queue", known_queue(store, queue_id), "queue_id", q)
