"""Contacts: drill-down to the recent contacts behind a breach or a poor score."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from api.auth import Principal
from api.deps import get_principal, get_store
from api.store import ReadModelStore
from ccpulse.readmodel.views import recent_contacts
from schemas.api import ErrorResponse, RecentList

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"])


@router.get("/recent", response_model=RecentList, responses={422: {"model": ErrorResponse}},
            summary="The most recent contacts, newest first",
            description="From the API's window of recent contacts (the newest 5,000 by event time, each kept while "
                        "the worker retains the contact). Every filter given must match.")
async def recent(
    queue_id: str | None = Query(None, description="Last queue of the contact"),
    agent_id: str | None = Query(None, description="Agent holding / who handled the contact"),
    channel: Literal["voice", "chat", "email"] | None = None,
    outcome: Literal["waiting", "answered", "abandoned", "flowed_out", "expired"] | None = None,
    breached: bool | None = Query(None, description="true: waited beyond its queue's service-level threshold"),
    max_csat: int | None = Query(None, ge=0, description="Only contacts with a CSAT answer at or below this score"),
    limit: int = Query(50, ge=1, le=500),
    store: ReadModelStore = Depends(get_store),
    principal: Principal = Depends(get_principal),
) -> dict:
    rows, total = recent_contacts(store, queue_id=queue_id, agent_id=agent_id, channel=channel, outcome=outcome,
                                  breached=breached, max_csat=max_csat, limit=limit,
                                  customer_ids=principal.can("customer_ids"))
    return {"contacts": rows, "total": total}
