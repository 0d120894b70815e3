"""Agent time in state: split exactly across interval boundaries."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ccpulse.domain.agent import fold_agent, prune_agent, split_span, time_in_state, time_in_state_delta
from ccpulse.domain.intervals import BUCKET_SECONDS, parse_time

T0 = parse_time("2026-03-02T10:10:00Z")


def test_a_state_from_10_10_to_10_20_gives_5_minutes_to_each_interval() -> None:
    assert split_span(T0, T0 + 600) == [(parse_time("2026-03-02T10:00:00Z"), 300_000), (parse_time("2026-03-02T10:15:00Z"), 300_000)]


@given(start=st.floats(1.7e9, 1.8e9, allow_nan=False), length=st.floats(0, 3 * 86400, allow_nan=False))
def test_splitting_conserves_time(start, length) -> None:
    pieces = split_span(start, start + length)
    assert sum(ms for _, ms in pieces) == round((start + length) * 1000) - round(start * 1000)
    assert all(0 < ms <= BUCKET_SECONDS * 1000 for _, ms in pieces)
    assert [b for b, _ in pieces] == sorted({b for b, _ in pieces})


def _change(n, minutes, state, **extra):
    return {"id": f"e{n}", "type": "agent.state_changed", "t": T0 + minutes * 60, "state": state, "src": "s", "off": n, **extra}


def test_time_in_state_and_occupancy_inputs() -> None:
    changes = [_change(0, 0, "available", queue_ids=["q"]), _change(1, 10, "on_contact"), _change(2, 25, "after_contact_work"),
               _change(3, 27, "away"), _change(4, 40, "offline")]
    contrib = time_in_state("a", changes)
    totals: dict[str, int] = {}
    for counters in contrib.values():
        for measure, ms in counters.items():
            totals[measure] = totals.get(measure, 0) + ms
    assert totals == {"time_available_ms": 600_000, "time_on_contact_ms": 900_000,
                      "time_after_contact_work_ms": 120_000, "time_away_ms": 780_000}


def test_pruning_keeps_the_current_state_run_and_latest_queues() -> None:
    changes = [_change(0, 0, "available", queue_ids=["q1"], team="t"), _change(1, 5, "available", reason="back"),
               _change(2, 50, "on_contact")]
    pruned = prune_agent(changes, T0 + 30 * 60)
    assert len(pruned) == 2
    row = fold_agent("a", pruned)
    assert row["state"] == "on_contact" and row["queue_ids"] == ["q1"] and row["team"] == "t"
    assert fold_agent("a", prune_agent(changes[:2], T0 + 30 * 60))["since"] == T0


@given(st.lists(st.tuples(st.integers(0, 120), st.sampled_from(["available", "on_contact", "after_contact_work", "away", "offline"])),
                min_size=1, max_size=25, unique_by=lambda x: x[0]), st.randoms())
def test_incremental_deltas_in_any_order_sum_to_the_full_computation(spec, rng) -> None:
    from ccpulse.domain.contact import add_event

    records = [_change(i, minute, state) for i, (minute, state) in enumerate(spec)]
    rng.shuffle(records)
    changes: list = []
    totals: dict[tuple[str, str], int] = {}
    for rec in records:
        add_event(changes, rec)
        for key, counters in time_in_state_delta("a", changes, rec["id"]).items():
            for measure, value in counters.items():
                totals[(key, measure)] = totals.get((key, measure), 0) + value
    full = {(key, m): v for key, counters in time_in_state("a", changes).items() for m, v in counters.items()}
    assert {k: v for k, v in totals.items() if v} == full
