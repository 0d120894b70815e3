"""Kafka plumbing shared by the CLI, the simulator, replay, the API and the tests.

Topic *declarations* (names, partitions, cleanup policies) live here so that every
process creates topics the same way; Faust agents and tables are declared in
``streams/topology.py``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from ccpulse.settings import Settings
from schemas.events import TOPIC_OF_TYPE, Event, entity_key

__all__ = [
    "KafkaUnreachable",
    "TopicSpec",
    "ensure_topics",
    "event_bytes",
    "start_producer",
    "topic_for_type",
    "topic_specs",
]

DAY_MS = 24 * 3600 * 1000

log = logging.getLogger("ccpulse.kafka")


class KafkaUnreachable(RuntimeError):
    """No Kafka broker answered at the configured bootstrap servers."""

    def __init__(self, servers: str) -> None:
        super().__init__(
            f"cannot reach Kafka at {servers}; start one with `ccpulse broker` "
            f"(or set CCPULSE_BOOTSTRAP_SERVERS to your cluster)"
        )
        self.servers = servers


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic ccpulse owns, with the settings it is created with.

    Event topics keep 30 days so history can be re-computed; the read model and the
    closed interval rows are compacted (latest row per key); alerts keep their latest
    record for 30 days; the dead-letter topic keeps 30 days for triage. The workers'
    table changelogs are created by Faust, compacted (see streams/app.py).
    """
    t = settings.topics
    retained = {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)}
    return [
        TopicSpec(t.contact_events, settings.partitions, retained),
        TopicSpec(t.agent_events, settings.partitions, retained),
        TopicSpec(t.survey_events, settings.partitions, retained),
        TopicSpec(t.customer_events, settings.partitions, retained),
        TopicSpec(t.interval_facts, settings.partitions, {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)}),
        TopicSpec(t.customer_facts, settings.partitions, {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)}),
        TopicSpec(t.read_model, settings.partitions, {"cleanup.policy": "compact"}),
        TopicSpec(t.interval_stats, settings.partitions, {"cleanup.policy": "compact"}),
        # The latest record of each alert, for 30 days.
        TopicSpec(t.alerts, 1, {"cleanup.policy": "compact,delete", "retention.ms": str(30 * DAY_MS)}),
        TopicSpec(t.deadletter, 1, retained),
        # Raw platform records the workers translate (docs/connectors.md), when configured.
        *([TopicSpec(raw, settings.partitions, retained)] if (raw := settings.connectors.amazon_connect.raw_topic) else []),
    ]


def topic_for_type(settings: Settings, event_type: str) -> str:
    """The topic that carries events of ``event_type``."""
    return getattr(settings.topics, TOPIC_OF_TYPE[event_type])


def event_bytes(event: Event) -> tuple[bytes, bytes]:
    """(key, value) of ``event`` as the contract puts it on the wire."""
    return entity_key(event).encode(), orjson.dumps(event.model_dump(mode="json", exclude_none=True))


async def ensure_topics(settings: Settings, servers: str | None = None, timeout: float = 20.0) -> None:
    """Create ccpulse's topics (idempotent). Raises :class:`KafkaUnreachable`."""
    servers = servers or settings.kafka_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
    except (KafkaConnectionError, KafkaError, OSError, asyncio.TimeoutError):
        await admin.close()
        raise KafkaUnreachable(servers) from None
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(spec.name, spec.partitions, settings.replication_factor, topic_configs=spec.config)
            for spec in topic_specs(settings)
            if spec.name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def start_producer(servers: str, **kwargs: object) -> AIOKafkaProducer:
    """A started producer with ccpulse's defaults, or :class:`KafkaUnreachable`.

    Defaults: ``acks=all`` and idempotence, so a retried send cannot duplicate or reorder a
    record. A broker without idempotent producers (the embedded Tansu broker answers
    InitProducerId with an error) gets a plain ``acks=all`` producer instead; the duplicates
    a retry could then write are removed downstream by ``event_id``.
    """
    options: dict[str, object] = {"linger_ms": 5, "acks": "all", "enable_idempotence": True, **kwargs}
    while True:
        producer = AIOKafkaProducer(bootstrap_servers=servers, **options)  # type: ignore[arg-type]
        sender_log = logging.getLogger("aiokafka.producer.sender")
        level = sender_log.level
        sender_log.setLevel(logging.CRITICAL)  # a refused InitProducerId is handled below, not an error
        try:
            await asyncio.wait_for(producer.start(), 20)
            return producer
        except (KafkaConnectionError, OSError, asyncio.TimeoutError):
            await producer.stop()
            raise KafkaUnreachable(servers) from None
        except KafkaError as exc:
            await producer.stop()
            if not options.get("enable_idempotence"):
                raise KafkaUnreachable(servers) from exc
            log.info("the broker at %s refused an idempotent producer (%s); using acks=all without it", servers, exc)
            options["enable_idempotence"] = False
        finally:
            sender_log.setLevel(level)
