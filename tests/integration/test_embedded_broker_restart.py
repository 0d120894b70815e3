"""What a restart of the memory-only embedded broker does to ccpulse (issue #9, docs/reliability.md).

Tansu keeps every topic in memory: restarted, it comes back empty. Nothing in Kafka can repair the
figures ccpulse had built from the lost events, so the promise is only this: no process crashes or
crash-loops, and the API stops calling itself ready and says why, instead of serving figures that
no longer match Kafka as if they were fine.
"""

from __future__ import annotations

import time

import pytest

from ccpulse.broker import EmbeddedBroker, free_port
from tests.conftest import Stack
from tests.integration.figures import scenario_events

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("workers", ["running", "stopped"])
def test_restart_of_the_memory_only_broker_is_reported_not_hidden(tmp_path, workers: str) -> None:
    """With the workers running, the read-model topic comes back shorter than the API had read it;
    with them stopped, nothing recreates it and the API finds it gone: lost data either way."""
    port = free_port()
    broker = EmbeddedBroker(port=port, log_path=tmp_path / "tansu.log").start()
    broker.engine = "tansu"  # type: ignore[attr-defined]
    (tmp_path / "stack").mkdir()
    stack = Stack(broker, tmp_path / "stack")
    events = scenario_events(seed=3, minutes=20)
    try:
        stack.start(workers=1)
        stack.produce(events)
        stack.wait_for(lambda: stack.get("/healthz").json()["rows"] > 0, timeout=120, what="the first rows")
        stack.wait_for(lambda: stack.get("/readyz").status_code == 200, timeout=60, what="the API to be ready")

        if workers == "stopped":
            for proc in stack.workers:
                proc.terminate()
                proc.wait(timeout=60)
            stack.workers.clear()  # (stack.wait_for fails on a worker that exited)
        broker.stop()
        broker.start()  # same port, nothing in it
        not_ready = stack.wait_for(
            lambda: (r := stack.get("/readyz")).status_code == 503 and "lost data" in r.json()["reason"] and r.json(),
            timeout=60, what="/readyz to report the lost data")
        assert "restart the workers" in not_ready["reason"], not_ready  # it names what to do

        # It stays so (no silent return to "ready" over figures Kafka no longer has), and nothing
        # crashes or restarts in a loop meanwhile.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            response = stack.get("/readyz")
            assert response.status_code == 503, response.text
            assert stack.get("/api/v1/queues").status_code == 200  # the last rows stay readable
            for proc in [*stack.workers, stack.api]:
                assert proc is not None and proc.poll() is None, f"a process exited:\n{stack.log_tail()}"
            time.sleep(1.0)
        metrics = stack.get("/metrics").text
        assert "ccpulse_read_model_ready 0.0" in metrics, [l for l in metrics.splitlines() if "ready" in l]
        assert "lost data" in (stack.workdir / "api.log").read_text(), "the API did not log why it is not ready"
    finally:
        stack.stop()
        broker.stop()
