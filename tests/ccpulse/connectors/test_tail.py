"""The queue_log reader's file handling (position, unterminated lines, state file), with an in-memory producer.

Kafka itself is exercised end to end in tests/integration/test_connect_asterisk.py; here only what the
reader does with files is checked, quickly.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson

from ccpulse.connectors.asterisk import QueueLogMapper
from ccpulse.connectors.sink import Sink
from ccpulse.connectors.tail import QueueLogFollower
from ccpulse.settings import Settings
from tests.ccpulse.connectors import asterisk_day as day
from tests.ccpulse.connectors.test_asterisk import OPTIONS, feed


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> Any:
        self.sent.append((topic, value, key))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def _read(path: Path, state: Path, recorder: Recorder) -> QueueLogFollower:
    settings = Settings()
    follower = QueueLogFollower(path, state, QueueLogMapper(OPTIONS), Sink(settings, recorder, "asterisk:test"))
    asyncio.run(follower.run())
    return follower


def _events(recorder: Recorder) -> list[dict]:
    return [orjson.loads(v) for t, v, _ in recorder.sent if t != Settings().topics.deadletter]


def test_a_file_read_once_then_resumed_from_the_state_file(tmp_path: Path) -> None:
    log, state = tmp_path / "queue_log", tmp_path / "state.json"
    log.write_text("".join(line + "\n" for line in day.LINES[:20]))
    first = Recorder()
    _read(log, state, first)
    saved = orjson.loads(state.read_bytes())
    assert saved["offset"] == log.stat().st_size and saved["inode"] == log.stat().st_ino
    with open(log, "a") as out:
        out.write("".join(line + "\n" for line in day.LINES[20:-1]) + day.LINES[-1])  # no final newline
    second = Recorder()
    _read(log, state, second)
    expected, _, _ = feed(day.LINES)
    # The first run ended its wrap-ups at its end of file; the rest is exactly the remainder, keys as the contract says.
    ids = [e["event_id"] for e in _events(first) + _events(second)]
    assert set(ids) == {e["event_id"] for e in expected} and len(ids) == len(set(ids))
    for topic, value, key in first.sent + second.sent:
        event = orjson.loads(value)
        if "type" in event:
            assert key == (event.get("agent_id") if event["type"] == "agent.state_changed" else event["contact_id"]).encode()
    dead = [orjson.loads(v) for t, v, _ in first.sent + second.sent if t == Settings().topics.deadletter]
    assert sorted(d["reason"] for d in dead) == sorted(r for _, r in day.BAD)


def test_an_unterminated_line_waits_for_its_end_when_following(tmp_path: Path) -> None:
    log, state = tmp_path / "queue_log", tmp_path / "state.json"
    log.write_text(day.LINES[5] + "\n" + day.LINES[7][:20])  # Asterisk is half-way through a line
    recorder = Recorder()
    follower = QueueLogFollower(log, state, QueueLogMapper(OPTIONS), Sink(Settings(), recorder, "asterisk:test"),
                                follow=True, from_start=True, poll_seconds=0.05)

    async def go() -> None:
        task = asyncio.create_task(follower.run())
        await asyncio.sleep(0.3)
        with open(log, "a") as out:
            out.write(day.LINES[7][20:] + "\n")
        await asyncio.sleep(0.3)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(go())
    kinds = [orjson.loads(v).get("type") for _, v, _ in recorder.sent]
    assert kinds[:2] == ["contact.queued", "contact.answered"] and "reason" not in orjson.loads(recorder.sent[0][1])
