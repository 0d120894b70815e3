"""``ccpulse recompute`` against real workers and APIs on a real broker.

1. Unchanged settings reproduce the live rows exactly (of a scenario sent with disorder, duplicates
   and late events): the dry run shows no difference, and after
   publishing a generation (and restarting the API, which rebuilds from the compacted topic) every
   figure is what it was.
2. A changed threshold gives exactly what a fresh live run with that threshold from the start gives,
   for every closed interval; open intervals stay live; a worker restart republishing its
   old-definition rows does not undo it.
3. Bad settings are rejected before anything is published.

The stacks use a 5-minute lateness bound and a 10-minute FCR window so that the 40-minute scenario
has closed intervals (closed = end + lateness + FCR window behind the newest event): 08:00, 08:15
and 08:30 are closed, 08:45 is open.
"""

from __future__ import annotations

import csv
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from ccpulse.domain.intervals import iso, parse_time
from tests.integration.figures import RANGE, scenario_events, settled_figures

ENV = {"CCPULSE_LATENESS_SECONDS": "300", "CCPULSE_FCR_WINDOW_SECONDS": "600"}
FROM, TO = "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"
CLOSED = ("2026-03-02T08:00:00Z", "2026-03-02T08:15:00Z", "2026-03-02T08:30:00Z")
OPEN = "2026-03-02T08:45:00Z"
CHANNELS = ("voice", "chat", "email")
NEW_SETTINGS = """
[queues.sales]
sl_threshold_seconds = 5

[channels.chat]
sl_threshold_seconds = 10
"""


def recompute(stack: Any, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ccpulse", "recompute", "--from", FROM, "--to", TO, *args],
                          env=stack.env, cwd=stack.workdir, capture_output=True, text=True, timeout=timeout)


def interval_rows(stack: Any, events: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """15-minute rows of every queue, agent and channel, by entity then interval start."""
    queues = sorted({e["queue_id"] for e in events if e["type"] == "contact.queued"})
    agents = sorted({e["agent_id"] for e in events if e["type"] == "agent.state_changed"})
    paths = ([f"/api/v1/queues/{q}/intervals" for q in queues] + [f"/api/v1/agents/{a}/intervals" for a in agents]
             + [f"/api/v1/channels/{c}/intervals" for c in CHANNELS])
    out = {}
    for path in paths:
        response = stack.get(path, granularity="15m", **RANGE)
        assert response.status_code == 200, (path, response.text)
        out[path] = {row["interval_start"]: row for row in response.json()["intervals"]}
    return out


def only(rows: dict[str, dict[str, dict[str, Any]]], starts: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return {path: {s: r for s, r in by_start.items() if s in starts} for path, by_start in rows.items()}


def restart_api(stack: Any, **env: str) -> None:
    """Stop the API and start it again (it rebuilds everything from the compacted topic); wait until ready."""
    assert stack.api is not None
    stack.api.send_signal(signal.SIGTERM)
    stack.api.wait(timeout=20)
    stack.env.update(env)
    stack.start_api()
    stack.wait_for(lambda: stack.get("/readyz").status_code == 200, timeout=60, what="the restarted API to be ready")


def end_offsets(stack: Any, topic: str) -> int:
    return len(stack.topic_messages(topic))


def generation_records(stack: Any) -> int:
    """Records of generations (rows, markers, tombstones) in the read model; the workers write the rest."""
    return sum(1 for m in stack.topic_messages(stack.settings.topics.read_model)
               if m.key.startswith((b"generation|", b"recomputed|")))


def generation_markers(stack: Any) -> list[dict[str, Any]]:
    return [orjson.loads(m.value) for m in stack.topic_messages(stack.settings.topics.read_model)
            if m.key.startswith(b"generation|") and m.value is not None]


def perturbed(events: list[dict[str, Any]], seed: int = 3) -> list[dict[str, Any]]:
    """The scenario as a real source sends it: neighbours swapped (disorder within the lateness
    bound), some events sent twice (duplicates), and a few far too late (dead-lettered as late)."""
    rng = random.Random(seed)
    out = list(events)
    for i in range(len(out) - 1):
        if rng.random() < 0.15:
            out[i], out[i + 1] = out[i + 1], out[i]
    for i in rng.sample(range(len(events)), 12):
        out.insert(min(len(out), i + rng.randint(1, 40)), dict(events[i]))
    for n, i in enumerate(rng.sample(range(len(events) // 2, len(events)), 6)):
        late = dict(events[i], event_id=f"late-{n}")
        late["occurred_at"] = iso(parse_time(late["occurred_at"]) - 1200)
        out.insert(min(len(out), i + 5), late)
    return out


def test_recompute_with_unchanged_settings_reproduces_the_live_rows(stack_factory, tmp_path: Path) -> None:
    events = perturbed(scenario_events())
    stack = stack_factory(ENV).start(workers=1)
    stack.produce(events)
    figures = settled_figures(stack, events)
    rows = interval_rows(stack, events)
    assert set(CLOSED) <= {s for by_start in rows.values() for s in by_start}

    # Dry run: every closed interval recomputed exactly as served; nothing published.
    out = tmp_path / "diff.csv"
    dry = recompute(stack, "--dry-run", "--format", "csv", "--output", str(out), "--processes", "2")
    assert dry.returncode == 0, dry.stderr
    assert "0 changed, 0 added, 0 removed" in dry.stderr, dry.stderr
    lines = list(csv.DictReader(out.open()))
    assert lines and {line["status"] for line in lines} == {"same"}
    assert {line["interval_start"] for line in lines} == set(CLOSED)  # the open 08:45 interval is left alone
    assert {line["dimension"] for line in lines} == {"queue", "channel", "agent"}
    assert "(18 rejected at input" in dry.stderr, dry.stderr  # the 12 duplicates and 6 late events, as live
    assert all(line["current_offered"] == line["recomputed_offered"] for line in lines)
    assert generation_records(stack) == 0

    # Publish a generation; the API restarted on the compacted topic serves it, with the same figures.
    done = recompute(stack, "--processes", "1")
    assert done.returncode == 0, done.stderr
    assert "published generation" in done.stderr and "(0 differ" in done.stderr, done.stderr
    [marker] = generation_markers(stack)
    assert (marker["from"], marker["to"], marker["dimensions"]) == (parse_time(FROM), parse_time(OPEN), ["queue", "channel", "agent", "agentq"])
    # every diffed row, and the per-(agent, queue) rows (published, served only summed into their agent's)
    assert marker["rows"] == len(lines) + sum(
        1 for m in stack.topic_messages(stack.settings.topics.read_model)
        if m.key.startswith(b"recomputed|") and b"|interval|agentq|" in m.key and m.value is not None)
    restart_api(stack)
    assert interval_rows(stack, events) == rows
    assert settled_figures(stack, events, want=figures, timeout=60) == figures

    # A second generation supersedes the first: its rows and marker are tombstoned.
    again = recompute(stack, "--processes", "2")
    assert again.returncode == 0, again.stderr
    assert f"withdrew {marker['rows'] + 1:,} superseded rows" in again.stderr, again.stderr
    latest: dict[bytes, bytes | None] = {}
    for m in stack.topic_messages(stack.settings.topics.read_model):
        latest[m.key] = m.value
    live_generations = {k.split(b"|")[1] for k, v in latest.items() if k.startswith((b"generation|", b"recomputed|")) and v}
    assert len(live_generations) == 1 and marker["generation"].encode() not in live_generations
    restart_api(stack)
    assert interval_rows(stack, events) == rows


def test_recompute_with_a_changed_threshold_equals_a_fresh_run_with_it(stack_factory, tmp_path: Path) -> None:
    events = scenario_events()
    config = tmp_path / "new-settings.toml"
    config.write_text(NEW_SETTINGS)
    old = stack_factory(ENV).start(workers=1)
    fresh = stack_factory({**ENV, "CCPULSE_CONFIG_FILE": str(config)}).start(workers=1)
    old.produce(events)
    fresh.produce(events)
    settled_figures(old, events)
    settled_figures(fresh, events)
    before, want = interval_rows(old, events), interval_rows(fresh, events)
    sales = "/api/v1/queues/sales/intervals"
    assert any(before[sales][s]["answered_within_sl"] != want[sales][s]["answered_within_sl"] for s in CLOSED), \
        "the scenario must be one the new threshold changes"

    done = recompute(old, "--settings", str(config), "--processes", "2")
    assert done.returncode == 0, done.stderr
    assert "published generation" in done.stderr, done.stderr
    # The running API switches to the generation as soon as it has read it (counts are settings-free).
    counts = ("answered_within_sl", "abandoned_within_sl", "answered", "offered", "handled")

    def switched() -> bool:
        now = interval_rows(old, events)
        return all({f: now[p][s][f] for f in counts} == {f: want[p][s][f] for f in counts}
                   for p in want for s in CLOSED if s in want[p])

    old.wait_for(switched, timeout=30, what="the running API to serve the recomputed generation")
    # The API deployed with the new settings (the formula and targets are read-side) serves the
    # recomputed closed intervals: exactly the fresh run's.
    restart_api(old, CCPULSE_CONFIG_FILE=str(config))
    after = interval_rows(old, events)
    assert only(after, CLOSED) == only(want, CLOSED)
    # The open interval is still the workers' (counted with the old threshold).
    counted = ("offered", "answered", "answered_within_sl", "abandoned_within_sl", "handled", "aht_seconds")
    for path, by_start in before.items():
        if OPEN in by_start:
            assert {f: after[path][OPEN][f] for f in counted} == {f: by_start[OPEN][f] for f in counted}, path

    # A worker restart republishes its old-definition rows: the generation still wins.
    read_model = old.settings.topics.read_model
    interval_keys = {m.key for m in old.topic_messages(read_model) if m.key.startswith(b"interval|")}
    published = end_offsets(old, read_model)
    worker = old.workers.pop(0)
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=30)
    old.add_worker()
    old.wait_for(lambda: end_offsets(old, read_model) >= published + len(interval_keys), timeout=120,
                 what="the restarted worker to republish its interval rows")
    time.sleep(2)  # the API applies them as they come
    assert only(interval_rows(old, events), CLOSED) == only(want, CLOSED)


BAD_SETTINGS = {
    "not TOML": ("[queues.sales\nsl_threshold_seconds = 10\n", "is not valid TOML"),
    "bad value": ("[queues.sales]\nsl_threshold_seconds = -1\n", "invalid setting queues.sales.sl_threshold_seconds"),
    "unknown setting": ("sl_treshold = 3\n", "invalid setting sl_treshold"),
    "unknown zone": ('timezone = "Mars/Olympus_Mons"\n', "invalid setting timezone"),
    "unknown formula": ('[channels.voice]\nsl_threshold_seconds = 20\nsl_formula = "magic"\n', "invalid setting channels.voice.sl_formula"),
}


def test_bad_settings_are_rejected_before_anything_is_published(stack_factory, tmp_path: Path) -> None:
    stack = stack_factory(ENV).start(workers=0, api=False)
    stack.produce(scenario_events(minutes=20))
    read_model = stack.settings.topics.read_model
    assert end_offsets(stack, read_model) == 0
    for name, (text, message) in BAD_SETTINGS.items():
        path = tmp_path / f"{name.replace(' ', '-')}.toml"
        path.write_text(text)
        result = recompute(stack, "--settings", str(path))
        assert result.returncode == 2, (name, result.stderr)
        assert message in result.stderr and "nothing was published" in result.stderr, (name, result.stderr)
    missing = recompute(stack, "--settings", str(tmp_path / "absent.toml"))
    assert missing.returncode == 2 and "no such settings file" in missing.stderr, missing.stderr
    assert end_offsets(stack, read_model) == 0
    # The same command with good settings does publish (so the check above could have seen it).
    good = tmp_path / "good.toml"
    good.write_text(NEW_SETTINGS)
    result = recompute(stack, "--settings", str(good), "--processes", "1")
    assert result.returncode == 0, result.stderr
    assert end_offsets(stack, read_model) > 0

