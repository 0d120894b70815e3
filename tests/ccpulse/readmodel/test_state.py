"""The pure read model (ccpulse/readmodel/state.py): recent rows (bounded to the newest), and the other kinds still applied."""

from __future__ import annotations

import orjson
from hypothesis import given, settings as hsettings, strategies as st

from ccpulse.readmodel.state import RECENT_KEEP, ReadModel
from tests.api.conftest import make_settings, recent


def test_recent_rows_are_kept_newest_first_up_to_the_bound() -> None:
    store = ReadModel(make_settings())
    assert store.recent_keep == RECENT_KEEP == 5000
    for i in range(RECENT_KEEP + 10):
        recent(store, f"c{i}", 1000.0 + i)
    assert len(store.recent) == RECENT_KEEP
    assert min(r["updated_at"] for r in store.recent.values()) == 1010.0
    recent(store, "old", 1.0)  # older than everything kept: dropped at once
    assert "old" not in store.recent and len(store.recent) == RECENT_KEEP
    recent(store, "c10", 99_999.0)  # an update of a kept row does not evict anything
    assert len(store.recent) == RECENT_KEEP and store.recent["c10"]["updated_at"] == 99_999.0


def test_updated_row_is_judged_by_its_new_time() -> None:
    store = ReadModel(make_settings())
    store.recent_keep = 2
    recent(store, "a", 1.0)
    recent(store, "b", 2.0)
    recent(store, "a", 3.0)  # a is now the newest
    recent(store, "c", 4.0)
    assert set(store.recent) == {"a", "c"}


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.none() | st.integers(0, 20)), max_size=60),
       st.integers(1, 5))
def test_recent_matches_a_reference_model(ops, keep) -> None:
    """Upserts and tombstones in any order: the kept rows equal a naive "drop the oldest" model."""
    store = ReadModel(make_settings())
    store.recent_keep = keep
    reference: dict[str, float] = {}
    for cid, t in ops:
        if t is None:
            store.apply(f"recent|{cid}".encode(), None)
            reference.pop(cid, None)
        else:
            recent(store, cid, float(t))
            reference[cid] = float(t)
            while len(reference) > keep:
                del reference[min(reference, key=lambda k: (reference[k], k))]
        assert {k: v["updated_at"] for k, v in store.recent.items()} == reference


def test_other_kinds_still_apply() -> None:
    store = ReadModel(make_settings())
    store.apply(b"worker|w1", orjson.dumps({"kind": "worker"}))  # unknown kinds are ignored
    store.apply(b"interval|queue|q|900", orjson.dumps({"kind": "interval", "c": {"offered": 1}, "max_wait_ms": None}))
    assert store.intervals[("queue", "q")][900]["c"] == {"offered": 1}
    assert store.rows_applied == 2 and store.recent == {}


def test_the_centre_series_is_cached_until_an_interval_row_changes() -> None:
    from tests.api.conftest import interval, make_settings

    store = ReadModel(make_settings())
    interval(store, "queue", "a", 900, None, offered=1)
    interval(store, "queue", "b", 900, None, offered=2)
    interval(store, "agent", "x", 900, None, answered=5)
    first = store.centre_series()
    assert first[900]["c"] == {"offered": 3} and store.centre_series() is first  # shared between requests
    interval(store, "queue", "b", 1800, None, offered=4)
    assert {s: b["c"] for s, b in store.centre_series().items()} == {900: {"offered": 3}, 1800: {"offered": 4}}
    put_tombstone = store.apply
    put_tombstone(b"interval|queue|a|900", None)
    assert store.centre_series()[900]["c"] == {"offered": 2}
