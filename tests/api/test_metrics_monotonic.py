"""Counters served on /metrics never go down within a local day (revisions, worker restarts)."""

from __future__ import annotations

from api.routes.metrics import ReadModelCollector
from api.store import ReadModelStore
from ccpulse.settings import Settings


def test_a_counter_is_held_within_its_day_and_starts_again_the_next_day() -> None:
    collector = ReadModelCollector(ReadModelStore(Settings()))
    day1, day2 = 1_000_000.0, 1_086_400.0
    assert collector.monotonic(("abandoned", "q"), day1, 5) == 5
    assert collector.monotonic(("abandoned", "q"), day1, 4) == 5  # a revision took one back: hold 5
    assert collector.monotonic(("abandoned", "q"), day1, 7) == 7
    assert collector.monotonic(("abandoned", "q"), day2, 1) == 1  # local midnight: a real reset
    assert collector.monotonic(("abandoned", "other"), day1, 2) == 2
