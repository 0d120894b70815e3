"""The Faust application object, configured from ccpulse's settings."""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from ccpulse.settings import Settings, get_settings

__all__ = ["app", "create_app"]

#: Consumer-group session and rebalance timeout, seconds. The embedded broker makes a
#: group join wait half the session timeout: Faust's 60 s default meant every worker
#: start took 30 s; 10 s (a common Kafka setting) makes it 5 s.
REBALANCE_TIMEOUT = 10.0

#: How long a fetch may wait at the broker for data. Faust fixes it at 1,500 ms, and the embedded
#: broker does not answer such a waiting fetch as soon as data arrives (measured: ~380 ms late;
#: 7–12 ms with 500 ms or less), which every hop of an event paid: p99 from event to read-model row
#: 2.0 s at 1,000 events/s, 0.7 s with 100 ms (docs/performance.md). 100 ms costs at most 10 empty
#: fetches a second when idle.
FETCH_MAX_WAIT_MS = 100

_create_worker_consumer = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer


def _worker_consumer(self: Any, transport: Any) -> Any:
    consumer = _create_worker_consumer(self, transport)
    consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts its fetcher
    return consumer


faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = _worker_consumer  # type: ignore[method-assign]


def create_app(settings: Settings) -> faust.App:
    """A Faust app that runs at-least-once with idempotent state (docs/architecture.md)."""
    (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    brokers = [f"kafka://{server.strip()}" for server in settings.kafka_servers.split(",") if server.strip()]
    return faust.App(
        settings.worker_id,
        broker=brokers,
        store=settings.faust_store,
        datadir=str(settings.data_dir / "faust"),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        # Changelog and repartition topics: as many replicas as ccpulse's own topics.
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        # Faust's web server is not needed: the API service serves every read.
        web_enabled=False,
        # Bigger fetches: Faust's per-message path, not the broker, is the bottleneck.
        broker_max_poll_records=2000,
        stream_buffer_maxsize=8192,
        producer_linger_ms=5,
        table_standby_replicas=0,
        recovery_consistency_check=settings.recovery_consistency_check,
        broker_rebalance_timeout=REBALANCE_TIMEOUT,
        broker_session_timeout=REBALANCE_TIMEOUT,
    )


app = create_app(get_settings())
