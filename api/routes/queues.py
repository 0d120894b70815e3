"""Queues: live state, current interval, today, staffing, and interval history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import Principal
from api.deps import (CSV_RESPONSE, PROFILE_CSV_RESPONSE, IntervalQuery, ProfileQuery, get_principal, get_store,
                      interval_answer, interval_query, known_queue, model_response, paced, profile_answer, profile_query, queue_selection)
from api.store import ReadModelStore
from ccpulse.readmodel.views import iter_queue_views, mask, queue_views
from ccpulse.domain.intervals import iso
from schemas.api import ErrorResponse, Profile, QueueContacts, QueueIntervals, QueueList, QueueView

router = APIRouter(prefix="/api/v1/queues", tags=["queues"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "Unknown queue"}}
BAD_RANGE: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "Bad granularity, range or format"},
}


@router.get("", response_model=QueueList, summary="Every queue: live state, current interval, today and staffing")
async def list_queues(store: ReadModelStore = Depends(get_store),
                      selection: frozenset[str] | None = Depends(queue_selection)) -> Response:
    now = store.event_now()
    views = await paced(iter_queue_views(store, now, among=selection))
    # Checking and writing the views (40 ms at 500 queues) reads only them: in a worker thread.
    return await run_in_threadpool(model_response, QueueList, {"generated_at": iso(now), "queues": views}, "queues")


@router.get("/{queue_id}", response_model=QueueView, responses=NOT_FOUND, summary="One queue")
async def get_queue(queue_id: str, store: ReadModelStore = Depends(get_store)) -> dict:
    return queue_views(store, only=known_queue(store, queue_id))[0]


@router.get("/{queue_id}/intervals", response_model=QueueIntervals,
            responses={**CSV_RESPONSE, **NOT_FOUND, **BAD_RANGE}, summary="Interval figures of a queue")
async def queue_intervals(queue_id: str, q: IntervalQuery = Depends(interval_query),
                          store: ReadModelStore = Depends(get_store)):
    return await interval_answer(store, "queue", known_queue(store, queue_id), "queue_id", q, QueueIntervals)


@router.get("/{queue_id}/profile", response_model=Profile, responses={**PROFILE_CSV_RESPONSE, **NOT_FOUND},
            summary="Weekday or hour-of-day profile of a queue",
            description="Offered, answered, ASA, response time, service level, AHT, CSAT, NPS and resolution time per "
                        "local weekday or hour of day over [start, end): the counters of all its 15-minute "
                        "intervals summed, then the formulas (never an average of ratios). "
                        "Waits and the threshold are on the queue's SLA clock (see docs/metrics.md).")
async def queue_profile(queue_id: str, q: ProfileQuery = Depends(profile_query),
                        store: ReadModelStore = Depends(get_store)):
    return await profile_answer(store, "queue", known_queue(store, queue_id), "queue_id", q)


@router.get("/{queue_id}/contacts", response_model=QueueContacts, responses=NOT_FOUND,
            summary="The contacts waiting in a queue now, longest wait first")
async def queue_contacts(queue_id: str, store: ReadModelStore = Depends(get_store),
                         principal: Principal = Depends(get_principal)) -> dict:
    known_queue(store, queue_id)
    now = store.event_now()
    rows = [row for row in store.contacts.values()
            if row.get("queue_id") == queue_id and row.get("status") == "waiting" and row.get("queued_at") is not None]
    rows.sort(key=lambda r: (r["queued_at"], r.get("contact_id") or ""))
    return {
        "queue_id": queue_id,
        "generated_at": iso(now),
        "contacts": [{
            "contact_id": row["contact_id"],
            "channel": row.get("channel") or "voice",
            "queued_at": iso(row["queued_at"]),
            "wait_seconds": round(max(0.0, now - row["queued_at"]), 3),
            "priority": int(row.get("priority") or 0),
            "customer_id": row.get("customer_id") if principal.can("customer_ids") else mask(row.get("customer_id")),
        } for row in rows],
    }
