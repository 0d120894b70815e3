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
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import Principal
from api.deps import get_stream_principal, paced, require, split_ids
from api.scope import scoped
from api.store import ReadModelStore
from ccpulse.readmodel.views import agent_view, iter_queue_views, select_queues, summary_view
from ccpulse.domain.intervals import iso

__all__ = ["SnapshotCache", "StreamFilter", "build_snapshot", "router"]

router = APIRouter(prefix="/api/v1", tags=["stream"])

#: Seconds between snapshots; a keepalive comment is sent half-way between two.
PERIOD = 1.0
#: Distinct filters kept in the cache (wallboards rarely use more than a few).
CACHE_SIZE = 64


async def build_snapshot(store: ReadModelStore, queues: frozenset[str] | None = None,
                         auth_disabled: bool = False) -> dict[str, Any]:
    """One snapshot: the centre, the selected queues (None = all), their logged-in agents and firing
    alerts. The queue views are built queue by queue, handing the event loop back between them
    (``api.deps.paced``): at 500 queues they took 67 ms in one go, every second."""
    now = store.event_now()
    return _snapshot(store, queues, now, await paced(iter_queue_views(store, now, among=queues)), auth_disabled)


def _snapshot(store: ReadModelStore, queues: frozenset[str] | None, now: float, queue_rows: list[dict[str, Any]],
              auth_disabled: bool) -> dict[str, Any]:
    agents = [agent_view(row, now) for row in store.agents.values()
              if row.get("state") != "offline"
              and (queues is None or queues.intersection(row.get("queue_ids") or ()))]
    agents.sort(key=lambda a: a["agent_id"])
    alerts = [a for a in store.alerts.values()
              if a.get("state") == "firing" and (queues is None or a.get("queue_id") in queues)]
    alerts.sort(key=lambda a: (0 if a.get("severity") == "critical" else 1, -a["started_at"], a["id"]))
    return {
        "generated_at": iso(now),
        "summary": summary_view(store, now),
        "queues": queue_rows,
        "agents": agents,
        "alerts": [{**a, "started_at": iso(a["started_at"]),
                    "resolved_at": iso(a["resolved_at"]) if a.get("resolved_at") is not None else None}
                   for a in alerts],
        "auth_disabled": auth_disabled,
    }


@dataclass(frozen=True)
class StreamFilter:
    """What one client asked for, within what its token may see. Resolved at every build, so a
    team or site filter follows staffing changes while the stream is open."""

    scope: frozenset[str] | None = None  # the token's queues (None = every queue)
    queue_ids: tuple[str, ...] = ()
    group: str | None = None
    team: str | None = None
    site: str | None = None


class SnapshotCache:
    """Serialized snapshots by filter, rebuilt when older than ``max_age`` seconds."""

    def __init__(self, store: ReadModelStore, max_age: float = PERIOD, auth_disabled: bool = False) -> None:
        self.store = store
        self.max_age = max_age
        self.auth_disabled = auth_disabled
        self._entries: dict[StreamFilter, tuple[float, bytes]] = {}
        self._building: dict[StreamFilter, asyncio.Future[bytes]] = {}
        self.builds = 0

    async def get(self, wanted: StreamFilter = StreamFilter()) -> bytes:
        """The snapshot for ``wanted``, built once for all the clients that ask for it while it builds."""
        entry = self._entries.get(wanted)
        if entry is not None and time.monotonic() - entry[0] < self.max_age:
            return entry[1]
        building = self._building.get(wanted)
        if building is None:
            building = self._building[wanted] = asyncio.ensure_future(self._build(wanted))
            building.add_done_callback(lambda _: self._building.pop(wanted, None))
        return await asyncio.shield(building)  # a client leaving does not cancel the others' snapshot

    async def _build(self, wanted: StreamFilter) -> bytes:
        visible = scoped(self.store, wanted.scope)
        queues = select_queues(visible, wanted.queue_ids, wanted.group, wanted.team, wanted.site)  # type: ignore[arg-type]
        data = orjson.dumps(await build_snapshot(visible, queues, auth_disabled=self.auth_disabled))  # type: ignore[arg-type]
        self.builds += 1
        if len(self._entries) >= CACHE_SIZE and wanted not in self._entries:
            # Drop the stalest filter.
            del self._entries[min(self._entries, key=lambda k: self._entries[k][0])]
        self._entries[wanted] = (time.monotonic(), data)
        return data


def snapshot_cache(request: Request) -> SnapshotCache:
    state = request.app.state
    store = request.app.state.store
    cache = getattr(state, "snapshot_cache", None)
    if cache is None or cache.store is not store:
        cache = state.snapshot_cache = SnapshotCache(store, auth_disabled=not state.tokens.enabled)
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


async def _events(request: Request, cache: SnapshotCache, wanted: StreamFilter) -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"  # EventSource reconnects 2 s after the API went away
    while not _shutdown.is_set() and not await request.is_disconnected():
        yield b"event: snapshot\ndata: " + await cache.get(wanted) + b"\n\n"
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
    group: str | None = Query(None, description="Only queues of this queue group"),
    team: str | None = Query(None, description="Only queues staffed by an agent of this team"),
    site: str | None = Query(None, description="Only queues staffed by an agent of this site"),
    principal: Principal = Depends(get_stream_principal),
) -> StreamingResponse:
    require(principal, "read")
    wanted = StreamFilter(principal.queues, split_ids(queue_id), group, team, site)
    _watch_shutdown()
    return StreamingResponse(_events(request, snapshot_cache(request), wanted), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
