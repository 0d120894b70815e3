"""End to end: Amazon Connect records through all three drivers into one worker, and the figures back out.

The hand-written morning of tests/ccpulse/connectors/connect_day.py is split in three: the first part is
JSON lines read by ``ccpulse connect amazon-connect --input -`` and ``--input FILE``, the second is POSTed record by
record to ``/api/v1/connectors/amazon-connect`` (as an EventBridge API destination does), the third is
produced raw to the topic the workers translate (``CCPULSE_CONNECTORS__AMAZON_CONNECT__RAW_TOPIC``). The
API must show the hand-computed figures, and every bad record must be in the dead-letter topic.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from ccpulse.connectors import iso
from tests.ccpulse.connectors import connect_day as day

pytestmark = pytest.mark.integration

RANGE = {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"}
PATH = "/api/v1/connectors/amazon-connect"
INGEST, READER, LIMITED = "ingest-token", "reader-token", "limited-ingest-token"


def test_file_http_and_raw_topic_drivers(stack_factory, tmp_path: Path) -> None:
    tokens = {READER: ["read", "metrics"], INGEST: ["ingest"], LIMITED: (["ingest"], ["webchat"])}
    stack = stack_factory(tokens=tokens)
    raw_topic = f"{stack.prefix}.amazon-connect-raw"
    stack.env["CCPULSE_CONNECTORS"] = orjson.dumps({"amazon_connect": {"raw_topic": raw_topic}}).decode()
    stack.start(workers=1)
    lines = day.lines()

    # 1. The JSON-lines driver: standard input, then a file.
    piped = subprocess.run([sys.executable, "-m", "ccpulse", "connect", "amazon-connect", "--input", "-"],
                           input=b"".join(line + b"\n" for line in lines[:6]), env=stack.env, cwd=stack.workdir,
                           capture_output=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr.decode().strip().splitlines()[-1].startswith("ccpulse connect amazon-connect: 6 records,")
    archive = tmp_path / "connect.jsonl"
    archive.write_bytes(b"".join(line + b"\n" for line in lines[6:13]))
    done = subprocess.run([sys.executable, "-m", "ccpulse", "connect", "amazon-connect", "--input", str(archive)],
                          env=stack.env, cwd=stack.workdir, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = done.stderr.strip().splitlines()[-1]
    assert summary.startswith("ccpulse connect amazon-connect: 7 records,") and "1 dead-lettered (not_json 1)" in summary

    # 2. The HTTP endpoint: an ingest token; a token without the scope, or limited to other queues, cannot.
    url = stack.url + PATH
    assert httpx.post(url, content=lines[13], timeout=20).status_code == 401
    assert httpx.post(url, content=lines[13], headers={"Authorization": f"Bearer {READER}"}, timeout=20).status_code == 403
    limited = httpx.post(url, content=orjson.dumps(day.RECORDS[24]), headers={"Authorization": f"Bearer {LIMITED}"},
                         timeout=20)
    assert limited.status_code == 202 and limited.json()["results"][0]["reason"] == "out_of_scope"
    assert httpx.post(url, content=b"{nope", headers={"Authorization": f"Bearer {INGEST}"}, timeout=20).status_code == 400
    statuses = []
    for line in lines[13:24]:
        response = httpx.post(url, content=line, headers={"Authorization": f"Bearer {INGEST}"}, timeout=20)
        assert response.status_code == 202, response.text
        statuses.append(response.json()["results"][0]["status"])
    assert [i for i, s in enumerate(statuses, 13) if s == "rejected"] == [16, 18, 22]

    # 3. The raw topic the workers translate.
    stack.produce([(raw_topic, None, line) for line in lines[24:]])

    def interval(queue: str) -> dict:
        rows = stack.get(f"/api/v1/queues/{queue}/intervals", **RANGE).json()["intervals"]
        row = {r["interval_start"]: r for r in rows}["2026-03-02T09:00:00Z"]
        want = day.EXPECTED_INTERVALS[queue]
        assert {k: row[k] for k in want} == pytest.approx(want, abs=5e-4)
        return row

    for queue in day.EXPECTED_INTERVALS:
        stack.wait_for(lambda: interval(queue), timeout=120, what=f"{queue} to show the hand-computed figures")

    def agents() -> bool:
        rows = {a["agent_id"]: a for a in stack.get("/api/v1/agents", include_offline="true").json()["agents"]}
        got = {a: (rows[a]["state"], rows[a]["since"], rows[a]["reason"]) for a in day.FINAL_AGENTS}
        assert got == {a: (s, iso(day.T0 + t), r) for a, (s, t, r) in day.FINAL_AGENTS.items()}
        assert rows["alice"]["queue_ids"] == ["support", "webchat"]
        return True

    stack.wait_for(agents, timeout=60, what="the agents' final states")

    def dead_letters() -> list:
        records = [orjson.loads(m.value) for m in stack.topic_messages(stack.settings.topics.deadletter)]
        got = sorted((d["reason"], base64.b64decode(d["value_b64"])) for d in records if d["reason"] != "out_of_scope")
        assert got == sorted((reason, lines[i]) for i, reason in day.BAD)
        return records

    records = stack.wait_for(dead_letters, timeout=60, what="the bad records in the dead-letter topic")
    sources = {d["topic"] for d in records}
    assert sources == {f"amazon-connect:{archive}", "api:" + PATH, raw_topic}
