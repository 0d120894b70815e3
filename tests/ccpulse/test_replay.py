"""``ccpulse replay`` and the simulator's Kafka writer against a real Kafka-protocol broker."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from ccpulse.broker import EmbeddedBroker, free_port
from ccpulse.kafka import ensure_topics
from ccpulse.replay import MAX_SHOWN_REJECTS, add_arguments, replay_file, run
from ccpulse.settings import Settings, Topics
from ccpulse.simulate import SimConfig, simulate_to_file, simulate_to_kafka

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
_prefixes = itertools.count(1)


@pytest.fixture
def kafka(broker: Any) -> Any:
    """The session's broker (each test runs on every broker of CCPULSE_TEST_BROKERS)."""
    return broker


@pytest.fixture
def settings(kafka: EmbeddedBroker) -> Settings:
    """Settings with topic names of this test only, the topics created."""
    prefix = f"replay{next(_prefixes)}"
    topics = {name: f"{prefix}.{f.default}" for name, f in Topics.model_fields.items()}
    result = Settings(bootstrap_servers=kafka.bootstrap_servers, topics=topics, partitions=2)
    asyncio.run(ensure_topics(result, kafka.bootstrap_servers))
    return result


def consume(servers: str, *topics: str, timeout: float = 10.0) -> list[Any]:
    """Every message of ``topics`` from the beginning (no consumer group), per partition in offset order."""

    async def go() -> list[Any]:
        consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()  # Kafka tells a bare consumer no topics
            partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or [])]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            out: list[Any] = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
                    break
                for messages in (await consumer.getmany(timeout_ms=200)).values():
                    out.extend(messages)
            return out
        finally:
            await consumer.stop()

    return asyncio.run(go())


def _event(n: int, kind: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"rp-{n}", "type": kind, "occurred_at": f"2026-11-23T09:00:{n:02d}+00:00", **fields}


GOOD = [
    _event(1, "agent.state_changed", agent_id="a1", state="available", queue_ids=["sales"]),
    _event(2, "contact.queued", contact_id="c1", channel="voice", queue_id="sales"),
    _event(3, "contact.queued", contact_id="c2", channel="voice", queue_id="sales"),
    _event(4, "contact.answered", contact_id="c1", agent_id="a1"),
    _event(5, "agent.state_changed", agent_id="a1", state="on_contact"),
    _event(6, "contact.abandoned", contact_id="c2"),
    _event(7, "contact.ended", contact_id="c1"),
    _event(8, "contact.wrapped_up", contact_id="c1", resolved=True),
    _event(9, "survey.responded", contact_id="c1", survey="csat", score=5),
]


def _write(path: Path) -> tuple[list[bytes], dict[int, str]]:
    """A JSONL file mixing good lines (odd spacing kept verbatim) with bad ones; returns the good
    lines' bytes in file order and the bad lines' expected reasons by line number."""
    good = [orjson.dumps(e) for e in GOOD]
    good[2] = b'{ "type" : "contact.queued", "event_id": "rp-3", "occurred_at": "2026-11-23T10:00:03+01:00", ' \
              b'"contact_id": "c2", "channel": "voice", "queue_id": "sales", "extra": 1 }'
    bad = {
        b"this is not json": "not_json",
        orjson.dumps(_event(20, "contact.teleported", contact_id="c1")): "unknown_type",
        orjson.dumps(_event(21, "survey.responded", contact_id="c1", survey="nps", score=11)): "score_out_of_scale",
        b"[1, 2]": "not_object",
    }
    lines: list[bytes] = []
    reasons: dict[int, str] = {}
    bad_iter = iter(bad.items())
    for i, line in enumerate(good):
        lines.append(line)
        if i % 2 == 1:
            raw, reason = next(bad_iter, (None, None))
            if raw is not None:
                lines.append(raw)
                reasons[len(lines)] = reason
        if i == 4:
            lines.append(b"   ")  # blank lines are skipped, not rejected
    path.write_bytes(b"\n".join(lines[:-1]) + b"\r\n" + lines[-1] + b"\n")
    return good, reasons


def test_replay_sends_valid_lines_verbatim_in_file_order_and_counts_rejects(kafka, settings, tmp_path) -> None:
    good, reasons = _write(tmp_path / "events.jsonl")
    summary = asyncio.run(replay_file(tmp_path / "events.jsonl", settings, kafka.bootstrap_servers))
    assert (summary.sent, summary.rejected) == (len(good), len(reasons))
    assert {(r.line, r.reason) for r in summary.rejects} == set(reasons.items())
    t = settings.topics
    messages = consume(kafka.bootstrap_servers, t.contact_events, t.agent_events, t.survey_events)
    assert sorted(m.value for m in messages) == sorted(good)
    expected_topic = {"agent": t.agent_events, "survey": t.survey_events, "contact": t.contact_events}
    by_key: dict[tuple[str, bytes], list[bytes]] = defaultdict(list)
    for message in messages:
        event = orjson.loads(message.value)
        assert message.topic == expected_topic[event["type"].split(".")[0]]
        assert message.key == (event.get("contact_id") or event["agent_id"]).encode()
        by_key[message.topic, message.key].append(message.value)
    for key, values in by_key.items():  # one key of one topic → one partition → file order
        assert values == [line for line in good if line in values], key


def test_replay_paces_by_event_time(kafka, settings, tmp_path) -> None:
    lines = [orjson.dumps(_event(n, "contact.queued", contact_id=f"p{n}", channel="chat", queue_id="q")) for n in (0, 30, 59)]
    (tmp_path / "paced.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    summary = asyncio.run(replay_file(tmp_path / "paced.jsonl", settings, kafka.bootstrap_servers, speed=60))
    assert summary.sent == 3 and summary.rejected == 0
    assert 0.9 < summary.seconds < 3  # 59 s of event time at 60×


def test_simulated_file_replays_completely(kafka, settings, tmp_path) -> None:
    path = tmp_path / "sim.jsonl"
    written = simulate_to_file(SimConfig(seed=5, start=START, duration_seconds=900), path)
    summary = asyncio.run(replay_file(path, settings, kafka.bootstrap_servers))
    assert (summary.sent, summary.rejected) == (written.events, 0)
    t = settings.topics
    messages = consume(kafka.bootstrap_servers, t.contact_events, t.agent_events, t.survey_events)
    assert sorted(m.value for m in messages) == sorted(path.read_bytes().splitlines())


def test_simulator_sends_to_kafka_as_fast_as_possible(kafka, settings) -> None:
    config = SimConfig(seed=6, start=START, duration_seconds=600)
    summary = asyncio.run(simulate_to_kafka(settings, config, 0, kafka.bootstrap_servers))
    t = settings.topics
    messages = consume(kafka.bootstrap_servers, t.contact_events, t.agent_events, t.survey_events)
    assert summary.events == len(messages) > 50 and summary.contacts > 0
    for message in messages:
        event = orjson.loads(message.value)
        assert message.key == (event.get("contact_id") or event["agent_id"]).encode()


def test_simulator_paces_by_event_time(kafka, settings) -> None:
    config = SimConfig(seed=6, start=START, duration_seconds=60)
    summary = asyncio.run(simulate_to_kafka(settings, config, 600, kafka.bootstrap_servers))
    # Arrivals stop at 60 s; contacts in flight finish, so event time runs past the horizon.
    last = datetime.fromisoformat(summary.clock or "").timestamp() - START.timestamp()
    assert last > 60 and summary.seconds == pytest.approx(last / 600, abs=0.5)


# ---- CLI ------------------------------------------------------------------------------------
def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_exit_codes_and_messages(kafka, settings, tmp_path, capsys) -> None:
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"\n".join(orjson.dumps(e) for e in GOOD) + b"\n")
    assert run(_args(str(clean)), settings) == 0
    err = capsys.readouterr().err
    assert f"ccpulse replay: sent {len(GOOD)} events, rejected 0 from {clean} in " in err

    dirty = tmp_path / "dirty.jsonl"
    dirty.write_bytes(b"\n".join([orjson.dumps(GOOD[0])] + [b"{oops"] * (MAX_SHOWN_REJECTS + 3)) + b"\n")
    assert run(_args(str(dirty)), settings) == 1
    err = capsys.readouterr().err
    assert err.count(": not_json: ") == MAX_SHOWN_REJECTS
    assert "ccpulse replay: line 2: not_json: " in err and "and 3 more rejected lines" in err
    assert f"sent 1 events, rejected {MAX_SHOWN_REJECTS + 3} (see above) from {dirty}" in err

    assert run(_args(str(tmp_path / "missing.jsonl")), settings) == 2
    assert f"ccpulse: no such file: {tmp_path / 'missing.jsonl'}" in capsys.readouterr().err

    nowhere = settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}"})
    assert run(_args(str(clean)), nowhere) == 2
    err = capsys.readouterr().err
    assert "ccpulse: cannot reach Kafka at 127.0.0.1:" in err and "Traceback" not in err
