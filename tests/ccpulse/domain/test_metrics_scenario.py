"""The hand-written multi-day DST scenario through the pure core (no broker)."""

from __future__ import annotations

import orjson
import pytest

from ccpulse.domain.batch import fold_messages
from ccpulse.domain.buckets import interval_figures, rollup
from ccpulse.domain.intervals import parse_time
from ccpulse.settings import Settings
from tests.scenarios import METRICS_EVENTS, METRICS_EXPECTED, METRICS_TIMEZONE


@pytest.fixture(scope="module")
def result():
    return fold_messages([orjson.dumps(e) for e in METRICS_EVENTS], Settings(timezone=METRICS_TIMEZONE))


@pytest.mark.parametrize("key", list(METRICS_EXPECTED), ids=lambda k: "-".join(k))
def test_multi_day_dst_scenario(result, key) -> None:
    settings = Settings(timezone=METRICS_TIMEZONE)
    queue, granularity, start = key
    series = {int(k.split("|")[2]): b for k, b in result.buckets.items() if k.startswith(f"queue|{queue}|")}
    t = parse_time(start)
    rows = {s: (e, c, m) for s, e, c, m in rollup(series, granularity, settings.zone, t, t + 1)}
    _, counters, max_wait = rows[t]
    got = interval_figures(counters, max_wait, settings.queue(queue, "voice"))
    expected = METRICS_EXPECTED[key]
    assert {name: got[name] for name in expected} == pytest.approx(expected)


def test_late_event_is_rejected(result) -> None:
    assert [reason for _, reason in result.rejected] == ["late"]


def test_agent_time_and_figures(result) -> None:
    # b1 never changes state after logging in: an open state is not counted, only closed spans.
    agent_buckets = {k: b for k, b in result.buckets.items() if k.startswith("agent|b1|")}
    handled = sum(b["c"].get("handled", 0) for b in agent_buckets.values())
    qa = sum(b["c"].get("qa_count", 0) for b in agent_buckets.values())
    assert handled == 2 and qa == 2
    assert not any("time_available_ms" in b["c"] for b in agent_buckets.values())
