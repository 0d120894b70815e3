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


def test_long_lived_contacts_end_to_end_and_recompute_agrees(stack_factory, tmp_path: Path) -> None:
    """An email queued Friday 17:30 and answered Monday 08:45 over a weekend of traffic on every partition,
    and a call QA-scored (and surveyed) days later, through replay, a worker and the API; then recompute.
    Figures by hand in tests/ccpulse/domain/test_long_contacts.py: the email counts on Monday as answered 1,
    ASA 227,700 s (wall), handled 1 with AHT 2,100 s; the QA five days later counts for a1 and q1."""
    from tests.ccpulse.domain.test_long_contacts import ANSWER, EMAIL, MON, WEEKEND, at, by_time, ev, traffic

    start = at(MON, "09:00:00")
    call = [ev("queued", start, "k1", channel="voice", queue_id="q1"), ev("answered", start + 15, "k1", agent_id="a1"),
            ev("ended", start + 615, "k1"), ev("wrapped_up", start + 645, "k1")]
    later = [ev("evaluated", start + 5 * 86400, "k1", agent_id="a1", score=0.9),
             ev("responded", start + 3 * 86400, "k1", survey="csat", score=5)]
    ticks = [e for n in range(40) for e in (
        ev("queued", at("2026-03-14", "11:00:00"), f"tick-{n}", channel="voice", queue_id=f"tick-{n}"),
        ev("abandoned", at("2026-03-14", "11:00:30"), f"tick-{n}"))]
    events = by_time([*EMAIL, *WEEKEND, *ANSWER, *call, *later,
                      *traffic(start + 1800, start + 5 * 86400 + 3600, every=3 * 3600, tag="w")]) + ticks
    path = tmp_path / "long.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    stack = stack_factory(ENV).start(workers=1)
    sent = subprocess.run([sys.executable, "-m", "ccpulse", "replay", str(path)], env=stack.env, cwd=stack.workdir,
                          capture_output=True, text=True, timeout=180)
    assert sent.returncode == 0 and f"sent {len(events):,} events, rejected 0" in sent.stderr, sent.stderr

    monday = {"start": f"{MON}T00:00:00Z", "end": "2026-03-10T00:00:00Z"}
    week = {"start": "2026-03-06T00:00:00Z", "end": "2026-03-15T00:00:00Z"}

    def intervals(path: str, **params: str) -> list[dict]:
        response = stack.get(path, granularity="1d", **params)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()["intervals"]

    def settled() -> bool:
        rows = intervals("/api/v1/queues/eq/intervals", **monday)
        if len(rows) != 1:
            return False
        email = rows[0]
        q1 = intervals("/api/v1/queues/q1/intervals", **week)
        a1 = intervals("/api/v1/agents/a1/intervals", **week)
        return ((email["answered"], email["handled"], email["asa_seconds"], email["aht_seconds"]) == (1, 1, 227_700.0, 2_100.0)
                and sum(r["qa_count"] for r in q1) == 1 and sum(r["qa_count"] for r in a1) == 1
                and sum(r["csat_responses"] for r in a1) == 1)

    stack.wait_for(settled, timeout=180, what="the weekend email on Monday, the CSAT three days and the QA five days later")
    [saturday] = stack.get("/api/v1/queues/q1/intervals", granularity="1d", start="2026-03-14T00:00:00Z",
                           end="2026-03-15T00:00:00Z").json()["intervals"]
    assert (saturday["qa_count"], saturday["qa_score"]) == (1, 0.9)

    out = tmp_path / "diff.csv"
    dry = subprocess.run([sys.executable, "-m", "ccpulse", "recompute", "--from", week["start"], "--to", week["end"],
                          "--dry-run", "--format", "csv", "--output", str(out)],
                         env=stack.env, cwd=stack.workdir, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr
    assert "0 changed, 0 added, 0 removed" in dry.stderr, dry.stderr
    lines = list(csv.DictReader(out.open()))
    assert {line["status"] for line in lines} == {"same"}
    assert {("queue", "eq"), ("agent", "a1"), ("queue", "q1")} <= {(line["dimension"], line["id"]) for line in lines}
