"""Channels: voice, chat and email figures across queues."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import CSV_RESPONSE, IntervalQuery, get_store, interval_answer, interval_query, known_channel
from api.store import ReadModelStore
from schemas.api import ChannelIntervals, ErrorResponse

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])
NOT_FOUND = {404: {"model": ErrorResponse, "description": "Not one of voice, chat, email"}}
BAD_RANGE = {422: {"model": ErrorResponse, "description": "Bad granularity, range or format"}}


@router.get("/{channel}/intervals", response_model=ChannelIntervals,
            responses={**CSV_RESPONSE, **NOT_FOUND, **BAD_RANGE}, summary="Interval figures of a channel",
            description="Every queue's contacts of the channel. Service level uses the channel default's "
                        "formula and target; each contact was counted within its own queue's threshold.")
async def channel_intervals(channel: str, q: IntervalQuery = Depends(interval_query),
                            store: ReadModelStore = Depends(get_store)):
    return interval_answer(store, "channel", known_channel(store, channel), "channel", q)
