"""The wallboard page (plain HTML/CSS/JS over the SSE stream) and the waiting contacts of a queue."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from api.deps import get_store, known_queue
from api.store import ReadModelStore
from ccpulse.domain.intervals import iso
from schemas.api import ErrorResponse, QueueContacts

__all__ = ["mask", "router"]

STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter()


def mask(value: str | None) -> str | None:
    """``cust-47`` -> ``c***7``: first and last character only (``***`` when too short to keep any)."""
    if value is None:
        return None
    text = str(value)
    return "***" if len(text) < 3 else f"{text[0]}***{text[-1]}"


@router.get("/wallboard", include_in_schema=False)
async def wallboard() -> FileResponse:
    return FileResponse(STATIC / "wallboard.html", media_type="text/html",
                        headers={"Cache-Control": "no-cache"})


@router.get("/api/v1/queues/{queue_id}/contacts", response_model=QueueContacts, tags=["queues"],
            responses={404: {"model": ErrorResponse, "description": "Unknown queue"}},
            summary="The contacts waiting in a queue now, longest wait first")
async def queue_contacts(queue_id: str, store: ReadModelStore = Depends(get_store)) -> dict:
    known_queue(store, queue_id)
    now = store.event_now()
    rows = [row for row in store.contacts.values()
            if row.get("queue_id") == queue_id and row.get("status") == "waiting" and row.get("queued_at") is not None]
    rows.sort(key=lambda r: (r["queued_at"], r.get("contact_id") or ""))
    return {
        "queue_id": queue_id,
        "generated_at": iso(now),
        "contacts": [{
            "contact_id": row["contact_id"],
            "channel": row.get("channel") or "voice",
            "queued_at": iso(row["queued_at"]),
            "wait_seconds": round(max(0.0, now - row["queued_at"]), 3),
            "priority": int(row.get("priority") or 0),
            "customer_id": mask(row.get("customer_id")),
        } for row in rows],
    }
