"""The production store (rocksdict://): a worker restarted on its state directory carries on exactly."""

from __future__ import annotations

import signal

import pytest

from tests.scenarios import FOUNDATION_EVENTS, FOUNDATION_EXPECTED

pytestmark = pytest.mark.integration

SPLIT = len(FOUNDATION_EVENTS) // 2


def _row(stack, queue: str, start: str) -> dict | None:
    rows = stack.get(f"/api/v1/queues/{queue}/intervals", start=start, end="2026-03-03T00:00:00Z").json()["intervals"]
    return next((r for r in rows if r["interval_start"] == start), None)


def test_restart_on_rocksdict_state_gives_exact_figures(broker, tmp_path) -> None:
    from tests.conftest import Stack

    # The embedded broker reports end offsets per batch, not per record: Faust's check that local
    # state is not ahead of the changelog would refuse a correct store (README, "embedded broker").
    env = {"CCPULSE_STORE": "rocksdict://", "CCPULSE_RECOVERY_CONSISTENCY_CHECK": "false"}
    stack = Stack(broker, tmp_path, env).start(workers=1)
    try:
        stack.produce(FOUNDATION_EVENTS[:SPLIT])
        stack.wait_for(lambda: (r := _row(stack, "sales", "2026-03-02T09:00:00Z")) and r["offered"] >= 3, what="first half")
        worker = stack.workers[0]
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        assert any((tmp_path / "worker0" / "faust").rglob("*")), "rocksdict wrote no local state"
        stack.workers.clear()
        stack.add_worker()  # same data dir: worker0
        stack.produce(FOUNDATION_EVENTS[SPLIT:])
        expected_rows = {(q, s): e for (q, g, s), e in FOUNDATION_EXPECTED.items() if g == "15m"}

        def mismatches() -> dict:
            out = {}
            for (queue, start), expected in expected_rows.items():
                row = _row(stack, queue, start) or {}
                got = {name: row.get(name) for name in expected}
                if got != pytest.approx(expected):
                    out[(queue, start)] = {k: (got[k], v) for k, v in expected.items() if got[k] != pytest.approx(v)}
            return out

        # Partitions catch up independently: wait until every row is exact (or fail showing the difference).
        def exact() -> bool:
            wrong = mismatches()
            assert not wrong, f"(got, expected) per field: {wrong}"
            return True

        stack.wait_for(exact, what="exact figures after the restart")
    finally:
        stack.stop()
