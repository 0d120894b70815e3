"""End to end: ``ccpulse connect asterisk --follow`` feeding a worker, through two rotations and a crash.

The hand-written morning of tests/ccpulse/connectors/asterisk_day.py is written to a queue_log in
pieces while the connector follows it: appended, rotated logrotate-style (renamed, a last line
written to the renamed file, a new file created), the connector killed with SIGKILL, more lines
and a second rotation while it is down, restarted, then a copytruncate rotation. The API must
then show exactly the hand-computed figures, the contract topics must hold exactly the events the
pure mapping produces (nothing lost, nothing extra), and the bad lines must be dead-lettered.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from ccpulse.connectors import iso
from tests.ccpulse.connectors import asterisk_day as day
from tests.ccpulse.connectors.test_asterisk import OPTIONS, feed

pytestmark = pytest.mark.integration

CONNECTORS = orjson.dumps({"asterisk": OPTIONS.model_dump()}).decode()
RANGE = {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"}


def _append(path: Path, lines: list[str]) -> None:
    with open(path, "a") as out:
        out.write("".join(line + "\n" for line in lines))


class Connector:
    def __init__(self, stack, queue_log: Path, state: Path) -> None:
        self.stack, self.queue_log, self.state = stack, queue_log, state
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = stack.workdir / "connector.log"
        stack.logs.append(self.log)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ccpulse", "connect", "asterisk", "--queue-log", str(self.queue_log), "--follow",
             "--from-start", "--state-file", str(self.state)],
            env={**self.stack.env, "CCPULSE_CONNECTORS": CONNECTORS, "CCPULSE_LOG_LEVEL": "info"},
            cwd=self.stack.workdir, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)

    def caught_up(self) -> bool:
        """The saved position is the end of the current file: every line in it is acknowledged."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"the connector exited with {self.proc.returncode}\n{self.stack.log_tail()}")
        try:
            state = orjson.loads(self.state.read_bytes())
            info = self.queue_log.stat()
        except (FileNotFoundError, orjson.JSONDecodeError):
            return False
        return state["inode"] == info.st_ino and state["offset"] == info.st_size

    def wait(self) -> None:
        self.stack.wait_for(self.caught_up, timeout=60, what="the connector to read the queue_log to its end")


def test_follow_through_rotations_and_a_crash_loses_and_doubles_nothing(stack_factory, tmp_path: Path) -> None:
    stack = stack_factory().start(workers=1)
    queue_log, state = tmp_path / "asterisk" / "queue_log", tmp_path / "state" / "position.json"
    queue_log.parent.mkdir()
    lines = day.LINES
    _append(queue_log, lines[:10])
    connector = Connector(stack, queue_log, state)
    connector.start()
    connector.wait()
    _append(queue_log, lines[10:16])
    connector.wait()

    # logrotate (create): rename, Asterisk writes two more lines to the renamed file, then reopens.
    os.rename(queue_log, queue_log.with_name("queue_log.1"))
    _append(queue_log.with_name("queue_log.1"), lines[16:18])
    time.sleep(0.6)  # the connector polls in between and must keep reading the renamed file
    _append(queue_log, lines[18:22])
    connector.wait()

    # A crash; Asterisk goes on writing, and the log is rotated again before the connector is back.
    assert connector.proc is not None
    connector.proc.send_signal(signal.SIGKILL)
    connector.proc.wait()
    _append(queue_log, lines[22:26])
    os.rename(queue_log, queue_log.with_name("queue_log-20260302"))
    _append(queue_log, lines[26:30])
    connector.start()
    connector.wait()

    # copytruncate: copied away, emptied in place, then written again (shorter than before).
    shutil.copy(queue_log, queue_log.with_name("queue_log.2"))
    with open(queue_log, "r+") as f:
        f.truncate(0)
    _append(queue_log, lines[30:31])
    connector.wait()
    _append(queue_log, lines[31:])
    connector.wait()

    # The API shows the hand-computed figures.
    def interval(queue: str) -> dict:
        rows = stack.get(f"/api/v1/queues/{queue}/intervals", **RANGE).json()["intervals"]
        row = {r["interval_start"]: r for r in rows}["2026-03-02T09:00:00Z"]
        want = day.EXPECTED_INTERVALS[queue]
        assert {k: row[k] for k in want} == pytest.approx(want, abs=5e-4)  # the API rounds to 3 decimals
        return row

    for queue in day.EXPECTED_INTERVALS:
        stack.wait_for(lambda: interval(queue), timeout=90, what=f"{queue} to show the hand-computed figures")

    def agents() -> bool:
        rows = {a["agent_id"]: a for a in stack.get("/api/v1/agents", include_offline="true").json()["agents"]}
        got = {a: (rows[a]["state"], rows[a]["since"], rows[a]["reason"]) for a in day.FINAL_AGENTS}
        want = {a: (state, iso(day.T0 + since), reason) for a, (state, since, reason) in day.FINAL_AGENTS.items()}
        assert got == want
        return True

    stack.wait_for(agents, timeout=60, what="the agents' final states")

    # Nothing lost, nothing extra: the topics hold exactly the events of one clean mapping.
    expected, _, _ = feed(day.LINES)
    topics = stack.settings.topics
    sent = [orjson.loads(m.value) for t in (topics.contact_events, topics.agent_events) for m in stack.topic_messages(t)]
    assert {e["event_id"] for e in sent} == {e["event_id"] for e in expected}
    by_id = {e["event_id"]: e for e in expected}
    assert all(e == by_id[e["event_id"]] for e in sent)  # a re-read after the crash repeats events exactly

    dead = [orjson.loads(m.value) for m in stack.topic_messages(topics.deadletter)]
    mine = sorted((d["reason"], base64.b64decode(d["value_b64"]).decode()) for d in dead
                  if d["topic"].startswith("asterisk:"))
    assert sorted(set(mine)) == sorted((reason, lines[i]) for i, reason in day.BAD)
    metrics = stack.get("/metrics").text
    assert f'ccpulse_events_rejected_total{{reason="truncated",topic="asterisk:{queue_log}"}}' in metrics

    connector.proc.send_signal(signal.SIGTERM)
    assert connector.proc.wait(timeout=20) == 0
    summary = connector.log.read_text().strip().splitlines()[-1]
    assert summary.startswith("ccpulse connect asterisk:") and "dead-lettered" in summary
