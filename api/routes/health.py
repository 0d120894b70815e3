"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.deps import raw_store
from api.store import ReadModelStore
from schemas.api import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The API process is up")
async def healthz(store: ReadModelStore = Depends(raw_store)) -> Health:
    return Health(status="ok", rows=store.rows_applied)


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}},
            summary="Ready only once the read model has caught up with Kafka")
async def readyz(store: ReadModelStore = Depends(raw_store)) -> JSONResponse:
    if store.ready:
        return JSONResponse(Health(status="ok", rows=store.rows_applied).model_dump())
    return JSONResponse(Health(status="not_ready", reason=store.not_ready_reason, rows=store.rows_applied).model_dump(),
                        status_code=503)
