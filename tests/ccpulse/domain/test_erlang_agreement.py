"""The simulator's M/M/c queue, measured by the pure core, agrees with Erlang C within 2 points.

Poisson arrivals (160/h), exponential handle times (mean 180 s), 10 agents, no abandonment:
A = 8 Erlang. 150 simulated hours ≈ 24,000 contacts, folded by the same rules the worker uses.
"""

from __future__ import annotations

from datetime import datetime, timezone

import orjson

from ccpulse.domain.batch import fold_messages
from ccpulse.domain.buckets import merge_buckets
from ccpulse.domain.staffing import service_level_erlang_c
from ccpulse.settings import Settings
from ccpulse.simulate import MmcConfig, SimConfig, generate

RATE, AHT, AGENTS, HOURS, THRESHOLD = 160.0, 180.0, 10, 150, 20.0


def test_measured_service_level_matches_erlang_c_within_2_points() -> None:
    config = SimConfig(seed=11, start=datetime(2026, 1, 5, tzinfo=timezone.utc), duration_seconds=HOURS * 3600,
                       mmc=MmcConfig(RATE, AHT, AGENTS))
    result = fold_messages([orjson.dumps(e) for e in generate(config)], Settings())
    counters, _ = merge_buckets(b for key, b in result.buckets.items() if key.startswith("queue|mmc|"))
    assert counters.get("abandoned", 0) == 0
    assert counters["answered"] > 20_000
    measured = counters["answered_within_sl"] / counters["answered"]
    predicted = service_level_erlang_c(RATE / 3600, AHT, AGENTS, THRESHOLD)
    print(f"M/M/c: measured SL {measured:.4f}, Erlang C {predicted:.4f}, {counters['answered']} contacts")
    assert abs(measured - predicted) <= 0.02
