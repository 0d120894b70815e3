"""Teams: the sum of their agents' interval figures."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.deps import (CSV_RESPONSE, PROFILE_CSV_RESPONSE, IntervalQuery, ProfileQuery, get_store, interval_answer,
                      interval_query, known_team, profile_answer, profile_query)
from api.store import ReadModelStore
from schemas.api import ErrorResponse, Profile, TeamIntervals

router = APIRouter(prefix="/api/v1/teams", tags=["teams"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No agent belongs to this team"},
}
BAD_RANGE: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "Bad granularity, range or format"},
}


@router.get("/{team}/intervals", response_model=TeamIntervals,
            responses={**CSV_RESPONSE, **NOT_FOUND, **BAD_RANGE}, summary="Interval figures of a team",
            description="Sums of the interval counters of the agents whose current row names the team (an agent "
                        "who changed team brings their history along), then the formulas. Service level uses the "
                        "voice channel default's formula and target, as for agents.")
async def team_intervals(team: str, q: IntervalQuery = Depends(interval_query),
                         store: ReadModelStore = Depends(get_store)):
    agents = known_team(store, team)
    return await interval_answer(store, "team", team, "team", q, TeamIntervals, agent_ids=agents)


@router.get("/{team}/profile", response_model=Profile, responses={**PROFILE_CSV_RESPONSE, **NOT_FOUND},
            summary="Weekday or hour-of-day profile of a team",
            description="Offered, answered, ASA, response time, service level, AHT, CSAT, NPS and resolution time per "
                        "local weekday or hour of day over [start, end): the counters of all its 15-minute "
                        "intervals summed, then the formulas (never an average of ratios). "
                        "A team is the agents whose current row names it.")
async def team_profile(team: str, q: ProfileQuery = Depends(profile_query), store: ReadModelStore = Depends(get_store)):
    known_team(store, team)
    return await profile_answer(store, "team", team, "team", q)
