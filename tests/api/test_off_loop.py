"""Heavy reads are built off the event loop: while one rolls up 100 days of 15-minute rows (or a
team's 30 days), the loop goes on serving ``/healthz``.

The assertion is relative, not a fixed time: the longest pause of a 5 ms ticker on the loop must be
a small part of the heavy request's own duration. Built on the loop, the pause was the whole
request (1.8 s for a year of rows); off it, a pause is one short C call (a row's check, orjson's
dump of the rows).
"""

from __future__ import annotations

import asyncio
import gc
import time
from datetime import datetime

import httpx
import pytest

from api.main import create_app
from api.store import ReadModelStore
from tests.api.conftest import NOW, SALES_T1, T1, agent, contact, interval, make_settings

DAYS = 100
QUEUE_BUCKETS = range(int(T1) - (DAYS - 1) * 86400, int(T1) + 900, 900)
AGENT_BUCKETS = range(int(T1) - 29 * 86400, int(T1) + 900, 900)
AGENTS = 40


def _in(buckets: range, start: str, end: str) -> int:
    """How many of ``buckets`` lie in [start, end)."""
    lo, hi = (datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in (start, end))
    return sum(1 for b in buckets if lo <= b < hi)


@pytest.fixture
def big_app():
    settings = make_settings()
    app = create_app(settings)
    store: ReadModelStore = app.state.store
    store.ready = True
    for t in QUEUE_BUCKETS:
        interval(store, "queue", "sales", t, max_wait_ms=30_000, **SALES_T1)
    for n in range(AGENTS):
        agent(store, f"a{n}", "available", ["sales"], "red", "s1")
        for t in AGENT_BUCKETS:
            interval(store, "agent", f"a{n}", t, answered=2, handled=2, talk_ms=200_000, time_available_ms=100_000)
    store.event_now = lambda: NOW  # type: ignore[method-assign]
    return app


async def _longest_pause_during(app, path: str, params: dict[str, str]) -> tuple[float, float, httpx.Response]:
    """(longest pause of a 5 ms ticker on the loop, duration of the request, its response)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        await client.get("/healthz")  # warm up the app and the thread pool
        # A full pass of the cyclic collector pauses whatever thread holds the GIL, whoever made the
        # garbage (here: earlier tests' stores): not what is measured here.
        gc.collect()
        gc.freeze()
        pauses: list[float] = []
        done = asyncio.Event()

        async def tick() -> None:
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                pauses.append(now - last - 0.005)
                last = now

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.02)
        began = time.perf_counter()
        response = await client.get(path, params=params)
        took = time.perf_counter() - began
        done.set()
        await ticker
        gc.unfreeze()
        return max(pauses), took, response


@pytest.mark.parametrize(("path", "params"), [
    ("/api/v1/queues/sales/intervals", {"granularity": "15m", "start": "2025-11-23T00:00:00Z", "end": "2026-03-03T00:00:00Z"}),
    ("/api/v1/queues/sales/intervals", {"granularity": "15m", "format": "csv", "start": "2025-11-23T00:00:00Z",
                                        "end": "2026-03-03T00:00:00Z"}),
    ("/api/v1/teams/red/intervals", {"granularity": "15m", "start": "2025-11-23T00:00:00Z", "end": "2026-03-03T00:00:00Z"}),
    ("/api/v1/surveys", {"queue_id": "sales", "granularity": "15m", "start": "2025-11-23T00:00:00Z",
                         "end": "2026-03-03T00:00:00Z"}),
])
def test_a_heavy_read_leaves_the_event_loop_free(big_app, path: str, params: dict[str, str]) -> None:
    pause, took, response = asyncio.run(_longest_pause_during(big_app, path, params))
    assert response.status_code == 200, response.text
    queue_rows = _in(QUEUE_BUCKETS, params["start"], params["end"])
    assert queue_rows == len(QUEUE_BUCKETS)  # the range holds the whole series
    if params.get("format") == "csv":
        assert response.text.count("\n") == 1 + queue_rows  # the header, then a line per interval
    elif "teams" in path:
        answered = AGENTS * 2 * _in(AGENT_BUCKETS, params["start"], params["end"])
        assert sum(row["answered"] for row in response.json()["intervals"]) == answered
    else:
        assert len(response.json()["intervals"]) == queue_rows
    print(f"{path}: request {took * 1000:.0f} ms, longest pause of the loop {pause * 1000:.1f} ms")
    assert took > 0.1, "the read was too light to show anything"
    assert pause < took / 3, f"the loop paused {pause * 1000:.0f} ms of a {took * 1000:.0f} ms request"


QUEUES = 800


@pytest.fixture
def many_queues_app():
    """800 queues with a day of 15-minute rows each, a waiting contact each and 1,600 agents."""
    app = create_app(make_settings())
    store: ReadModelStore = app.state.store
    store.ready = True
    for q in range(QUEUES):
        for t in range(int(T1) - 86400, int(T1) + 900, 900):
            interval(store, "queue", f"q{q}", t, max_wait_ms=30_000, **SALES_T1)
        contact(store, f"c{q}", "waiting", f"q{q}", "voice", NOW - 30)
    for n in range(2 * QUEUES):
        agent(store, f"a{n}", "available", [f"q{n % QUEUES}"], "red", "s1")
    store.event_now = lambda: NOW  # type: ignore[method-assign]
    return app


@pytest.mark.parametrize("path", ["/metrics", "/api/v1/queues"])
def test_a_centre_wide_read_is_paced_queue_by_queue(many_queues_app, path: str) -> None:
    pause, took, response = asyncio.run(_longest_pause_during(many_queues_app, path, {}))
    assert response.status_code == 200, response.text
    if path == "/metrics":
        waiting = [line for line in response.text.splitlines() if line.startswith('ccpulse_queue_contacts_waiting{channel="voice"')]
        assert len(waiting) == QUEUES and all(line.endswith(" 1.0") for line in waiting)
    else:
        assert [q["live"]["waiting"] for q in response.json()["queues"]] == [1] * QUEUES
    print(f"{path}: request {took * 1000:.0f} ms, longest pause of the loop {pause * 1000:.1f} ms")
    assert took > 0.1, "the read was too light to show anything"
    assert pause < took / 3, f"the loop paused {pause * 1000:.0f} ms of a {took * 1000:.0f} ms request"
