"""Channels: voice, chat and email figures across queues."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.deps import (CSV_RESPONSE, PROFILE_CSV_RESPONSE, IntervalQuery, ProfileQuery, get_store, interval_answer,
                      interval_query, known_channel, profile_answer, profile_query)
from api.store import ReadModelStore
from schemas.api import ChannelIntervals, ErrorResponse, Profile

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Not one of voice, chat, email"},
}
BAD_RANGE: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "Bad granularity, range or format"},
}


@router.get("/{channel}/intervals", response_model=ChannelIntervals,
            responses={**CSV_RESPONSE, **NOT_FOUND, **BAD_RANGE}, summary="Interval figures of a channel",
            description="Every queue's contacts of the channel. Service level uses the channel default's "
                        "formula and target; each contact was counted within its own queue's threshold.")
async def channel_intervals(channel: str, q: IntervalQuery = Depends(interval_query),
                            store: ReadModelStore = Depends(get_store)):
    return await interval_answer(store, "channel", known_channel(store, channel), "channel", q, ChannelIntervals)


@router.get("/{channel}/profile", response_model=Profile, responses={**PROFILE_CSV_RESPONSE, **NOT_FOUND},
            summary="Weekday or hour-of-day profile of a channel",
            description="Offered, answered, ASA, response time, service level, AHT, CSAT, NPS and resolution time per "
                        "local weekday or hour of day over [start, end): the counters of all its 15-minute "
                        "intervals summed, then the formulas (never an average of ratios). "
                        "Every queue's contacts of the channel.")
async def channel_profile(channel: str, q: ProfileQuery = Depends(profile_query),
                          store: ReadModelStore = Depends(get_store)):
    return await profile_answer(store, "channel", known_channel(store, channel), "channel", q)
