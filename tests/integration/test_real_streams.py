"""The real-platform sequences end to end: ``ccpulse replay`` into a broker, a worker, the API; then recompute.

Every case of tests/real_world_scenario.py (same-second events in both producer orders, clock skew,
legs, re-queue, thumbs CSAT, a call back during ACW, agent states in one second) is sent in one
stream, each case with its own ids and its own half hour of the day. The API must serve exactly the
figures worked out by hand, and ``ccpulse recompute --dry-run`` over the day must find every closed
interval the same as served.

The stack uses a 5-minute lateness bound and a 10-minute FCR window, and the stream ends with 40
contacts at 23:00 in queues of their own, so every earlier interval closes on every partition.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from ccpulse.domain.intervals import iso, parse_time
from tests.real_world_scenario import CASES, DAY, namespaced

ENV = {"CCPULSE_LATENESS_SECONDS": "300", "CCPULSE_FCR_WINDOW_SECONDS": "600"}
SLOT_SECONDS = 1800
DAY_RANGE = {"start": f"{DAY}T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
_PATHS = {"queue": "/api/v1/queues/{}/intervals", "agent": "/api/v1/agents/{}/intervals"}


def _shift(event: dict[str, Any], seconds: float) -> dict[str, Any]:
    return dict(event, occurred_at=iso(parse_time(event["occurred_at"]) + seconds))


def stream() -> tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    expected: dict[tuple[str, str], dict[str, Any]] = {}
    for slot, (case, (case_events, case_expected)) in enumerate(CASES.items()):
        renamed, figures = namespaced(case, case_events, case_expected)
        events += [_shift(e, slot * SLOT_SECONDS) for e in renamed]
        expected.update(figures)
    for n in range(40):  # moves every partition's newest bucket past the cases' intervals
        events += [{"event_id": f"tick-{n}-q", "type": "contact.queued", "occurred_at": f"{DAY}T23:00:00Z",
                    "contact_id": f"tick-{n}", "channel": "voice", "queue_id": f"tick-{n}"},
                   {"event_id": f"tick-{n}-a", "type": "contact.abandoned", "occurred_at": f"{DAY}T23:00:30Z",
                    "contact_id": f"tick-{n}"}]
    return events, expected


def day_figures(stack: Any, dimension: str, entity: str) -> dict[str, Any]:
    response = stack.get(_PATHS[dimension].format(entity), granularity="1d", **DAY_RANGE)
    assert response.status_code == 200, (dimension, entity, response.text)
    [row] = response.json()["intervals"]
    return row


def mismatches(stack: Any, expected: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    out = []
    for (dimension, entity), figures in expected.items():
        got = day_figures(stack, dimension, entity)
        wrong = {name: (got.get(name), want) for name, want in figures.items() if got.get(name) != want}
        if wrong:
            out.append(f"{dimension} {entity}: {wrong}")
    return out


def test_real_platform_sequences_end_to_end_and_recompute_agrees(stack_factory, tmp_path: Path) -> None:
    events, expected = stream()
    path = tmp_path / "real.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    stack = stack_factory(ENV).start(workers=1)

    sent = subprocess.run([sys.executable, "-m", "ccpulse", "replay", str(path)], env=stack.env, cwd=stack.workdir,
                          capture_output=True, text=True, timeout=180)
    assert sent.returncode == 0, sent.stderr
    assert f"sent {len(events):,} events, rejected 0" in sent.stderr, sent.stderr

    last: list[str] = []

    def settled() -> bool:
        last[:] = mismatches(stack, expected)
        return not last

    stack.wait_for(settled, timeout=180, what=f"the hand-worked figures (still differing: {last[:5]})")
    contacts = stack.get("/api/v1/queues").json()["queues"]
    assert all(q["live"]["waiting"] == 0 for q in contacts), "no contact of the cases is left waiting"

    out = tmp_path / "diff.csv"
    dry = subprocess.run([sys.executable, "-m", "ccpulse", "recompute", "--from", DAY_RANGE["start"], "--to",
                          DAY_RANGE["end"], "--dry-run", "--format", "csv", "--output", str(out)],
                         env=stack.env, cwd=stack.workdir, capture_output=True, text=True, timeout=240)
    assert dry.returncode == 0, dry.stderr
    assert "0 changed, 0 added, 0 removed" in dry.stderr, dry.stderr
    lines = list(csv.DictReader(out.open()))
    assert lines and {line["status"] for line in lines} == {"same"}
    compared = {(line["dimension"], line["id"]) for line in lines}
    assert set(expected) <= compared, sorted(set(expected) - compared)[:5]  # every case's entities were compared
