"""The multi-day DST scenario end to end: worker in Europe/Berlin, figures through the API."""

from __future__ import annotations

import orjson
import pytest

from tests.scenarios import METRICS_DAY_HOURS, METRICS_EVENTS, METRICS_EXPECTED, METRICS_TIMEZONE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    from tests.conftest import Stack

    stack = Stack(broker, tmp_path_factory.mktemp("metrics"), {"CCPULSE_TIMEZONE": METRICS_TIMEZONE}).start(workers=1)
    stack.produce(METRICS_EVENTS)
    yield stack
    stack.stop()


def _rows(stack, granularity: str) -> dict[str, dict]:
    response = stack.get("/api/v1/queues/billing/intervals", granularity=granularity,
                         start="2026-03-27T23:00:00Z", end="2026-03-29T22:00:00Z")
    response.raise_for_status()
    return {row["interval_start"]: row for row in response.json()["intervals"]}


def _complete(stack) -> bool:
    day = _rows(stack, "1d").get("2026-03-28T23:00:00Z")
    return bool(day and day["qa_count"] == 2 and day["fcr_rate"] == 0.5)


@pytest.mark.parametrize("key", list(METRICS_EXPECTED), ids=lambda k: "-".join(k))
def test_multi_day_dst_scenario_through_the_api(stack, key) -> None:
    stack.wait_for(lambda: _complete(stack), what="the scenario to be processed")
    _, granularity, start = key
    expected = METRICS_EXPECTED[key]

    def exact() -> bool:
        row = _rows(stack, granularity)[start]
        assert {name: row[name] for name in expected} == pytest.approx(expected)
        return True

    stack.wait_for(exact, timeout=30, what=f"{granularity} {start} to equal the hand-computed figures")


def test_local_days_last_24_and_23_hours(stack) -> None:
    stack.wait_for(lambda: _complete(stack), what="the scenario to be processed")
    from ccpulse.domain.intervals import parse_time

    days = _rows(stack, "1d")
    for start, hours in METRICS_DAY_HOURS.items():
        assert (parse_time(days[start]["interval_end"]) - parse_time(start)) / 3600 == hours


def test_late_event_dead_lettered(stack) -> None:
    stack.wait_for(lambda: _complete(stack), what="the scenario to be processed")
    records = [orjson.loads(m.value) for m in stack.topic_messages(stack.settings.topics.deadletter)]
    assert [(r["reason"], r["event_id"]) for r in records] == [("late", "m-16")]
