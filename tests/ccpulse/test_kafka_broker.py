"""A real Apache Kafka (KRaft) started by :mod:`ccpulse.kafka_broker`, spoken to with aiokafka.

These start JVMs: Java 17+ and Maven are required (the first run resolves the jars
from Maven Central into ``$CCPULSE_KAFKA_CACHE``). Without them the tests fail with
the install hint; they never skip. The three-node cluster test is at the bottom.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from ccpulse.broker import BrokerUnavailable
from ccpulse.kafka_broker import KAFKA_VERSION, KafkaBroker, KafkaCluster, _java, cache_dir, kafka_classpath

Node = TypeVar("Node", KafkaBroker, KafkaCluster)


def started(node: Node) -> Node:
    try:
        return node.start()
    except BrokerUnavailable as exc:
        pytest.fail(f"a real Kafka broker is required for these tests: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def kafka() -> Iterator[KafkaBroker]:
    broker = started(KafkaBroker())
    yield broker
    broker.stop()


# ---- aiokafka helpers -----------------------------------------------------------------------------
async def create_topic(bootstrap: str, topic: str, partitions: int, replication: int, **configs: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, replication, topic_configs=configs)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=20000)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, group: str, count: int, timeout: float = 30.0) -> list[tuple[bytes, bytes]]:
    """Up to ``count`` records read by consumer group ``group``, offsets committed."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    out: list[tuple[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                out.extend((m.key, m.value) for m in messages)
        await consumer.commit()
    finally:
        await consumer.stop()
    return out


async def committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
    finally:
        await admin.close()


def records(n: int, tag: str = "") -> list[tuple[bytes, bytes]]:
    return [(f"k{i}".encode(), f"{tag}v{i}".encode()) for i in range(n)]


# ---- setup ----------------------------------------------------------------------------------------
def test_missing_java_or_maven_is_an_error_naming_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CCPULSE_KAFKA_CACHE", str(tmp_path / "cache"))
    _java.cache_clear()
    try:
        with pytest.raises(BrokerUnavailable, match="apt-get install openjdk-17-jre-headless maven"):
            kafka_classpath()
        with pytest.raises(BrokerUnavailable, match="`java`"):
            KafkaBroker(data_dir=tmp_path / "data").start()
    finally:
        _java.cache_clear()


def test_the_resolved_jars_are_the_pinned_version(kafka: KafkaBroker) -> None:
    root = cache_dir() / f"kafka-{KAFKA_VERSION}"
    assert (root / "libs" / f"kafka_2.13-{KAFKA_VERSION}.jar").exists()
    assert f"<kafka.version>{KAFKA_VERSION}</kafka.version>" in (root / "pom.xml").read_text()


# ---- one broker -----------------------------------------------------------------------------------
def test_produce_and_consume_with_a_consumer_group(kafka: KafkaBroker) -> None:
    bootstrap = kafka.bootstrap_servers

    async def scenario() -> tuple[list[Any], list[Any], dict[TopicPartition, int], list[Any]]:
        await create_topic(bootstrap, "roundtrip", 3, 1, **{"cleanup.policy": "compact"})
        await produce(bootstrap, "roundtrip", records(20))
        first = await consume(bootstrap, "roundtrip", "readers", 20)
        again = await consume(bootstrap, "roundtrip", "readers", 1, timeout=2)  # resumes after the commit
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "roundtrip")])
        finally:
            await admin.close()
        return first, again, await committed(bootstrap, "readers"), described

    first, again, offsets, described = asyncio.run(scenario())
    assert sorted(first) == sorted(records(20)), kafka.log_tail()
    assert again == []
    assert sum(offsets.values()) == 20 and len(offsets) == 3
    entries = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
    assert entries["cleanup.policy"] == "compact"


def test_log_tail_shows_the_broker_log(kafka: KafkaBroker) -> None:
    tail = kafka.log_tail()
    assert tail and "Kafka Server started" in kafka.log_tail(10_000)
    assert len(kafka.log_tail(5).splitlines()) == 5


def test_a_restart_on_the_same_data_dir_keeps_topics_and_offsets(tmp_path: Path) -> None:
    data = tmp_path / "kafka"
    first = started(KafkaBroker(data_dir=data, heap="256m"))
    try:
        asyncio.run(produce(first.bootstrap_servers, "durable", records(10, "d")))
        assert len(asyncio.run(consume(first.bootstrap_servers, "durable", "g", 5, timeout=10))) >= 5
    finally:
        first.stop()
    assert not first.alive()

    second = started(KafkaBroker(port=first.port, data_dir=data, heap="256m"))  # a new process, same port
    try:
        assert second.bootstrap_servers == first.bootstrap_servers
        again = asyncio.run(consume(second.bootstrap_servers, "durable", "fresh-group", 10))
        assert sorted(again) == sorted(records(10, "d")), second.log_tail()
        assert sum(asyncio.run(committed(second.bootstrap_servers, "g")).values()) >= 5
    finally:
        second.stop()


# ---- three-node cluster (three JVMs, ~25 s) -------------------------------------------------------
def test_cluster_survives_a_killed_node_and_takes_it_back(tmp_path: Path) -> None:
    cluster = started(KafkaCluster(data_dir=tmp_path / "cluster", heap="256m"))
    bootstrap = cluster.bootstrap_servers
    try:
        asyncio.run(create_topic(bootstrap, "replicated", 3, 3))
        asyncio.run(produce(bootstrap, "replicated", records(30, "a")))

        cluster.kill(0)  # SIGKILL: no controlled shutdown
        assert not cluster.alive(0)
        asyncio.run(produce(bootstrap, "replicated", records(30, "b")))  # acks=all, min.insync.replicas=2
        got = asyncio.run(consume(bootstrap, "replicated", "survivors", 60))
        assert sorted(got) == sorted(records(30, "a") + records(30, "b")), cluster.log_tail()

        cluster.restart(0)
        assert cluster.alive(0)

        async def rejoined() -> bool:
            """Node 1 is back in the in-sync replicas of every partition."""
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                (topic,) = await admin.describe_topics(["replicated"])
                partitions = topic["partitions"]
                return len(partitions) == 3 and all(1 in p["isr"] for p in partitions)
            finally:
                await admin.close()

        deadline = time.monotonic() + 30
        while not asyncio.run(rejoined()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert asyncio.run(rejoined()), cluster.log_tail()
    finally:
        cluster.stop()
    assert not any(cluster.alive(i) for i in range(3))
