"""Every final figure of a stack, through its API, for "exactly equal to an uninterrupted run" checks.

A seeded simulator scenario (``scenario_events``) is streamed into a stack under some fault; the
test then compares ``final_figures`` with those of a clean run of the same events (``clean_figures``,
cached per broker engine and scenario), key by key, without tolerance.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from ccpulse.simulate import SimConfig, generate

__all__ = ["SCENARIO_START", "clean_figures", "final_figures", "consumed", "differences", "scenario_events", "settled_figures"]

#: A fixed Monday morning, so intervals and days are the same on every run.
SCENARIO_START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-04T00:00:00Z"}

_clean: dict[tuple[str, int, float], dict[str, Any]] = {}


def scenario_events(seed: int = 11, minutes: float = 40, agents: int = 12, load: float = 1.0) -> list[dict[str, Any]]:
    """A deterministic multichannel scenario: contacts, agent states, surveys, QA, repeat contacts."""
    config = SimConfig(seed=seed, start=SCENARIO_START, duration_seconds=minutes * 60, agents=agents, load=load)
    return list(generate(config))


def _ids(events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    queues = sorted({e["queue_id"] for e in events if e["type"] == "contact.queued"})
    agents = sorted({e["agent_id"] for e in events if e["type"] == "agent.state_changed"})
    return queues, agents


def final_figures(stack: Any, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Interval rows (15m) of every queue and agent, centre survey rows, and every agent's state."""
    queues, agents = _ids(events)
    out: dict[str, Any] = {}
    for queue in queues:
        out[f"queue {queue}"] = stack.get(f"/api/v1/queues/{queue}/intervals", **RANGE).json()["intervals"]
    for agent in agents:
        out[f"agent {agent}"] = stack.get(f"/api/v1/agents/{agent}/intervals", **RANGE).json()["intervals"]
    out["surveys"] = stack.get("/api/v1/surveys", **RANGE).json()["intervals"]
    out["agent states"] = {a["agent_id"]: (a["state"], a["since"], a["reason"]) for a in
                           stack.get("/api/v1/agents", include_offline="true", limit=5000).json()["agents"]}
    out["waiting"] = {q["queue_id"]: q["live"]["waiting"] for q in stack.get("/api/v1/queues").json()["queues"]}
    return out


def differences(got: dict[str, Any], want: dict[str, Any], limit: int = 5) -> list[str]:
    """Human-readable differences (the first ``limit``), empty when equal."""
    out = []
    for key in sorted(set(got) | set(want)):
        if got.get(key) != want.get(key):
            a, b = got.get(key), want.get(key)
            if isinstance(a, list) and isinstance(b, list):
                rows_a = {r["interval_start"]: r for r in a}
                rows_b = {r["interval_start"]: r for r in b}
                for start in sorted(set(rows_a) | set(rows_b)):
                    ra, rb = rows_a.get(start), rows_b.get(start)
                    if ra != rb:
                        fields = sorted(k for k in set(ra or {}) | set(rb or {})
                                        if (ra or {}).get(k) != (rb or {}).get(k)) if ra and rb else ["(missing row)"]
                        out.append(f"{key} {start}: " + ", ".join(
                            f"{f}={(ra or {}).get(f)!r} want {(rb or {}).get(f)!r}" for f in fields[:6]))
                        break
            else:
                out.append(f"{key}: {str(a)[:300]} want {str(b)[:300]}")
        if len(out) >= limit:
            break
    return out


def consumed(stack: Any) -> int:
    """Input events the workers have processed (their reported counters, via /metrics)."""
    text = stack.get("/metrics").text
    return int(sum(float(v) for v in re.findall(r"^ccpulse_events_consumed_total\{[^}]*\} (\S+)$", text, re.M)))


def settled_figures(stack: Any, events: list[dict[str, Any]], want: dict[str, Any] | None = None,
                    timeout: float = 180) -> dict[str, Any]:
    """Wait until the stack's figures stop changing (or equal ``want``), then return them."""
    last: list[Any] = [None, 0]

    def stable() -> dict[str, Any] | None:
        if consumed(stack) < len(events):
            return None
        figures = final_figures(stack, events)
        if want is not None:
            return figures if figures == want else None
        if figures == last[0]:
            last[1] += 1
        else:
            last[0], last[1] = figures, 0
        return figures if last[1] >= 4 else None  # unchanged over ~4 polls after the stream drained

    try:
        return stack.wait_for(stable, timeout=timeout, what="the figures to settle")
    except BaseException:
        if want is not None:
            print("differences:", *differences(final_figures(stack, events), want), sep="\n  ")
        raise


def clean_figures(stack_factory: Any, broker: Any, events: list[dict[str, Any]], key: tuple[int, float] = (11, 40)) -> dict[str, Any]:
    """The figures of an uninterrupted run of ``events`` on ``broker`` (computed once per engine and key)."""
    cache_key = (getattr(broker, "engine", "?"), *key)
    if cache_key not in _clean:
        stack = stack_factory().start(workers=1)
        stack.produce(events)
        _clean[cache_key] = settled_figures(stack, events)
        stack.stop()
    return _clean[cache_key]

