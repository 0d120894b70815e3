"""Server-Sent Events: a live snapshot (centre, queues, agents, firing alerts) every second.

The snapshot is built at most once per second per process and per filter, and shared by every
client with the same filter, so a room of wallboards costs one build a second, not one each.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import get_store
from api.store import ReadModelStore
from api.views import agent_view, queue_views, summary_view
from ccpulse.domain.intervals import iso

__all__ = ["SnapshotCache", "build_snapshot", "parse_queue_filter", "router"]

router = APIRouter(prefix="/api/v1", tags=["stream"])

#: Seconds between snapshots; a keepalive comment is sent half-way between two.
PERIOD = 1.0
#: Distinct filters kept in the cache (wallboards rarely use more than a few).
CACHE_SIZE = 64


def parse_queue_filter(values: list[str] | None) -> tuple[str, ...]:
    """``?queue_id=a&queue_id=b,c`` -> ("a", "b", "c") (sorted, deduplicated); () = every queue."""
    out: set[str] = set()
    for value in values or ():
        out.update(part.strip() for part in value.split(",") if part.strip())
    return tuple(sorted(out))


def build_snapshot(store: ReadModelStore, queues: tuple[str, ...] = (), now: float | None = None) -> dict[str, Any]:
    """One snapshot: the centre, the (filtered) queues, their logged-in agents and firing alerts."""
    now = store.event_now() if now is None else now
    wanted = set(queues)
    queue_rows = [q for q in queue_views(store, now) if not wanted or q["queue_id"] in wanted]
    agents = [agent_view(row, now) for row in store.agents.values()
              if row.get("state") != "offline"
              and (not wanted or wanted.intersection(row.get("queue_ids") or ()))]
    agents.sort(key=lambda a: a["agent_id"])
    alerts = [a for a in store.alerts.values()
              if a.get("state") == "firing" and (not wanted or a.get("queue_id") in wanted)]
    alerts.sort(key=lambda a: (0 if a.get("severity") == "critical" else 1, -a["started_at"], a["id"]))
    return {
        "generated_at": iso(now),
        "summary": summary_view(store, now),
        "queues": queue_rows,
        "agents": agents,
        "alerts": [{**a, "started_at": iso(a["started_at"]),
                    "resolved_at": iso(a["resolved_at"]) if a.get("resolved_at") is not None else None}
                   for a in alerts],
    }


class SnapshotCache:
    """Serialized snapshots by filter, rebuilt when older than ``max_age`` seconds."""

    def __init__(self, store: ReadModelStore, max_age: float = PERIOD) -> None:
        self.store = store
        self.max_age = max_age
        self._entries: dict[tuple[str, ...], tuple[float, bytes]] = {}
        self.builds = 0

    def get(self, queues: tuple[str, ...]) -> bytes:
        clock = time.monotonic()
        entry = self._entries.get(queues)
        if entry is not None and clock - entry[0] < self.max_age:
            return entry[1]
        data = orjson.dumps(build_snapshot(self.store, queues))
        self.builds += 1
        if len(self._entries) >= CACHE_SIZE and queues not in self._entries:
            # Drop the stalest filter.
            del self._entries[min(self._entries, key=lambda k: self._entries[k][0])]
        self._entries[queues] = (clock, data)
        return data


def snapshot_cache(request: Request) -> SnapshotCache:
    state = request.app.state
    store = request.app.state.store
    cache = getattr(state, "snapshot_cache", None)
    if cache is None or cache.store is not store:
        cache = state.snapshot_cache = SnapshotCache(store)
    return cache


# ---- ending streams on shutdown ---------------------------------------------------------------
# uvicorn's graceful shutdown waits for open responses to finish, and an SSE response never does:
# without this, SIGTERM would hang the API for as long as a wallboard is connected. The server's
# lifespan shutdown runs only after the connections closed, so the signal itself is watched
# (chained in front of the server's handler, which still runs).
_shutdown = threading.Event()
_watching = False


def _watch_shutdown() -> None:
    global _watching
    if _watching or threading.current_thread() is not threading.main_thread():
        return
    _watching = True
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            _shutdown.set()
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL and signum == signal.SIGINT:
                raise KeyboardInterrupt

        signal.signal(sig, handler)


async def _events(request: Request, cache: SnapshotCache, queues: tuple[str, ...]) -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"  # EventSource reconnects 2 s after the API went away
    while not _shutdown.is_set() and not await request.is_disconnected():
        yield b"event: snapshot\ndata: " + cache.get(queues) + b"\n\n"
        await asyncio.sleep(PERIOD / 2)
        if _shutdown.is_set() or await request.is_disconnected():
            break
        yield b": keepalive\n\n"
        await asyncio.sleep(PERIOD / 2)


@router.get(
    "/stream",
    summary="Live snapshots as Server-Sent Events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                     "description": "`event: snapshot` every second (first at once) with JSON data "
                                    "(see the StreamSnapshot schema); `: keepalive` comments between."}},
)
async def stream(
    request: Request,
    queue_id: list[str] | None = Query(None, description="Only these queues (repeatable or comma-separated)"),
    store: ReadModelStore = Depends(get_store),
) -> StreamingResponse:
    queues = parse_queue_filter(queue_id)
    _watch_shutdown()
    return StreamingResponse(_events(request, snapshot_cache(request), queues), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
