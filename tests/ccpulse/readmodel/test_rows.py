"""The interval row is built once (ccpulse/readmodel/rows.py): what the workers publish for a live
bucket and what ``ccpulse recompute`` publishes for a recomputed one are the same row, and the pure
read model (no Kafka) serves it."""

from __future__ import annotations

from types import SimpleNamespace

import orjson

from ccpulse.readmodel.keys import generation_row_key, interval_row_key
from ccpulse.readmodel.rows import interval_row
from ccpulse.readmodel.state import ReadModel
from ccpulse.recompute import Scope, generation_messages
from ccpulse.settings import Settings
from streams.processing import IntervalProcessor
from streams.readmodel import ReadModelPublisher

KEY = "queue|billing|1700000100"
BUCKET = {"c": {"offered": 3, "answered": 2}, "tops": [[42000, "c1"], [9000, "c2"]]}


def test_the_worker_and_recompute_publish_the_same_interval_row() -> None:
    publisher = ReadModelPublisher(topic=None)  # type: ignore[arg-type]  # nothing is sent
    IntervalProcessor.publish(SimpleNamespace(readmodel=publisher), KEY, BUCKET)  # type: ignore[arg-type]
    live = publisher.pending[interval_row_key(KEY)]
    assert live is not None
    assert orjson.loads(live) == {"kind": "interval", "dimension": "queue", "id": "billing", "start": 1700000100,
                                  "c": BUCKET["c"], "max_wait_ms": 42000}
    assert live == orjson.dumps(interval_row("queue", "billing", 1700000100, BUCKET))

    scope = Scope(start=1700000100 - 100, end=1700000100 + 900, queues=None)
    recomputed = dict(generation_messages("g1", scope, {KEY: BUCKET}, {}))
    assert recomputed[generation_row_key("g1", KEY).encode()] == live


def test_the_pure_read_model_serves_it() -> None:
    model = ReadModel(Settings())
    model.apply(interval_row_key(KEY).encode(), orjson.dumps(interval_row("queue", "billing", 1700000100, BUCKET)))
    assert model.intervals == {("queue", "billing"): {1700000100: {"c": BUCKET["c"], "max_wait_ms": 42000}}}
    assert model.totals.total(("queue", "billing")) == BUCKET["c"]
    model.apply(interval_row_key(KEY).encode(), None)
    assert model.intervals[("queue", "billing")] == {} and model.totals.total(("queue", "billing")) == {}
