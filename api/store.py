"""The API's read model: the shared Kafka-fed read model plus what only the API reports.

The rows, their ``apply`` and the Kafka consumer live in ``ccpulse.readmodel`` (the worker's alert
evaluator reads the same topic the same way). What the API adds is for ``/metrics``: the worker
group's lag on the input topics and the floors that keep counters from going down.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from ccpulse.readmodel.consumer import ReadModelConsumer
from ccpulse.settings import Settings

__all__ = ["ReadModelStore"]

log = logging.getLogger("ccpulse.api")


class ReadModelStore(ReadModelConsumer):
    """The read model as the API serves it (``ccpulse.readmodel``), plus consumer lag and counter floors."""

    def __init__(self, settings: Settings, servers: str | None = None) -> None:
        super().__init__(settings, servers)
        self.freeze_heap = True  # the API process is mostly its read model (ReadModelConsumer.settle_heap)
        self.warm = True  # its queue figures are derived before a reader asks (ReadModel.warm_figures)
        self.counter_floors: dict[tuple[str, ...], tuple[float, float]] = {}  # /metrics: series -> (period, served)
        self.lag: dict[str, int] = {}  # input topic -> messages the worker group has not processed
        self._lag_task: asyncio.Task[None] | None = None

    def start(self, lag: bool = True) -> None:
        super().start()
        self._lag_task = asyncio.create_task(self._lag_loop(), name="consumer-lag") if lag else None

    async def _lag_loop(self, every: float = 10.0) -> None:
        """Every ``every`` seconds: the worker group's lag on the input topics (end − committed)."""
        topics = self.settings.topics
        inputs = {topics.contact_events, topics.agent_events, topics.survey_events}
        while True:
            # Read the group's committed offsets as a (never subscribing) member would: the embedded
            # broker does not answer the admin client's offset fetch.
            consumer = AIOKafkaConsumer(bootstrap_servers=self.servers, group_id=self.settings.worker_id,
                                        enable_auto_commit=False)
            try:
                await consumer.start()
                while True:
                    await consumer._client.force_metadata_update()  # Kafka tells a bare consumer no topics
                    partitions = [TopicPartition(t, p) for t in sorted(inputs) for p in sorted(consumer.partitions_for_topic(t) or [])]
                    ends = await consumer.end_offsets(partitions) if partitions else {}
                    lag: dict[str, int] = {}
                    for tp, end in ends.items():
                        done = await consumer.committed(tp)
                        lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - (done if done is not None and done >= 0 else 0))
                    self.lag = lag
                    await asyncio.sleep(every)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # lag is a nice-to-have: never let it disturb reads
                log.debug("consumer lag unavailable: %s", exc)
                self.lag = {}
                await asyncio.sleep(every)
            finally:
                await consumer.stop()

    async def stop(self) -> None:
        if self._lag_task is not None:
            self._lag_task.cancel()
        await super().stop()
