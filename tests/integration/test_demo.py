"""`ccpulse demo` from the outside: one command brings up everything, Ctrl-C stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from ccpulse.broker import free_port

pytestmark = pytest.mark.integration


def test_demo_shows_live_figures_within_a_minute_and_stops_cleanly(tmp_path) -> None:
    api_port, broker_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CCPULSE_")}
    env.update({"CCPULSE_API_PORT": str(api_port), "CCPULSE_BROKER_PORT": str(broker_port),
                "CCPULSE_DATA_DIR": str(tmp_path / "state")})
    log = tmp_path / "demo.log"
    demo = subprocess.Popen([sys.executable, "-m", "ccpulse", "demo", "--seed", "3"], env=env, cwd=tmp_path,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{api_port}/api/v1/queues"
    started = time.monotonic()
    seen = None
    try:
        while time.monotonic() - started < 90:
            assert demo.poll() is None, f"demo exited early:\n{log.read_text()}"
            try:
                queues = httpx.get(url, timeout=5).json()["queues"]
            except (httpx.HTTPError, ValueError, KeyError):
                queues = []
            offered = sum(q["today"]["offered"] for q in queues)
            answered = sum(q["today"]["answered"] for q in queues)
            waiting_known = all("waiting" in q["live"] for q in queues)
            if queues and offered > 0 and answered > 0 and waiting_known:
                seen = queues
                break
            time.sleep(1)
        assert seen, f"no live figures after 90 s:\n{log.read_text()[-3000:]}"
        elapsed = time.monotonic() - started
        print(f"demo showed offered/answered figures after {elapsed:.0f} s")
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            code = demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            pytest.fail(f"demo did not stop within 30 s of Ctrl-C:\n{log.read_text()[-3000:]}")
    assert code == 0, log.read_text()[-3000:]
    assert "ccpulse demo: stopped" in log.read_text()
    # Nothing left listening: broker and API ports are free again.
    for port in (api_port, broker_port):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
