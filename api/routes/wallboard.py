"""The wallboard page: plain HTML/CSS/JS over the SSE stream (``/api/v1/stream``).

The page itself holds no data, so it is served without a token; it passes the
``token`` of its own URL on to the API calls it makes.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

__all__ = ["router"]

STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter()


@router.get("/wallboard", include_in_schema=False)
async def wallboard() -> FileResponse:
    return FileResponse(STATIC / "wallboard.html", media_type="text/html",
                        headers={"Cache-Control": "no-cache"})
