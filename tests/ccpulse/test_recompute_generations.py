"""The read model with recomputed generations (ccpulse/readmodel/state.py): buffered until committed, then
served atomically for the buckets they cover; live rows everywhere else; order-independent."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings as hsettings, strategies as st

from ccpulse.readmodel.state import ReadModel
from ccpulse.recompute import Scope, generation_messages, withdrawals
from ccpulse.settings import Settings

Message = tuple[bytes, bytes | None]


def live(key: str, offered: int) -> Message:
    dimension, entity, start = key.split("|")
    return (f"interval|{key}".encode(), orjson.dumps({"kind": "interval", "dimension": dimension, "id": entity,
                                                     "start": int(start), "c": {"offered": offered}, "max_wait_ms": None}))


def generation(gen: str, scope: Scope, offered: dict[str, int]) -> list[Message]:
    buckets = {key: {"c": {"offered": n} if n else {}, "tops": []} for key, n in offered.items()}
    return list(generation_messages(gen, scope, buckets, {"settings_hash": "test"}))


def store_of(*messages: Message) -> ReadModel:
    store = ReadModel(Settings())
    for key, value in messages:
        store.apply(key, value)
    return store


def served(store: ReadModel) -> dict[str, Any]:
    return {f"{d}|{e}|{s}": row["c"].get("offered", 0) for (d, e), series in store.intervals.items() for s, row in series.items()}


WORKER = [live("queue|q|0", 1), live("queue|q|900", 2), live("queue|q|1800", 3), live("agent|a|0", 4), live("queue|r|0", 5)]


def test_a_generation_is_served_only_once_its_marker_is_in() -> None:
    rows = generation("0001-a", Scope(0, 1800), {"queue|q|0": 10, "queue|q|900": 20, "agent|a|0": 40, "queue|r|0": 50})
    store = store_of(*WORKER, *rows[:-1])
    assert served(store) == {"queue|q|0": 1, "queue|q|900": 2, "queue|q|1800": 3, "agent|a|0": 4, "queue|r|0": 5}
    store.apply(*rows[-1])
    # covered (start in [0, 1800), every dimension): recomputed; 1800 is open: still the worker's
    assert served(store) == {"queue|q|0": 10, "queue|q|900": 20, "queue|q|1800": 3, "agent|a|0": 40, "queue|r|0": 50}
    assert list(store.generations) == ["0001-a"]


def test_a_marker_read_before_its_rows_waits_for_all_of_them() -> None:
    rows = generation("0001-a", Scope(0, 1800), {"queue|q|0": 10, "queue|q|900": 20})
    store = store_of(*WORKER, rows[-1], rows[0])
    assert served(store)["queue|q|0"] == 1 and not store.generations
    store.apply(*rows[1])
    assert served(store)["queue|q|0"] == 10 and served(store)["queue|q|900"] == 20


def test_live_rows_change_only_what_no_generation_covers() -> None:
    """A worker restart republishing its old rows does not undo a recompute; open intervals stay live."""
    store = store_of(*WORKER, *generation("0001-a", Scope(0, 1800), {"queue|q|0": 10}))
    assert "queue|q|900" not in served(store)  # covered, and the recompute found nothing there
    for key, value in [live("queue|q|0", 7), live("queue|q|900", 8), live("queue|q|1800", 9), live("queue|s|2700", 1)]:
        store.apply(key, value)
    store.apply(b"interval|queue|q|0", None)  # the worker's retention tombstone
    assert served(store) == {"queue|q|0": 10, "queue|q|1800": 9, "queue|s|2700": 1}
    store.apply(b"generation|0001-a", None)  # withdrawn: the worker's latest rows are served again
    assert served(store) == {"queue|q|900": 8, "queue|q|1800": 9, "agent|a|0": 4, "queue|r|0": 5, "queue|s|2700": 1}


def test_a_queue_generation_covers_only_its_queues_rows() -> None:
    store = store_of(*WORKER, *generation("0001-a", Scope(0, 1800, ("q",)), {"queue|q|0": 10, "agent|a|0": 99}))
    assert served(store) == {"queue|q|0": 10, "queue|q|1800": 3, "agent|a|0": 4, "queue|r|0": 5}


def test_the_newest_generation_wins_and_withdrawing_it_restores_the_one_before() -> None:
    older = generation("0001-a", Scope(0, 2700), {"queue|q|0": 10, "queue|q|900": 20, "queue|q|1800": 30})
    newer = generation("0002-b", Scope(0, 900), {"queue|q|0": 11})
    store = store_of(*WORKER, *older, *newer)
    assert {k: v for k, v in served(store).items() if k.startswith("queue|q")} == {"queue|q|0": 11, "queue|q|900": 20, "queue|q|1800": 30}
    store.apply(b"generation|0002-b", None)
    assert served(store)["queue|q|0"] == 10
    store.apply(b"generation|0001-a", None)
    assert served(store)["queue|q|0"] == 1 and served(store)["queue|q|900"] == 2


def test_withdrawing_superseded_generations_leaves_the_answer_unchanged() -> None:
    older = generation("0001-a", Scope(0, 900), {"queue|q|0": 10, "agent|a|0": 40})
    newer_scope = Scope(0, 1800)
    newer = generation("0002-b", newer_scope, {"queue|q|0": 11, "queue|q|900": 21})
    store = store_of(*WORKER, *older, *newer)
    before = served(store)
    for key in withdrawals(store, "0002-b", newer_scope):
        store.apply(key, None)
    assert served(store) == before and list(store.generations) == ["0002-b"] and set(store.generation_rows) == {"0002-b"}


@hsettings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), min_size=0, max_size=40), st.booleans())
def test_the_answer_does_not_depend_on_how_partitions_interleave(picks: list[bool], withdraw: bool) -> None:
    """Generations travel on one partition, in order; worker rows on the others. However an API
    instance interleaves them (at start, or live), it ends up serving the same rows."""
    older = generation("0001-a", Scope(0, 900), {"queue|q|0": 10})
    newer = generation("0002-b", Scope(0, 1800), {"queue|q|0": 11, "agent|a|0": 0})
    ordered: list[Message] = [*older, *newer]
    if withdraw:
        ordered += [(key, None) for key in withdrawals(store_of(*older, *newer), "0002-b", Scope(0, 1800))]
    others = [*WORKER, live("queue|q|900", 12), live("queue|q|0", 13), (b"interval|queue|r|0", None)]
    mixed, a, b = [], list(ordered), list(others)
    for pick in picks:
        source = a if pick else b
        if source:
            mixed.append(source.pop(0))
    mixed += a + b
    assert served(store_of(*mixed)) == served(store_of(*ordered, *others))
