"""Agent figures per (agent, queue): every contact measure credited to an agent is also credited to
its ``agentq`` series of the queue it was on, so a queue-limited reader sees an agent's work on its
queues only, and the per-queue series sum to the agent's series."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from hypothesis import given, settings as hsettings, strategies as st

from ccpulse.domain.batch import fold_messages
from ccpulse.domain.intervals import agent_queue, split_agent_queue
from ccpulse.settings import Settings

QUEUES = ("sales", "support", "billing")
AGENTS = ("a1", "a2")


def _at(second: int) -> str:
    return f"2026-03-02T09:{second // 60:02d}:{second % 60:02d}Z"


def _series(buckets: dict[str, Any], prefix: str) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for key, bucket in buckets.items():
        dimension, entity, start = key.split("|", 2)
        if dimension == prefix:
            out.setdefault(entity, Counter()).update({f"{start}:{m}": v for m, v in bucket["c"].items()})
    return out


def test_hand_worked_agent_on_two_queues() -> None:
    events = [
        {"type": "contact.queued", "contact_id": "c1", "queue_id": "sales", "channel": "voice", "t": 0},
        {"type": "contact.answered", "contact_id": "c1", "agent_id": "a1", "t": 10},
        {"type": "contact.ended", "contact_id": "c1", "t": 70},
        {"type": "contact.wrapped_up", "contact_id": "c1", "t": 80},
        {"type": "contact.queued", "contact_id": "c2", "queue_id": "support", "channel": "voice", "t": 100},
        {"type": "contact.answered", "contact_id": "c2", "agent_id": "a1", "t": 130},
        {"type": "contact.ended", "contact_id": "c2", "t": 230},
        {"type": "contact.wrapped_up", "contact_id": "c2", "t": 240},
        {"type": "survey.responded", "contact_id": "c2", "survey": "csat", "score": 5, "agent_id": "a1", "t": 250},
    ]
    raw = [orjson.dumps({"event_id": f"e{n}", "occurred_at": _at(e.pop("t")), **e}) for n, e in enumerate(events)]
    buckets = fold_messages(raw, Settings(timezone="UTC")).buckets
    start = "1772442000"  # 09:00
    sales = buckets[f"agentq|{agent_queue('a1', 'sales')}|{start}"]["c"]
    support = buckets[f"agentq|{agent_queue('a1', 'support')}|{start}"]["c"]
    # By hand: sales c1 waited 10 s, talked 60 s, ACW 10 s; support c2 waited 30 s, talked 100 s, ACW 10 s, CSAT 5.
    assert (sales["answered"], sales["wait_answered_ms"], sales["talk_ms"], sales["acw_ms"]) == (1, 10_000, 60_000, 10_000)
    assert (support["answered"], support["wait_answered_ms"], support["talk_ms"]) == (1, 30_000, 100_000)
    assert "csat_responses" not in sales and support["csat_responses"] == 1
    assert split_agent_queue(agent_queue("a@x", "q@y")) == ("a@x", "q@y")


_EVENT = st.tuples(st.sampled_from(["queue", "answer", "end", "wrap", "transfer", "survey", "qa"]),
                   st.integers(0, 5), st.sampled_from(QUEUES), st.sampled_from(AGENTS), st.integers(0, 1700))


@hsettings(max_examples=60, deadline=None)
@given(st.lists(_EVENT, min_size=1, max_size=40))
def test_per_queue_series_sum_to_the_agents_series(steps: list[tuple[str, int, str, str, int]]) -> None:
    events = []
    for n, (kind, contact, queue, agent, second) in enumerate(sorted(steps, key=lambda s: s[4])):
        base = {"event_id": f"e{n}", "occurred_at": _at(second), "contact_id": f"c{contact}"}
        body = {"queue": {"type": "contact.queued", "queue_id": queue, "channel": "voice", "customer_id": f"k{contact % 2}"},
                "answer": {"type": "contact.answered", "agent_id": agent},
                "end": {"type": "contact.ended"},
                "wrap": {"type": "contact.wrapped_up", "resolved": True},
                "transfer": {"type": "contact.transferred", "to_queue_id": queue},
                "survey": {"type": "survey.responded", "survey": "csat", "score": 1 + contact % 5},
                "qa": {"type": "qa.evaluated", "agent_id": agent, "score": 50}}[kind]
        events.append(orjson.dumps({**base, **body}))
    buckets = fold_messages(events, Settings(timezone="UTC")).buckets
    per_agent = _series(buckets, "agent")
    summed: dict[str, Counter] = {}
    for entity, counters in _series(buckets, "agentq").items():
        agent_id, queue_id = split_agent_queue(entity)
        assert queue_id in QUEUES or queue_id == ""
        summed.setdefault(agent_id, Counter()).update(counters)
    clean = {a: Counter({k: v for k, v in c.items() if v}) for a, c in per_agent.items()}
    assert {a: Counter({k: v for k, v in c.items() if v}) for a, c in summed.items()} == {a: c for a, c in clean.items() if c}
