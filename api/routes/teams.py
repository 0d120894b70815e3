"""Teams: the sum of their agents' interval figures."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import CSV_RESPONSE, IntervalQuery, get_store, interval_answer, interval_query, known_team
from api.store import ReadModelStore
from schemas.api import ErrorResponse, TeamIntervals

router = APIRouter(prefix="/api/v1/teams", tags=["teams"])
NOT_FOUND = {404: {"model": ErrorResponse, "description": "No agent belongs to this team"}}
BAD_RANGE = {422: {"model": ErrorResponse, "description": "Bad granularity, range or format"}}


@router.get("/{team}/intervals", response_model=TeamIntervals,
            responses={**CSV_RESPONSE, **NOT_FOUND, **BAD_RANGE}, summary="Interval figures of a team",
            description="Sums of the interval counters of the agents whose current row names the team (an agent "
                        "who changed team brings their history along), then the formulas. Service level uses the "
                        "voice channel default's formula and target, as for agents.")
async def team_intervals(team: str, q: IntervalQuery = Depends(interval_query),
                         store: ReadModelStore = Depends(get_store)):
    agents = known_team(store, team)
    return interval_answer(store, "team", team, "team", q, agent_ids=agents)
