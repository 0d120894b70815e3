"""The API's read model leaves the cyclic garbage collector's full passes (ReadModelConsumer.settle_heap)."""

from __future__ import annotations

import gc

from api.store import ReadModelStore
from tests.api.conftest import make_settings, put


def test_settle_heap_takes_the_rows_out_of_the_cyclic_collectors_passes() -> None:
    store = ReadModelStore(make_settings())
    assert store.freeze_heap  # the API turns it on; the worker's alert evaluator does not
    assert store.warm  # so are its queue figures derived before a reader asks (ReadModel.warm_figures)
    for n in range(2000):
        put(store, f"agent|a{n}", {"kind": "agent", "agent_id": f"a{n}", "state": "available", "since": 0.0,
                                   "reason": None, "queue_ids": ["sales"], "team": None, "site": None, "changed_at": 0.0})
    try:
        before = gc.get_freeze_count()
        store.settle_heap(collect=True)
        # Every row (a dict and its queue list) now lies outside the collector's passes...
        assert gc.get_freeze_count() - before >= 2 * 2000
        row = store.agents["a7"]
        assert not any(row is obj for obj in gc.get_objects())
        # ... and a row applied afterwards is tracked again until the next settle.
        put(store, "agent|a7", {**row, "state": "away"})
        assert any(store.agents["a7"] is obj for obj in gc.get_objects())
        assert store._frozen_at == store.rows_applied - 1
    finally:
        gc.unfreeze()
