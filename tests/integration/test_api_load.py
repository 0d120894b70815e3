"""API under load (issue #9): 200 SSE clients and back-to-back REST reads on loopback, twice.

Performance figures belong to the benchmark (``ccpulse bench --only api``); this test asserts only
what must always hold: no REST read fails, no SSE client is lost or starved, and the API's memory
does not keep growing from one load phase to the next (a leak of closed streams or per-request
caches would show as growth proportional to the work done).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bench.api_load import run as load
from tests.integration.figures import scenario_events

pytestmark = pytest.mark.integration

SSE_CLIENTS = 200
PHASE_SECONDS = 15.0
#: A second identical phase may allocate a little more (interpreter arenas, lazily built caches),
#: never as much again as the first phase took: that would be growth with the work done.
ALLOWED_SECOND_PHASE_GROWTH_MB = 25.0


def test_200_sse_clients_and_rest_reads_lose_nothing_and_do_not_grow(stack_factory, broker) -> None:
    events = scenario_events(seed=5, minutes=60)
    stack = stack_factory().start(workers=1)
    half = len(events) // 2
    stack.produce(events[:half])
    stack.wait_for(lambda: stack.get("/healthz").json()["rows"] > 0, timeout=120, what="the first rows")
    stack.wait_for(lambda: stack.get("/readyz").status_code == 200, timeout=60, what="the API to be ready")

    # The second half streams in during the first phase, so the SSE snapshots really change.
    feeder = threading.Thread(target=stack.produce, args=(events[half:],), daemon=True)
    assert stack.api is not None
    pid = stack.api.pid
    feeder.start()
    phases = []
    for number in (1, 2):
        summary = asyncio.run(load(stack.url, None, SSE_CLIENTS, rest_concurrency=8, duration=PHASE_SECONDS,
                                   stall=5.0, pid=pid, seed=number))
        print(f"API load phase {number}: {summary}")
        phases.append(summary)
        if number == 1:
            feeder.join(timeout=120)
            time.sleep(2.0)
    for number, summary in enumerate(phases, 1):
        assert summary["errors"] == 0, f"phase {number}: REST reads failed: {summary['error_samples']}"
        assert summary["sse_connected"] == SSE_CLIENTS, f"phase {number}: {summary}"
        assert summary["sse_lost"] == 0, f"phase {number}: SSE clients lost: {summary['sse_lost_samples']}"
        # One snapshot a second is promised; on a busy 2-core machine allow a third of them.
        assert summary["sse_snapshots_min"] >= PHASE_SECONDS / 3, f"phase {number}: a client was starved: {summary}"
        assert summary["rest_requests"] > 100, f"phase {number}: hardly any REST reads: {summary}"
    first, second = phases
    assert first["rss_after_mb"] is not None and second["rss_after_mb"] is not None
    growth = second["rss_after_mb"] - first["rss_after_mb"]
    assert growth <= ALLOWED_SECOND_PHASE_GROWTH_MB, (
        f"the API grew by {growth:.1f} MB in a second, identical load phase ({first['rss_after_mb']} -> "
        f"{second['rss_after_mb']} MB)")
    assert stack.api.poll() is None, f"the API exited under load:\n{stack.log_tail()}"
