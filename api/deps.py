"""Shared FastAPI dependencies."""

from __future__ import annotations

from fastapi import HTTPException, Request

from api.store import ReadModelStore
from ccpulse.settings import Settings

__all__ = ["get_store", "get_settings", "known_queue"]


def get_store(request: Request) -> ReadModelStore:
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def known_queue(store: ReadModelStore, queue_id: str) -> str:
    if queue_id not in store.queue_ids():
        raise HTTPException(status_code=404, detail=f"unknown queue {queue_id!r}")
    return queue_id
