"""The whole centre at a glance."""

from __future__ import annotations


from fastapi import APIRouter, Depends

from api.deps import PROFILE_CSV_RESPONSE, ProfileQuery, get_store, profile_answer, profile_query
from api.store import ReadModelStore
from ccpulse.readmodel.views import summary_view
from schemas.api import Profile, Summary

router = APIRouter(prefix="/api/v1/summary", tags=["summary"])


@router.get("", response_model=Summary, summary="Centre-wide live figures, current interval, today and channels",
            description="Live: every waiting contact and every logged-in agent counted once. Intervals: the "
                        "counters of all queues summed, then the formulas (never an average of queue ratios); "
                        "service level counts each contact within its own queue's threshold, with the voice channel "
                        "default's formula and target.")
async def get_summary(store: ReadModelStore = Depends(get_store)) -> dict:
    return summary_view(store, store.event_now())


@router.get("/profile", response_model=Profile, responses=PROFILE_CSV_RESPONSE,
            summary="Weekday or hour-of-day profile of the whole centre",
            description="Offered, answered, ASA, response time, service level, AHT, CSAT, NPS and resolution time per "
                        "local weekday or hour of day over [start, end): the counters of all its 15-minute "
                        "intervals summed, then the formulas (never an average of ratios). "
                        "All queues (a queue-scoped token: its queues) summed.")
async def centre_profile(q: ProfileQuery = Depends(profile_query), store: ReadModelStore = Depends(get_store)):
    return await profile_answer(store, "centre", None, "centre", q)
