"""Shared fixtures: a real Kafka-protocol broker per test session, and ccpulse stacks on it.

A *stack* is real processes: ``ccpulse worker`` (Faust) and ``ccpulse api``
(uvicorn) started with their own topic names and consumer group, so tests
sharing the session broker never see each other's data.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from api.auth import hash_token
from ccpulse.broker import BrokerUnavailable, EmbeddedBroker, free_port, wait_for_port
from ccpulse.kafka import ensure_topics, start_producer, topic_for_type
from ccpulse.settings import Settings, Topics

ROOT = Path(__file__).resolve().parents[1]
_stack_ids = itertools.count(1)


#: Brokers every integration test runs on: CCPULSE_TEST_BROKERS=tansu,kafka (default both), or
#: "external" with CCPULSE_TEST_BOOTSTRAP_SERVERS=host:9092 for an existing Kafka cluster.
ENGINES = ("tansu", "kafka", "external")


def test_brokers() -> list[str]:
    chosen = [e.strip() for e in os.environ.get("CCPULSE_TEST_BROKERS", "tansu,kafka").split(",") if e.strip()]
    unknown = [e for e in chosen if e not in ENGINES]
    if unknown or not chosen:
        raise pytest.UsageError(f"CCPULSE_TEST_BROKERS={os.environ.get('CCPULSE_TEST_BROKERS')!r}: "
                                f"choose from {', '.join(ENGINES)}")
    return chosen


test_brokers.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop at once, naming the fix, when Apache Kafka is wanted and Java or Maven is missing."""
    if "kafka" in test_brokers():
        import shutil

        missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
        if missing:
            pytest.exit(f"the Apache Kafka test broker needs {' and '.join(missing)}: run .ci/system-deps as root "
                        "(apt-get install openjdk-17-jre-headless maven), or set CCPULSE_TEST_BROKERS=tansu", returncode=4)
    if "external" in test_brokers() and not os.environ.get("CCPULSE_TEST_BOOTSTRAP_SERVERS"):
        pytest.exit("CCPULSE_TEST_BROKERS=external needs CCPULSE_TEST_BOOTSTRAP_SERVERS=host:port,...", returncode=4)


class ExternalKafka:
    """A Kafka cluster run by someone else (CCPULSE_TEST_BOOTSTRAP_SERVERS); never started or stopped here."""

    engine = "external"

    def __init__(self, servers: str) -> None:
        self.bootstrap_servers = servers

    def log_tail(self, n: int = 60) -> str:
        return "(an external cluster: see its own logs)"


@pytest.fixture(scope="session", params=test_brokers())
def broker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One broker for the whole session per engine: the embedded Tansu broker, a single-node Apache
    Kafka (KRaft) on loopback, or an external cluster. ``broker.engine`` names it."""
    engine = request.param
    if engine == "external":
        yield ExternalKafka(os.environ["CCPULSE_TEST_BOOTSTRAP_SERVERS"])
        return
    directory = tmp_path_factory.mktemp(f"broker-{engine}")
    try:
        if engine == "tansu":
            instance: Any = EmbeddedBroker(log_path=directory / "tansu.log").start()
        else:
            from ccpulse.kafka_broker import KafkaBroker

            instance = KafkaBroker(data_dir=directory / "data", log_path=directory / "kafka.log").start()
    except BrokerUnavailable as exc:
        pytest.fail(f"the {engine} broker is required for integration tests: {exc}", pytrace=False)
    instance.engine = engine
    yield instance
    instance.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test on Apache Kafka shows the broker's log."""
    outcome = yield
    report = outcome.get_result()
    broker = getattr(item, "funcargs", {}).get("broker")
    if report.failed and broker is not None and hasattr(broker, "log_tail"):
        report.sections.append((f"{broker.engine} broker log (tail)", broker.log_tail(60)))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _send_retrying(producer: Any, topic: str, value: bytes, key: bytes | None, timeout: float = 90.0) -> None:
    """Send like a well-behaved source: retry retriable errors (a leader moving after a broker died);
    a resend that duplicates a record is removed downstream by event_id."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await producer.send_and_wait(topic, value, key=key)
            return
        except KafkaError as exc:
            if not exc.retriable or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def _auth_env(tokens: dict[str, list[str] | tuple[list[str], list[str]]]) -> dict[str, str]:
    entries = []
    for i, (token, spec) in enumerate(tokens.items()):
        scopes, queues = spec if isinstance(spec, tuple) else (spec, None)
        entries.append({"name": f"test-token-{i}", "sha256": hash_token(token), "scopes": scopes, "queues": queues})
    return {"CCPULSE_AUTH_ENABLED": "true", "CCPULSE_API_TOKENS": orjson.dumps(entries).decode()}


class Stack:
    """Worker(s) and an API on the session broker, isolated by topic prefix and app id."""

    def __init__(self, broker: EmbeddedBroker, workdir: Path, extra_env: dict[str, str] | None = None,
                 tokens: dict[str, list[str] | tuple[list[str], list[str]]] | None = None) -> None:
        """``tokens``: token -> scopes, or (scopes, queues), turns authentication on; ``get`` then sends
        the first token unless told otherwise."""
        self.broker = broker
        self.token = next(iter(tokens), None) if tokens else None
        self.workdir = workdir
        self.prefix = f"t{next(_stack_ids)}-{uuid.uuid4().hex[:6]}"
        self.api_port = free_port()
        fields = Topics.model_fields
        self.env = {
            **os.environ,
            "CCPULSE_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "CCPULSE_WORKER_ID": f"ccpulse-{self.prefix}",
            "CCPULSE_API_PORT": str(self.api_port),
            "CCPULSE_LOG_LEVEL": "warning",
            "CCPULSE_PUBLISH_INTERVAL_SECONDS": "0.1",
            "CCPULSE_AUTH_ENABLED": "false",  # tests/integration/test_auth.py turns it on
            **{f"CCPULSE_TOPICS__{name.upper()}": f"{self.prefix}.{fields[name].default}" for name in fields},
            **(_auth_env(tokens) if tokens else {}),
            **(extra_env or {}),
        }
        self.settings = Settings(**self._settings_kwargs())
        self.workers: list[subprocess.Popen[bytes]] = []
        self.api: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    def _settings_kwargs(self) -> dict[str, Any]:
        topics = {name: f"{self.prefix}.{field.default}" for name, field in Topics.model_fields.items()}
        extra = {name: self.env[f"CCPULSE_{name.upper()}"] for name in ("replication_factor", "partitions")
                 if f"CCPULSE_{name.upper()}" in self.env}
        return {"bootstrap_servers": self.broker.bootstrap_servers, "topics": topics, **extra}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        self.logs.append(log)
        return subprocess.Popen([sys.executable, "-m", "ccpulse", *args], env=env or self.env, cwd=self.workdir,
                                stdout=open(log, "ab"), stderr=subprocess.STDOUT)

    def start(self, workers: int = 1, api: bool = True) -> "Stack":
        run(ensure_topics(self.settings, self.broker.bootstrap_servers))
        for _ in range(workers):
            self.add_worker()
        if api:
            self.start_api()
        return self

    def add_worker(self) -> subprocess.Popen[bytes]:
        index = len(self.workers)
        env = {**self.env, "CCPULSE_DATA_DIR": str(self.workdir / f"worker{index}")}
        proc = self._spawn(f"worker{index}", "worker", env=env)
        self.workers.append(proc)
        return proc

    def start_api(self) -> None:
        self.api = self._spawn("api", "api")
        if not wait_for_port("127.0.0.1", self.api_port, 30):
            pytest.fail(f"API did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for log in self.logs:
            if log.exists():
                text = log.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {log.name} ---\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self) -> None:
        procs = [p for p in [*self.workers, self.api] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # ---- talking to it --------------------------------------------------------------------------
    def produce(self, events: Iterable[dict[str, Any] | tuple[str, bytes | None, bytes]]) -> None:
        """Send contract events (dicts) to their topics, or raw (topic, key, value) tuples, in order."""

        async def go() -> None:
            producer = await start_producer(self.broker.bootstrap_servers)
            try:
                for item in events:
                    if isinstance(item, tuple):
                        topic, key, value = item
                    else:
                        topic = topic_for_type(self.settings, item["type"])
                        key = (item.get("contact_id") or item["agent_id"]).encode()
                        value = orjson.dumps(item)
                    await _send_retrying(producer, topic, value, key)
            finally:
                await producer.stop()

        run(go())

    def topic_messages(self, topic: str, timeout: float = 5.0) -> list[Any]:
        """Every message currently in ``topic`` (all partitions), read from the beginning."""

        async def go() -> list[Any]:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.broker.bootstrap_servers, enable_auto_commit=False)
            await consumer.start()
            try:
                # Apache Kafka answers a bare consumer's first metadata request with no topics: ask.
                await consumer._client.force_metadata_update()
                partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
                if not partitions:
                    return []
                consumer.assign(partitions)
                await consumer.seek_to_beginning(*partitions)
                ends = await consumer.end_offsets(partitions)
                out: list[Any] = []
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    positions = [await consumer.position(tp) for tp in partitions]
                    if all(pos >= ends[tp] for pos, tp in zip(positions, partitions)):
                        break
                    batch = await consumer.getmany(timeout_ms=200)
                    for messages in batch.values():
                        out.extend(messages)
                return out
            finally:
                await consumer.stop()

        return run(go())

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        token = token or self.token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=10)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 90.0, what: str = "condition") -> Any:
        """Poll ``predicate`` until it returns something truthy; fail with the logs otherwise."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            for proc in self.workers:
                if proc.poll() is not None:
                    pytest.fail(f"a worker exited with {proc.returncode} while waiting for {what}\n{self.log_tail()}")
            try:
                result = predicate()
                if result:
                    return result
            except (httpx.HTTPError, KeyError, IndexError, AssertionError) as exc:
                last_error = exc
            time.sleep(0.5)
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error!r})\n{self.log_tail()}")


@pytest.fixture
def stack_factory(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def make(extra_env: dict[str, str] | None = None, tokens: dict[str, Any] | None = None) -> Stack:
        directory = tmp_path / f"stack{len(stacks)}"
        directory.mkdir()
        stack = Stack(broker, directory, extra_env, tokens)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()
