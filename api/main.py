"""The FastAPI application: read API, health and metrics over the in-memory read model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.routes import agents, alerts, channels, contacts, health, metrics, queues, stream, summary, surveys, teams, wallboard
from api.store import ReadModelStore
from ccpulse.settings import Settings, get_settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, servers: str | None = None) -> FastAPI:
    settings = settings or get_settings()
    store = ReadModelStore(settings, servers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.start()
        yield
        await store.stop()

    app = FastAPI(
        title="ccpulse",
        version="1.0",
        summary="Live and interval contact-center figures",
        description="Read API over ccpulse's read model. Times are RFC 3339, durations seconds, ratios 0–1.",
        lifespan=lifespan,
    )
    app.state.store = store
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET"], allow_headers=["*"])
    app.state.settings = settings

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"detail": f"{where}: {first.get('msg')}"}, status_code=422)

    for module in (queues, agents, teams, channels, summary, surveys, contacts, alerts, health, metrics, stream, wallboard):
        app.include_router(module.router)
    return app
