"""SLA alerts raised by the workers (from ``cc.alerts``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from api.deps import get_store, queue_selection
from api.store import ReadModelStore
from ccpulse.domain.intervals import iso
from schemas.api import AlertList, ErrorResponse

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertList, summary="Alerts, newest first",
            responses={422: {"model": ErrorResponse, "description": "Bad state or limit"}})
async def list_alerts(
    state: Literal["firing", "resolved"] | None = Query(None, description="Only alerts in this state"),
    limit: int = Query(200, ge=1, le=1000),
    store: ReadModelStore = Depends(get_store),
    selection: frozenset[str] | None = Depends(queue_selection),
) -> dict:
    rows = [a for a in store.alerts.values()
            if (state is None or a["state"] == state) and (selection is None or a["queue_id"] in selection)]
    rows.sort(key=lambda a: (a["started_at"], a["id"]), reverse=True)
    return {"alerts": [{**a, "started_at": iso(a["started_at"]),
                        "resolved_at": iso(a["resolved_at"]) if a.get("resolved_at") is not None else None}
                       for a in rows[:limit]]}
