"""Agents: current state and time in state, and interval figures."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from api.deps import (CSV_RESPONSE, PROFILE_CSV_RESPONSE, IntervalQuery, ProfileQuery, get_store, interval_answer,
                      interval_query, known_agent, profile_answer, profile_query)
from api.store import ReadModelStore
from ccpulse.readmodel.views import agent_view, select_queues
from schemas.api import AgentIntervals, AgentList, AgentRow, ErrorResponse, Profile

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "Unknown agent"}}
BAD_RANGE: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "Bad granularity, range or format"},
}


@router.get("", response_model=AgentList, summary="Agents with their current state",
            responses={422: {"model": ErrorResponse, "description": "Bad limit or offset"}})
async def list_agents(
    queue_id: str | None = Query(None, description="Only agents staffed on this queue"),
    group: str | None = Query(None, description="Only agents staffed on a queue of this queue group"),
    team: str | None = None,
    site: str | None = Query(None, description="Only agents of this site"),
    state: str | None = None,
    include_offline: bool = False,
    limit: int = Query(500, ge=1, le=5000),
    offset: int = Query(0, ge=0),
    store: ReadModelStore = Depends(get_store),
) -> dict:
    now = store.event_now()
    grouped = select_queues(store, group=group) if group is not None else None
    rows = [
        row for row in store.agents.values()
        if (include_offline or row["state"] != "offline" or state == "offline")
        and (queue_id is None or queue_id in (row.get("queue_ids") or ()))
        and (grouped is None or grouped.intersection(row.get("queue_ids") or ()))
        and (team is None or row.get("team") == team)
        and (site is None or row.get("site") == site)
        and (state is None or row["state"] == state)
    ]
    rows.sort(key=lambda r: r["agent_id"])
    return {"agents": [agent_view(r, now) for r in rows[offset:offset + limit]], "total": len(rows)}


@router.get("/{agent_id}", response_model=AgentRow, responses=NOT_FOUND, summary="One agent")
async def get_agent(agent_id: str, store: ReadModelStore = Depends(get_store)) -> dict:
    row = store.agents.get(agent_id)
    if row is None:
        raise HTTPException(404, f"unknown agent {agent_id!r}")
    return agent_view(row, store.event_now())


@router.get("/{agent_id}/intervals", response_model=AgentIntervals,
            responses={**CSV_RESPONSE, **NOT_FOUND, **BAD_RANGE}, summary="Interval figures of an agent",
            description="Contacts the agent answered and handled, their handle time, surveys and QA naming the "
                        "agent, and time in state, occupancy and utilization. Service level: each contact was "
                        "counted within its own queue's threshold; the formula and target are the voice channel "
                        "default's (agents serve queues with different settings).")
async def agent_intervals(agent_id: str, q: IntervalQuery = Depends(interval_query),
                          store: ReadModelStore = Depends(get_store)):
    return await interval_answer(store, "agent", known_agent(store, agent_id), "agent_id", q, AgentIntervals)


@router.get("/{agent_id}/profile", response_model=Profile, responses={**PROFILE_CSV_RESPONSE, **NOT_FOUND},
            summary="Weekday or hour-of-day profile of an agent",
            description="Offered, answered, ASA, response time, service level, AHT, CSAT, NPS and resolution time per "
                        "local weekday or hour of day over [start, end): the counters of all its 15-minute "
                        "intervals summed, then the formulas (never an average of ratios). "
                        "Contacts the agent answered and handled, surveys naming the agent.")
async def agent_profile(agent_id: str, q: ProfileQuery = Depends(profile_query),
                        store: ReadModelStore = Depends(get_store)):
    return await profile_answer(store, "agent", known_agent(store, agent_id), "agent_id", q)
