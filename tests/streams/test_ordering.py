"""The input-order guard (streams/ordering.py): which messages a batch admits, and when it seeks back.

The guard is logic over Faust's consumer; here it runs against a stand-in that records the seeks
(the worker's behaviour on a real broker is covered by tests/integration/test_reliability.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport import consumer as faust_consumer

from streams import faust_internals, ordering
from streams.ordering import InputOrder

TP = faust.types.TP("cc.contact-events", 0)
OTHER = faust.types.TP("cc.contact-events", 1)


@dataclass
class Consumer:
    committed: dict[Any, int]
    seeks: list[tuple[Any, int]] = field(default_factory=list)
    ends: dict[Any, int] = field(default_factory=dict)  # highwater by partition, as the last fetch said

    def assignment(self) -> set[Any]:
        return set(self.ends)

    def highwater(self, tp: Any) -> int:
        return self.ends[tp]

    @property
    def _committed_offset(self) -> dict[Any, int]:
        return self.committed

    async def seek_wait(self, partitions: dict[Any, int]) -> None:
        self.seeks += list(partitions.items())


def guard(committed: dict[Any, int], ends: dict[Any, int] | None = None) -> tuple[InputOrder, Consumer]:
    consumer = Consumer(committed, ends=ends or {})
    app = SimpleNamespace(consumer=consumer, conf=SimpleNamespace(id="test"), rebalancing=False, in_recovery=False)
    return InputOrder(app, topics={TP.topic}), consumer  # type: ignore[arg-type]


def events(tp: Any, *offsets: int) -> list[Any]:
    return [SimpleNamespace(message=SimpleNamespace(tp=tp, offset=o, acked=False)) for o in offsets]


def admit(order: InputOrder, batch: list[Any]) -> list[int]:
    return [ev.message.offset for ev in asyncio.run(order.admit(batch))]


def test_in_order_messages_are_admitted_from_the_committed_offset() -> None:
    order, consumer = guard({TP: 10})
    assert admit(order, events(TP, 10, 11, 12)) == [10, 11, 12]
    assert consumer.seeks == [] and order.due[TP] == 13


def test_an_early_message_is_held_unacknowledged_and_its_partition_read_again() -> None:
    order, consumer = guard({TP: 10, OTHER: 5})
    batch = events(TP, 14, 15) + events(OTHER, 5)
    assert admit(order, batch) == [5]  # the other partition goes on
    assert consumer.seeks == [(TP, 10)]
    assert [ev.message.acked for ev in batch[:2]] == [True, True]  # Faust's ack() is a no-op for them
    # The rest of the fetch that was in flight when the guard sought: held, no second seek.
    assert admit(order, events(TP, 16, 17)) == []
    assert consumer.seeks == [(TP, 10)]
    # The re-read arrives (and the early messages again): processed in order.
    assert admit(order, events(TP, 10, 11, 12, 13, 14, 15, 16, 17)) == [10, 11, 12, 13, 14, 15, 16, 17]
    assert TP not in order.reread


def test_a_partition_still_held_after_its_seek_is_sought_again(monkeypatch: pytest.MonkeyPatch) -> None:
    order, consumer = guard({TP: 10})
    assert admit(order, events(TP, 14)) == []
    assert admit(order, events(TP, 15)) == []
    assert consumer.seeks == [(TP, 10)]
    order.sought[TP] -= order.reseek_after + 1  # as if that seek were older than reseek_after
    assert admit(order, events(TP, 16)) == []
    assert consumer.seeks == [(TP, 10), (TP, 10)]


def test_a_range_the_broker_does_not_hold_is_a_real_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    order, consumer = guard({TP: 10})
    gaps: list[tuple[int, int]] = []

    async def first_offset_from(tp: Any, offset: int) -> int:
        return 14  # e.g. a transactional producer's commit markers at 10..13

    async def add_gap(consumer: Any, tp: Any, start: int, end: int) -> None:
        gaps.append((start, end))

    monkeypatch.setattr(order, "_first_offset_from", first_offset_from)
    monkeypatch.setattr(faust_internals, "record_gap", add_gap)
    assert admit(order, events(TP, 14)) == []
    assert admit(order, events(TP, 14, 15)) == [14, 15]  # the re-read starts at 14 again
    assert gaps == [(10, 14)] and order.due[TP] == 16


def test_the_same_skip_with_messages_on_the_broker_reads_again() -> None:
    order, consumer = guard({TP: 10})

    async def first_offset_from(tp: Any, offset: int) -> int:
        return 10

    order._first_offset_from = first_offset_from  # type: ignore[method-assign]
    assert admit(order, events(TP, 14)) == []
    assert admit(order, events(TP, 14)) == []
    assert consumer.seeks == [(TP, 10), (TP, 10)]


def test_redeliveries_below_the_offset_due_are_admitted_for_processing_to_recognise() -> None:
    order, _ = guard({TP: 10})
    assert admit(order, events(TP, 10, 11)) == [10, 11]
    assert admit(order, events(TP, 10, 11, 12)) == [10, 11, 12]
    assert order.due[TP] == 13


def test_faust_consumers_drop_nothing_as_already_read_once_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faust's fetch loop drops a message at or below its last read offset; after a seek back that
    mark could be past the offset sought to (issue #9). Installed, the mark never holds an offset."""
    for cls, name in ((faust_consumer.Consumer, "__init__"), (faust_consumer.Consumer, "_add_gap"),
                      (faust_consumer.ThreadDelegateConsumer, "highwaters"), (ordering, "_servers")):
        monkeypatch.setattr(cls, name, getattr(cls, name))  # put back after the test
    ordering.install("127.0.0.1:9")
    app = faust.App("ordering-test", broker="kafka://127.0.0.1:9")
    consumer = app.consumer
    consumer._read_offset[TP] = 40
    consumer._read_offset.update({OTHER: 7})
    assert consumer._read_offset[TP] is None and consumer._read_offset[OTHER] is None


def quiet_for(order: InputOrder, seconds: float) -> None:
    """As if no message had come for ``seconds``."""
    order.active_at = (order.active_at or time.monotonic()) - seconds


def test_a_partition_whose_last_messages_never_came_is_read_again() -> None:
    """Faust dropped offsets 10..13 unseen and nothing later arrives: a quiet topic with the
    partition's end beyond the offset due is sought back (issue #9: an agent's last changes lost)."""
    order, consumer = guard({TP: 8, OTHER: 5}, ends={TP: 14, OTHER: 6})
    assert admit(order, events(TP, 8, 9) + events(OTHER, 5)) == [8, 9, 5]
    assert asyncio.run(order.check_stalled()) == []  # messages just came
    quiet_for(order, 6)
    assert asyncio.run(order.check_stalled()) == [TP]
    assert consumer.seeks == [(TP, 10)]
    assert asyncio.run(order.check_stalled()) == []  # not again before another quiet period
    assert admit(order, events(TP, 10, 11, 12, 13)) == [10, 11, 12, 13]
    quiet_for(order, 6)
    assert asyncio.run(order.check_stalled()) == [] and order.due[TP] == 14


def test_a_partition_never_delivered_is_read_from_its_committed_offset() -> None:
    order, consumer = guard({TP: 7}, ends={TP: 9})
    assert asyncio.run(order.check_stalled()) == []  # the quiet period starts at the first check
    quiet_for(order, 6)
    assert asyncio.run(order.check_stalled()) == [TP] and consumer.seeks == [(TP, 7)]


def test_no_reread_while_rebalancing_or_for_unguarded_topics() -> None:
    order, consumer = guard({TP: 7}, ends={TP: 9})
    quiet_for(order, 6)
    order.app.rebalancing = True
    assert asyncio.run(order.check_stalled()) == []
    order.app.rebalancing = False
    order.topics = {"cc.other"}
    assert asyncio.run(order.check_stalled()) == [] and consumer.seeks == []


def test_a_busy_worker_is_not_judged() -> None:
    """Under a backlog a partition may wait its turn: only an idle worker's partitions are re-read."""
    order, consumer = guard({TP: 8, OTHER: 5}, ends={TP: 5000, OTHER: 9000})
    quiet_for(order, 60)
    assert admit(order, events(OTHER, 5, 6)) == [5, 6]  # another partition is being processed
    assert asyncio.run(order.check_stalled()) == [] and consumer.seeks == []
