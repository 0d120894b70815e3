"""`ccpulse broker --engine kafka --data-dir DIR`: a persistent local Apache Kafka that keeps its
topics across restarts and stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from ccpulse.broker import free_port
from ccpulse.settings import Topics

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def _start(port: int, data: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCPULSE_")}
    before = log.read_text().count("Ctrl-C stops it") if log.exists() else 0
    proc = subprocess.Popen([sys.executable, "-m", "ccpulse", "broker", "--engine", "kafka", "--port", str(port),
                             "--data-dir", str(data)], env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while log.read_text().count("Ctrl-C stops it") == before:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.3)
    return proc


def _topics(servers: str) -> set[str]:
    async def go() -> set[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=servers)
        await admin.start()
        try:
            return set(await admin.list_topics())
        finally:
            await admin.close()

    return asyncio.run(go())


def _interrupt(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=60)


def test_kafka_engine_keeps_its_topics_across_restarts(tmp_path: Path) -> None:
    port, data, log = free_port(), tmp_path / "kafka", tmp_path / "broker.log"
    first = _start(port, data, log)
    try:
        assert Topics().read_model in _topics(f"127.0.0.1:{port}")  # ccpulse's topics are created at start
        assert f"export CCPULSE_BOOTSTRAP_SERVERS=127.0.0.1:{port}" in log.read_text()
    finally:
        assert _interrupt(first) == 0
    assert log.read_text().rstrip().endswith("ccpulse broker: stopped")
    assert any(data.rglob("meta.properties")), "no KRaft storage in the data directory"
    second = _start(port, data, log)
    try:
        assert set(Topics().model_dump().values()) <= _topics(f"127.0.0.1:{port}")
    finally:
        assert _interrupt(second) == 0


def test_data_dir_needs_the_kafka_engine(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "ccpulse", "broker", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == "ccpulse: --data-dir needs --engine kafka: the embedded broker keeps everything in memory"
