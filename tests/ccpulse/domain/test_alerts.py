"""Alert rules and lifecycle: fire once, no flapping, resolve once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ccpulse.domain.alerts import Condition, QueueSnapshot, evaluate_queue, step
from ccpulse.settings import QueueSettings

VOICE = QueueSettings(sl_threshold_seconds=20)
NOW = 1_800_000_000.0


def active(snapshot, sla=VOICE, now=NOW):
    return {c.rule: c for c in evaluate_queue(snapshot, sla, now) if c.active}


def test_waiting_contacts_breach_the_threshold_and_wait_levels() -> None:
    snap = QueueSnapshot("q", (NOW - 10, NOW - 25, NOW - 90), agents_staffed=2)
    got = active(snap)
    assert got["contact_waiting_over_threshold"].value == 2.0  # 25 s and 90 s are over 20 s
    assert got["longest_wait_warning"].value == 90 and got["longest_wait_warning"].threshold == 40
    assert got["longest_wait_critical"].threshold == 80
    assert "no_agents_available" not in got
    assert "no_agents_available" in active(QueueSnapshot("q", (NOW - 1,), agents_staffed=0))
    assert active(QueueSnapshot("q", (), agents_staffed=0)) == {}


def test_service_level_and_abandon_rules_need_enough_contacts() -> None:
    bad = {"answered": 6, "answered_within_sl": 3, "abandoned": 4}
    got = active(QueueSnapshot("q", (), 3, current=bad, rolling_30m=bad))
    assert got["sl_below_target"].value == 0.3 and got["sl_below_target_30m"].value == 0.3
    assert got["abandon_rate_high"].value == 0.4
    few = {"answered": 2, "answered_within_sl": 0, "abandoned": 1}
    assert active(QueueSnapshot("q", (), 3, current=few, rolling_30m=few)) == {}


def run(conditions, for_s=30, clear_s=60):
    track, out = None, []
    for t, is_active in conditions:
        track, record = step(track, "q", Condition("sl_below_target", is_active, 0.5, 0.8), t, for_s, clear_s)
        if record:
            out.append((t, record["state"]))
    return out


def test_lifecycle_fires_after_for_and_resolves_after_clear() -> None:
    timeline = [(0, True), (10, True), (30, True), (40, False), (50, True), (60, False), (100, False), (125, False)]
    assert run(timeline) == [(30, "firing"), (125, "resolved")]


@given(st.lists(st.booleans(), max_size=80))
def test_firing_and_resolved_alternate_and_never_repeat(flags) -> None:
    events = run([(i * 10, f) for i, f in enumerate(flags)], for_s=20, clear_s=30)
    states = [s for _, s in events]
    assert all(a != b for a, b in zip(states, states[1:]))
    assert not states or states[0] == "firing"
