"""The whole centre at a glance."""

from __future__ import annotations


from fastapi import APIRouter, Depends

from api.deps import get_store
from api.store import ReadModelStore
from api.views import summary_view
from schemas.api import Summary

router = APIRouter(prefix="/api/v1/summary", tags=["summary"])


@router.get("", response_model=Summary, summary="Centre-wide live figures, current interval, today and channels",
            description="Live: every waiting contact and every logged-in agent counted once. Intervals: the "
                        "counters of all queues summed, then the formulas (never an average of queue ratios); "
                        "service level counts each contact within its own queue's threshold, with the voice channel "
                        "default's formula and target.")
async def get_summary(store: ReadModelStore = Depends(get_store)) -> dict:
    return summary_view(store, store.event_now())
