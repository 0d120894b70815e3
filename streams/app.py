"""The Faust application object, configured from ccpulse's settings."""

from __future__ import annotations

import faust

from ccpulse.settings import Settings, get_settings
from streams import faust_internals

__all__ = ["app", "create_app"]

#: Consumer-group session and rebalance timeout, seconds. The embedded broker makes a
#: group join wait half the session timeout: Faust's 60 s default meant every worker
#: start took 30 s; 10 s (a common Kafka setting) makes it 5 s.
REBALANCE_TIMEOUT = 10.0

#: How long a fetch may wait at the broker for data; faust's fixed 1,500 ms made every hop of an event
#: late on the embedded broker (why and the figures: :func:`streams.faust_internals.set_fetch_max_wait`).
#: 100 ms costs at most 10 empty fetches a second when idle.
FETCH_MAX_WAIT_MS = 100
faust_internals.set_fetch_max_wait(FETCH_MAX_WAIT_MS)


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
