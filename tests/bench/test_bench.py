"""`ccpulse bench` runs end to end (a smoke run): every line either has a rate for having counted
every event exactly, or says why not; the table and the one-line summary are printed. The figures
themselves are not judged here (performance lives in the benchmark output, docs/performance.md)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

pytestmark = pytest.mark.integration


def test_quick_bench_prints_the_table_with_every_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCPULSE_")}
    done = subprocess.run([sys.executable, "-m", "ccpulse", "bench", "--quick", "--only", "peers,worker,scale,recovery"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    table = {m.group(1): m.group(2) for m in re.finditer(r"^\| ([^|]+?) \| ([^|]+?) \|", done.stdout, re.M)}
    for line in ("raw-aiokafka", "raw-confluent", "faust-noop", "quix", "bytewax", "pathway",
                 "ccpulse worker x1", "ccpulse worker x2", "ccpulse worker x1 rocksdict",
                 "ccpulse recompute x1", "ccpulse recompute x2"):
        assert line in table, (line, done.stdout)
    # The ceiling, the Faust floor and ccpulse itself counted every event (a rate is only given then).
    for line in ("raw-aiokafka", "faust-noop", "ccpulse worker x1", "ccpulse worker x2", "ccpulse worker x1 rocksdict",
                 "ccpulse recompute x1", "ccpulse recompute x2"):
        assert re.fullmatch(r"[\d,]+", table[line]), (line, done.stdout)
    # A peer without a rate says why (not installed here, or what went wrong).
    for line in ("raw-confluent", "quix", "bytewax", "pathway"):
        row = next(r for r in done.stdout.splitlines() if r.startswith(f"| {line} |"))
        assert re.fullmatch(r"[\d,]+", table[line]) or row.rstrip(" |").split("|")[-1].strip(), row
    assert "| metrics scrape |" in done.stdout
    # The recovery line: a worker that processed the events restarted on its state and on none.
    assert re.search(r"^recovery after 5,0\d\d processed events \(rocksdict store; processed in \d+ s\): "
                     r"restart-to-ready [\d.]+ s on the state directory .*, [\d.]+ s from the changelogs alone", done.stdout, re.M), done.stdout
    assert re.search(r"^scale 200x20x2 .* rows, [\d,]+ MB read model in the API \([\d,]+ MB per million rows\)$",
                     done.stdout, re.M), done.stdout
    # The catch-up line: the same worker's rate on its backlog and when its read model was current.
    assert re.search(r"^catch-up: a rocksdict worker started on a backlog of 5,0\d\d events: [\d,]+ events/s, "
                     r"read model current \d+ s after its start", done.stdout, re.M), done.stdout
    # The targets: each met, missed, or not measured (a smoke run does not judge the 1 M-event recovery).
    targets = dict(re.findall(r"^\| ([^|]+?) \| [^|]+ \| (met|missed|not measured) \|$", done.stdout, re.M))
    assert targets["ccpulse worker x1 >= 0.5x Faust no-op"] in ("met", "missed"), done.stdout
    assert targets["restart-to-ready from the changelogs alone after 1,000,000 events <= 60 s"] == "not measured"
    assert {"every API read p99 <= 50 ms at 200x20x2", "/metrics p99 <= 150 ms",
            "recompute x2 >= 2x 29,809 events/s"} <= set(targets), targets
    assert re.search(r"^ccpulse bench: \d+ lines x 1 rounds on the embedded broker in \d+ s$", done.stdout, re.M)


def test_a_line_leaves_no_topics_behind(broker: Any, tmp_path: Path) -> None:
    """The embedded broker keeps every topic in memory, so each line deletes its own topics when it is
    done (or a full run would not fit in memory): input, read model, Faust's changelogs, all of them."""
    from bench.runner import Worker, bench_events

    async def names() -> set[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        await admin.start()
        try:
            return set(await admin.list_topics())
        finally:
            await admin.close()

    worker = Worker(broker.bootstrap_servers, "embedded" if broker.engine == "tansu" else "kafka", tmp_path)
    worker.topics()
    n = worker.produce(bench_events(200, contacts_only=False))
    worker.start(1)
    assert not isinstance(worker.wait_committed(n, timeout=300), str), worker.workdir
    ours = {t for t in asyncio.run(names()) if worker.prefix in t}
    assert any(t.endswith("-changelog") for t in ours), ours  # the worker's tables were there
    assert worker.data_dir(0).exists()
    worker.close()
    assert not {t for t in asyncio.run(names()) if worker.prefix in t}
    assert not worker.data_dir(0).exists()


def test_the_pruning_benchmark_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.prune import main

    assert main(["--entities", "8,16"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\| ([\d,]+) \| ([\d,]+) ms \| ([\d.,]+) ms \|$", out, re.M)
    assert [int(stored.replace(",", "")) for stored, _, _ in rows] == [8 * 768, 16 * 768]  # 8 days of 15 minutes
    assert re.search(r"^bench.prune: 2 sizes; at 12,288 buckets the schedule is [\d,]+x cheaper per pruning$", out, re.M)
