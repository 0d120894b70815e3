"""The figures the read model derives once per change (``ReadModel.queue_figures``,
``day_longest_wait``, ``queue_ids``, ``queue_live``, ``centre_live``) equal a from-scratch
derivation, whatever rows arrive between two reads and whenever "now" is.

The reference is a second read model fed the same messages and read once, so nothing of it was
cached: a stale entry (a queue's rows changed, its channel changed, a recomputed generation
replaced the served rows, the bucket of now moved on, a contact or an agent changed) would show.
A queue-limited token's view is checked the same way, and against the whole store's queues.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
from hypothesis import given, settings as hsettings, strategies as st

from api.scope import ScopedStore
from api.store import ReadModelStore
from ccpulse.readmodel.keys import generation_marker_key, generation_row_key
from ccpulse.readmodel.views import queue_views, summary_view
from tests.api.conftest import make_settings

DAY0 = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp())
QUEUES = ["q1", "q2", "q3"]
MINE = frozenset({"q1", "q3"})
NOWS = [DAY0 + 9 * 3600 + 600, DAY0 + 9 * 3600 + 1500, DAY0 + 86400 + 600, DAY0 + 86400 + 36 * 900 + 60]

counters = st.dictionaries(st.sampled_from(["offered", "offered_chat", "offered_voice", "answered", "handled",
                                            "talk_ms", "cases_open", "answered_within_sl"]),
                           st.integers(0, 40), max_size=5)
interval = st.tuples(st.just("interval"), st.sampled_from(QUEUES), st.sampled_from([0, 1]),
                     st.sampled_from([35, 36, 37, 0, 95]),
                     st.none() | st.tuples(counters, st.none() | st.integers(0, 600_000)))
contact = st.tuples(st.just("contact"), st.sampled_from(["c1", "c2", "c3", "c4"]),
                    st.none() | st.tuples(st.sampled_from(QUEUES), st.sampled_from(["waiting", "in_progress", "acw"]),
                                          st.sampled_from(["voice", "chat", "email"]), st.integers(0, 7200)))
agent = st.tuples(st.just("agent"), st.sampled_from(["a1", "a2", "a3"]),
                  st.none() | st.tuples(st.sampled_from(["available", "on_contact", "after_contact_work", "away", "offline"]),
                                        st.lists(st.sampled_from([*QUEUES, "q9"]), max_size=3, unique=True)))
generation = st.tuples(st.just("generation"), st.sampled_from(QUEUES), st.integers(0, 1), counters)
step = st.tuples(st.one_of(interval, interval, contact, agent, generation), st.sampled_from(NOWS))  # a change, then a read


def message(op: tuple[Any, ...], n: int) -> list[tuple[bytes, bytes | None]]:
    """The read-model messages of one change."""
    kind = op[0]
    if kind == "interval":
        _, queue, day, slot, value = op
        start = DAY0 + day * 86400 + slot * 900
        row = None if value is None else {"c": value[0], "max_wait_ms": value[1]}
        return [(f"interval|queue|{queue}|{start}".encode(), None if row is None else orjson.dumps(row))]
    if kind == "contact":
        _, cid, value = op
        row = None if value is None else {"kind": "contact", "contact_id": cid, "queue_id": value[0], "status": value[1],
                                          "channel": value[2], "queued_at": DAY0 + value[3], "priority": 0}
        return [(f"contact|{cid}".encode(), None if row is None else orjson.dumps(row))]
    if kind == "agent":
        _, aid, value = op
        row = None if value is None else {"kind": "agent", "agent_id": aid, "state": value[0], "since": DAY0,
                                          "reason": None, "queue_ids": value[1], "team": "t", "site": "s"}
        return [(f"agent|{aid}".encode(), None if row is None else orjson.dumps(row))]
    if kind == "generation":  # a recomputed generation replacing one queue's rows of one day (the rows replaced whole)
        _, queue, day, c = op
        gen, start = f"g{n:04d}", DAY0 + day * 86400
        marker = {"from": start, "to": start + 86400, "dimensions": ["queue"], "queues": [queue], "rows": 1}
        return [(generation_row_key(gen, f"queue|{queue}|{start + 36 * 900}").encode(), orjson.dumps({"c": c, "max_wait_ms": 1000})),
                (generation_marker_key(gen).encode(), orjson.dumps(marker))]
    raise AssertionError(op)


def fresh(messages: list[tuple[bytes, bytes | None]]) -> ReadModelStore:
    store = ReadModelStore(make_settings())
    for key, value in messages:
        store.apply(key, value)
    return store


def answers(store: Any, now: float) -> Any:
    return orjson.loads(orjson.dumps({"queues": queue_views(store, now), "summary": summary_view(store, now),
                                      "ids": store.queue_ids()}))


@hsettings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=30))
def test_derived_figures_equal_a_from_scratch_derivation(steps: list[tuple[tuple[Any, ...], float]]) -> None:
    live = ReadModelStore(make_settings())
    sent: list[tuple[bytes, bytes | None]] = []
    for n, (op, now) in enumerate(steps):
        for key, value in message(op, n):
            live.apply(key, value)
            sent.append((key, value))
        reference = fresh(sent)
        assert answers(live, now) == answers(reference, now)
        mine = answers(ScopedStore(live, MINE), now)
        assert mine == answers(ScopedStore(reference, MINE), now)
        # A limited token's queues read as the whole store's, and its summary counts its queues only.
        whole = {q["queue_id"]: q for q in answers(live, now)["queues"]}
        assert all(q == whole[q["queue_id"]] for q in mine["queues"])
        assert {q["queue_id"] for q in mine["queues"]} <= MINE
        offered = sum(q["today"]["offered"] for q in mine["queues"])
        assert mine["summary"]["today"]["offered"] == offered


@hsettings(max_examples=100, deadline=None)
@given(st.lists(step, max_size=30), st.lists(st.booleans(), min_size=30, max_size=30))
def test_warmed_figures_are_the_ones_a_read_derives(steps: list[tuple[tuple[Any, ...], float]],
                                                     warm: list[bool]) -> None:
    """``warm_figures`` (what the API's consumer runs after each batch) derives exactly the stale
    queues: afterwards nothing is stale, a read derives nothing more, and it reads what a store
    that was never warmed reads."""
    import ccpulse.readmodel.state as state

    live = ReadModelStore(make_settings())
    sent: list[tuple[bytes, bytes | None]] = []
    for n, ((op, now), warm_now) in enumerate(zip(steps, warm)):
        for key, value in message(op, n):
            live.apply(key, value)
            sent.append((key, value))
        if not warm_now:
            continue
        live.warm_figures(now)
        assert live.warm_figures(now) == 0
        derived = state.queue_figures
        calls: list[str] = []
        state.queue_figures = lambda store, queue_id, *rest: calls.append(queue_id) or derived(store, queue_id, *rest)  # type: ignore[assignment]
        try:
            got = answers(live, now)
        finally:
            state.queue_figures = derived  # type: ignore[assignment]
        assert calls == []
        assert got == answers(fresh(sent), now)


def test_warm_figures_derives_a_changed_queue_only() -> None:
    store = ReadModelStore(make_settings())
    now = DAY0 + 9 * 3600 + 600
    for queue in QUEUES:
        store.apply(f"interval|queue|{queue}|{DAY0 + 36 * 900}".encode(), orjson.dumps({"c": {"offered": 2}, "max_wait_ms": 1}))
    assert store.warm_figures(now) == 3
    store.apply(f"interval|queue|q2|{DAY0 + 36 * 900}".encode(), orjson.dumps({"c": {"offered": 5}, "max_wait_ms": 1}))
    assert store.warm_figures(now) == 1
    assert store.queue_figures("q2", now).current_interval["offered"] == 5
    assert store.warm_figures(now + 900) == 3  # a new 15-minute bucket: every queue's current interval moved on
