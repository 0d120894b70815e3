"""The hand-computed foundation scenario through the pure core (no broker)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import orjson
import pytest

from ccpulse.domain.batch import fold_messages
from ccpulse.domain.buckets import interval_figures, rollup
from ccpulse.domain.intervals import iso, parse_time
from ccpulse.settings import Settings
from tests.scenarios import FOUNDATION_AGENTS, FOUNDATION_EVENTS, FOUNDATION_EXPECTED


def figures(result, queue: str, granularity: str, start: str) -> dict:
    settings = Settings()
    series = {int(k.split("|")[2]): b for k, b in result.buckets.items() if k.startswith(f"queue|{queue}|")}
    t = parse_time(start)
    rows = {s: (c, m) for s, _, c, m in rollup(series, granularity, ZoneInfo("UTC"), t, t + 1)}
    counters, max_wait = rows[t]
    channel = "chat" if queue.startswith("chat") else "voice"
    return interval_figures(counters, max_wait, settings.queue(queue, channel))


@pytest.fixture(scope="module")
def result():
    return fold_messages([orjson.dumps(e) for e in FOUNDATION_EVENTS], Settings())


@pytest.mark.parametrize("key", list(FOUNDATION_EXPECTED), ids=lambda k: "-".join(k))
def test_interval_figures_equal_hand_computed(result, key) -> None:
    got = figures(result, *key)
    expected = FOUNDATION_EXPECTED[key]
    assert {name: got[name] for name in expected} == pytest.approx(expected)


def test_duplicate_is_rejected_and_changes_nothing(result) -> None:
    assert [reason for _, reason in result.rejected] == ["duplicate"]


def test_live_rows(result) -> None:
    assert {cid: row["status"] for cid, row in result.contacts.items()} == {"c8": "waiting"}
    assert {a: (row["state"], iso(row["since"])) for a, row in result.agents.items()} == FOUNDATION_AGENTS


def test_any_arrival_order_within_lateness_gives_the_same_buckets() -> None:
    forward = fold_messages([orjson.dumps(e) for e in FOUNDATION_EVENTS], Settings())
    backward = fold_messages([orjson.dumps(e) for e in reversed(FOUNDATION_EVENTS)], Settings())
    assert {k: b["c"] for k, b in forward.buckets.items()} == {k: b["c"] for k, b in backward.buckets.items()}
    assert {k: b["tops"][:1] for k, b in forward.buckets.items()} == {k: b["tops"][:1] for k, b in backward.buckets.items()}
