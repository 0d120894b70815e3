"""Cases and resolution time end to end: the hand-computed scenario (tests/case_scenario.py) through
the worker's customer processor and the API equals the hand-computed figures exactly."""

from __future__ import annotations

import pytest

from tests.case_scenario import CASE_EVENTS, CASE_EXPECTED, CASE_EXPECTED_DAILY, CASE_OPEN_NOW

pytestmark = pytest.mark.integration

PATHS = {"queue": "/api/v1/queues/{}/intervals", "channel": "/api/v1/channels/{}/intervals",
         "agent": "/api/v1/agents/{}/intervals"}


def _row(stack, dimension: str, entity: str, granularity: str, start: str) -> dict | None:
    response = stack.get(PATHS[dimension].format(entity), granularity=granularity, start=start,
                         end="2026-03-12T00:00:00Z")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return {row["interval_start"]: row for row in response.json()["intervals"]}.get(start)


def test_resolution_figures_through_the_api_equal_the_hand_computed_ones(stack_factory) -> None:
    stack = stack_factory().start(workers=1)
    stack.produce(CASE_EVENTS)
    for expected, granularity in ((CASE_EXPECTED, "15m"), (CASE_EXPECTED_DAILY, "1d")):
        for (dimension, entity, start), want in expected.items():
            def exact(dimension=dimension, entity=entity, start=start, want=want):
                row = _row(stack, dimension, entity, granularity, start)
                assert row is not None, f"no {granularity} row for {dimension} {entity} at {start}"
                assert {k: row[k] for k in want} == want
                return True

            stack.wait_for(exact, timeout=60, what=f"{dimension} {entity} {granularity} {start}")

    def open_now() -> bool:
        queues = {q["queue_id"]: q["live"]["open_cases"] for q in stack.get("/api/v1/queues").json()["queues"]}
        assert queues == CASE_OPEN_NOW
        assert stack.get("/api/v1/summary").json()["live"]["open_cases"] == 1
        return True

    stack.wait_for(open_now, timeout=30, what="open cases now")
