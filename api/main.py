"""The FastAPI application: read API, health and metrics over the in-memory read model."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.auth import TokenRegistry
from api.deps import AUTH_RESPONSES
from api.routes import (agents, alerts, callbacks, channels, connectors, contacts, events, health, metrics, queues,
                        retention, stream, summary, surveys, teams, wallboard)
from api.store import ReadModelStore
from api.writes import ContactOwners
from ccpulse.settings import Settings, get_settings

log = logging.getLogger("ccpulse.api")

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, servers: str | None = None) -> FastAPI:
    settings = settings or get_settings()
    store = ReadModelStore(settings, servers)
    tokens = TokenRegistry(settings)
    ingest = events.Ingest(settings, servers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not tokens.enabled:
            log.warning("authentication is DISABLED: anyone who reaches this API reads everything (demo use only)")
        elif not len(tokens):
            log.warning("no API tokens are configured, so every request gets 401: create one with "
                        "`ccpulse token create`, or set CCPULSE_AUTH_ENABLED=false for a demo")
        store.start()
        yield
        await ingest.stop()
        await store.stop()

    app = FastAPI(
        title="ccpulse",
        version="1.0",
        summary="Live and interval contact-center figures",
        description="Read API over ccpulse's read model. Times are RFC 3339, durations seconds, ratios 0–1.",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.tokens = tokens
    app.state.ingest = ingest
    app.state.contact_owners = ContactOwners()  # contacts queued through this API (api/writes.py)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.state.settings = settings

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"detail": f"{where}: {first.get('msg')}"}, status_code=422)

    for module in (queues, agents, teams, channels, summary, surveys, contacts, alerts, metrics, stream, events,
                   retention, callbacks, connectors):
        app.include_router(module.router, responses=AUTH_RESPONSES)
    for module in (health, wallboard):  # no data: open to probes and TVs
        app.include_router(module.router)
    return app
