"""Two workers and two API processes on one stack: once the foundation scenario has settled,
both APIs answer the same JSON (each reads the whole read model, whichever worker owns which
partition) and their figures are the hand-computed ones."""

from __future__ import annotations

import signal
import subprocess
from typing import Any

import httpx
import pytest

from ccpulse.broker import free_port, wait_for_port
from tests.scenarios import FOUNDATION_AGENTS, FOUNDATION_EVENTS, FOUNDATION_EXPECTED

pytestmark = pytest.mark.integration

DAY_START, DAY_END = "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"
QUEUES = sorted({queue for queue, _, _ in FOUNDATION_EXPECTED})


@pytest.fixture
def two_apis(stack_factory):
    stack = stack_factory().start(workers=2)
    port = free_port()
    second = stack._spawn("api2", "api", env={**stack.env, "CCPULSE_API_PORT": str(port)})
    try:
        if not wait_for_port("127.0.0.1", port, 30):
            pytest.fail(f"the second API did not start:\n{stack.log_tail()}")
        yield stack, [stack.url, f"http://127.0.0.1:{port}"]
    finally:
        _stop(second)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _get(url: str, path: str, **params: Any) -> Any:
    response = httpx.get(url + path, params=params, timeout=10)
    response.raise_for_status()
    return response.json()


def _intervals(url: str, queue: str, granularity: str) -> Any:
    return _get(url, f"/api/v1/queues/{queue}/intervals", granularity=granularity, start=DAY_START, end=DAY_END)


def _row(url: str, queue: str, granularity: str, start: str) -> dict[str, Any] | None:
    return {r["interval_start"]: r for r in _intervals(url, queue, granularity)["intervals"]}.get(start)


def _assert_expected(url: str, granularities: tuple[str, ...]) -> None:
    for (queue, granularity, start), expected in FOUNDATION_EXPECTED.items():
        if granularity not in granularities:
            continue
        row = _row(url, queue, granularity, start)
        assert row is not None, f"{url}: no {granularity} row for {queue} at {start}"
        assert {name: row[name] for name in expected} == pytest.approx(expected), f"{url}: {queue} {granularity} {start}"


def _settled(url: str) -> bool:
    row = _row(url, "chat_help", "15m", "2026-03-02T09:15:00Z")
    assert row is not None and row["handled"] == 1, f"{url}: c6's wrap-up not counted yet"
    _assert_expected(url, ("15m",))
    return True


def _without_clock(body: Any) -> Any:
    """Drop what depends on the API process's clock (``generated_at``, waits and times in state so far)."""
    if isinstance(body, dict):
        return {k: _without_clock(v) for k, v in body.items()
                if k not in ("generated_at", "longest_wait_seconds", "time_in_state_seconds")}
    if isinstance(body, list):
        return [_without_clock(v) for v in body]
    return body


def _answers(url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for queue in QUEUES:
        for granularity in ("15m", "1h"):
            out[f"intervals {queue} {granularity}"] = _intervals(url, queue, granularity)
    out["agents"] = _without_clock(_get(url, "/api/v1/agents"))
    summary = _without_clock(_get(url, "/api/v1/summary"))
    out["summary"] = summary
    return out


def test_two_apis_over_two_workers_answer_the_same(two_apis) -> None:
    stack, urls = two_apis
    stack.produce(FOUNDATION_EVENTS)
    for url in urls:
        stack.wait_for(lambda url=url: _settled(url), what=f"the scenario to settle in {url}")

    def identical() -> dict[str, Any]:
        first, second = (_answers(url) for url in urls)
        assert first.keys() == second.keys()
        for key in first:
            assert first[key] == second[key], f"{key} differs between the two APIs"
        agents = {a["agent_id"]: (a["state"], a["since"]) for a in first["agents"]["agents"]}
        assert agents == FOUNDATION_AGENTS
        return first

    answer = stack.wait_for(identical, timeout=30, what="both APIs to answer the same JSON")

    for url in urls:
        _assert_expected(url, ("15m", "1h"))
    # the compared bodies carry the hand-computed figures themselves
    for (queue, granularity, start), expected in FOUNDATION_EXPECTED.items():
        rows = {r["interval_start"]: r for r in answer[f"intervals {queue} {granularity}"]["intervals"]}
        assert {name: rows[start][name] for name in expected} == pytest.approx(expected)
    summary = answer["summary"]
    assert summary["live"]["waiting"] == 1  # c8 in sales
    today = summary["today"]
    assert today["offered"] == sum(e["offered"] for (_, g, _), e in FOUNDATION_EXPECTED.items() if g == "15m")
    assert today["handled"] == sum(e["handled"] for (_, g, _), e in FOUNDATION_EXPECTED.items() if g == "15m")
