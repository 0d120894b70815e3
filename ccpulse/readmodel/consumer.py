"""A read model fed from Kafka: every partition of ``cc.read-model`` read from the beginning.

Its readers are the API and the worker's alert evaluator (the leader needs every queue, whatever
partitions it owns). No consumer group: each process reads every partition, so any API instance
answers any read. It also follows ``cc.alerts`` (the latest record per alert) and counts
``cc.deadletter`` records by reason, and tells whether it has caught up (``ready``) and, when not,
why. The rows themselves are applied by :class:`~ccpulse.readmodel.state.ReadModel`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import Counter

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from ccpulse.readmodel.state import ReadModel
from ccpulse.settings import Settings

__all__ = ["BROKER_CHECK_SECONDS", "ReadModelConsumer"]

#: How often the consumer checks that Kafka is reachable and kept its data (seconds).
BROKER_CHECK_SECONDS = 2.0

log = logging.getLogger("ccpulse.readmodel")

#: Rows applied between two ``gc.freeze`` calls once caught up (:meth:`ReadModelConsumer.settle_heap`).
FREEZE_EVERY_ROWS = 100_000


class ReadModelConsumer(ReadModel):
    """A :class:`ReadModel` kept current from Kafka, plus catch-up state for readiness."""

    def __init__(self, settings: Settings, servers: str | None = None) -> None:
        super().__init__(settings)
        self.servers = servers or settings.kafka_servers
        self.rejected: Counter[tuple[str, str]] = Counter()  # (topic, reason) -> count
        self.ready = False
        self.not_ready_reason = "starting: reading the read model"
        self.lost_data = False  # the broker came back without data this store had read
        self._last_ends: dict[TopicPartition, int] = {}
        self._read_to: dict[TopicPartition, int] = {}  # one past the last offset read, by partition
        self._task: asyncio.Task[None] | None = None
        self.freeze_heap = False  # settle_heap as rows arrive (the API turns it on)
        self.warm = False  # warm_figures once caught up and after each batch (the API turns it on)
        self._frozen_at = 0  # rows_applied at the last settle_heap

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="read-model-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    async def _run(self) -> None:
        """Consume forever; reconnect after broker trouble, reporting not-ready meanwhile."""
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                self.ready = False
                self.not_ready_reason = f"cannot read the read model from Kafka at {self.servers}: {exc}"
                log.warning("%s; retrying in 2 s", self.not_ready_reason)
                await asyncio.sleep(2)

    async def _consume(self) -> None:
        topics = self.settings.topics
        consumer = AIOKafkaConsumer(bootstrap_servers=self.servers, enable_auto_commit=False,
                                    auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024)
        await consumer.start()
        try:
            partitions = []
            for topic in (topics.read_model, topics.deadletter, topics.alerts):
                found = consumer.partitions_for_topic(topic)
                if not found:
                    await consumer._client.force_metadata_update()  # the topic may have just been created
                    found = consumer.partitions_for_topic(topic) or set()
                partitions += [TopicPartition(topic, p) for p in sorted(found)]
            if not partitions:
                raise KafkaError(f"topics {topics.read_model} / {topics.deadletter} do not exist yet")
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            targets = await consumer.end_offsets(partitions)
            if self.ready is False and self.rows_applied:
                # A reconnect: start over so no tombstone is missed.
                self.clear()
                self.rejected.clear()
            caught_up = False
            checked = time.monotonic()
            while True:
                if self.lost_data:  # nothing read from here on would be right
                    await asyncio.sleep(1)
                    continue
                if time.monotonic() - checked >= BROKER_CHECK_SECONDS:
                    checked = time.monotonic()
                    if not await self._broker_ok(consumer, partitions, caught_up):
                        continue
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, messages in batches.items():
                    self._read_to[tp] = messages[-1].offset + 1
                    for message in messages:
                        if tp.topic == topics.deadletter:
                            self._count_rejection(message.value)
                        elif tp.topic == topics.alerts:
                            self.apply_alert(message.key, message.value)
                        else:
                            self.apply(message.key, message.value)
                if not caught_up:
                    positions = {tp: await consumer.position(tp) for tp in partitions}
                    if all(positions[tp] >= targets[tp] for tp in partitions):
                        caught_up = True
                        if self.warm:
                            self.warm_figures()
                        if self.freeze_heap:
                            self.settle_heap(collect=True)
                        self.ready = True
                        self.not_ready_reason = ""
                        log.info("read model caught up: %d rows", self.rows_applied)
                else:
                    if self.warm and batches:
                        self.warm_figures()
                    if self.freeze_heap and self.rows_applied - self._frozen_at >= FREEZE_EVERY_ROWS:
                        self.settle_heap()
        finally:
            await consumer.stop()

    def settle_heap(self, collect: bool = False) -> None:
        """Take the rows read so far out of the cyclic garbage collector's full passes (``gc.freeze``).

        Why: a full pass over a read model of 590,000 rows took 340-750 ms here, and CPython starts
        one whenever the long-lived objects grew by a quarter, in whatever code allocates next: in an
        API, on the event loop, in the middle of a request. Rows are plain dicts and lists that never
        form cycles, and frozen objects are still freed by reference counting when a row is replaced;
        so freezing costs nothing but the rare cycle frozen before its collection. ``collect``: one
        full pass first (before the API reports ready), so that no garbage is frozen then. Only a
        process that is mostly its read model turns it on (``freeze_heap``: the API).
        """
        if collect:
            gc.collect()
        gc.freeze()
        self._frozen_at = self.rows_applied

    async def _broker_ok(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition], caught_up: bool) -> bool:
        """Is Kafka still there, with everything this store has read? Not-ready (with the reason)
        while it is unreachable; ready again once it answers, if it kept its data.

        A broker that comes back with offsets *behind* what this store has read lost data (the
        embedded broker keeps everything in memory): the rows served would no longer match Kafka
        and nothing can repair them from here, so the store stays not-ready and says why.
        """
        try:
            ends = await asyncio.wait_for(consumer.end_offsets(partitions), BROKER_CHECK_SECONDS * 2)
        except (KafkaError, OSError, asyncio.TimeoutError) as exc:
            if self.ready or not self.not_ready_reason.startswith("lost contact"):
                log.warning("lost contact with Kafka at %s: %s", self.servers, exc or type(exc).__name__)
            self.ready = False
            self.not_ready_reason = f"lost contact with Kafka at {self.servers}; serving the last rows read"
            await asyncio.sleep(1)
            return False
        # End offsets never go down on a broker that keeps its log, and a partition this store has
        # read records from is never empty again. (Comparing them with this consumer's position would
        # not do: the embedded broker counts its end offset in batches. The second test does not
        # depend on when the last check ran: rows read after it are covered too.)
        behind = [tp for tp in partitions
                  if ends[tp] < self._last_ends.get(tp, 0) or (ends[tp] == 0 and self._read_to.get(tp, 0) > 0)]
        self._last_ends.update(ends)
        if behind:
            self.ready = False
            self.not_ready_reason = (
                f"Kafka at {self.servers} lost data: {behind[0].topic}[{behind[0].partition}] now ends before where it "
                "ended (a memory-only broker restarted?). The rows served are no longer Kafka's: restart the workers "
                "and this API once the events are replayed.")
            if self.lost_data is False:
                log.error(self.not_ready_reason)
            self.lost_data = True
            await asyncio.sleep(1)
            return False
        if caught_up and not self.ready:
            log.info("Kafka at %s is back", self.servers)
            self.ready, self.not_ready_reason = True, ""
        return True

    def _count_rejection(self, value: bytes | None) -> None:
        try:
            record = orjson.loads(value or b"{}")
            self.rejected[(record.get("topic", "?"), record.get("reason", "?"))] += 1
        except orjson.JSONDecodeError:
            self.rejected[("?", "?")] += 1
