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


def test_demo_fed_by_an_asterisk_queue_log(tmp_path) -> None:
    """`ccpulse demo --source asterisk:PATH`: the hand-written morning shows its hand-computed figures."""
    import orjson

    from tests.ccpulse.connectors import asterisk_day as day
    from tests.ccpulse.connectors.test_asterisk import OPTIONS

    api_port, broker_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CCPULSE_")}
    env.update({"CCPULSE_API_PORT": str(api_port), "CCPULSE_BROKER_PORT": str(broker_port),
                "CCPULSE_DATA_DIR": str(tmp_path / "state"),
                "CCPULSE_CONNECTORS": orjson.dumps({"asterisk": OPTIONS.model_dump()}).decode()})
    queue_log = tmp_path / "queue_log"
    queue_log.write_text("".join(line + "\n" for line in day.LINES))
    log = tmp_path / "demo.log"
    demo = subprocess.Popen([sys.executable, "-m", "ccpulse", "demo", "--source", f"asterisk:{queue_log}"], env=env,
                            cwd=tmp_path, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{api_port}/api/v1/queues/sales/intervals"
    started, row = time.monotonic(), None
    try:
        while time.monotonic() - started < 120:
            assert demo.poll() is None, f"demo exited early:\n{log.read_text()}"
            try:
                rows = httpx.get(url, params={"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"},
                                 timeout=5).json()["intervals"]
                row = {r["interval_start"]: r for r in rows}.get("2026-03-02T09:00:00Z")
            except (httpx.HTTPError, ValueError, KeyError):
                row = None
            if row and row["handled"] == day.EXPECTED_INTERVALS["sales"]["handled"] and row["offered"] == 4:
                break
            time.sleep(1)
        assert row is not None, f"no figures after 120 s:\n{log.read_text()[-3000:]}"
        want = day.EXPECTED_INTERVALS["sales"]
        assert {k: row[k] for k in want} == pytest.approx(want, abs=5e-4)
        assert "simulator" not in log.read_text()
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            code = demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            pytest.fail(f"demo did not stop within 30 s of Ctrl-C:\n{log.read_text()[-3000:]}")
    assert code == 0, log.read_text()[-3000:]
