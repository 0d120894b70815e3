"""One benchmark line per process: consume the pre-produced bench topic and report a JSON result.

Run as ``python -m bench.lines NAME SERVERS TOPIC N``. Every line counts events per queue and
15-minute window of event time (the tumbling count the peers do), except the raw ceilings, which
only decode. A line's rate counts from its first event to its last, so start-up (JVMs, group
joins, Rust engines) is not charged to it; a line that did not see all N events reports that and
is not given a rate by the runner.

The peers are bench-only extras (``pip install -e '.[bench]'``); a missing one is reported as
"not installed", never replaced by something else.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from typing import Any, Callable

import orjson

__all__ = ["LINES", "window_key"]

WINDOW = 900  # seconds: a tumbling 15-minute window


def window_key(value: bytes) -> tuple[str, int]:
    """(queue, window start) of a contact event's JSON value."""
    event = orjson.loads(value)
    return event.get("queue_id") or "", _epoch(event["occurred_at"]) // WINDOW * WINDOW


def _epoch(text: str) -> int:
    # "2026-03-02T08:00:12.345+00:00": the bench data is UTC with a fixed format.
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp())


def peak_rss_kb() -> int:
    with open(f"/proc/{os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _result(events: int, first: float | None, last: float | None, counts: Counter | None) -> dict[str, Any]:
    return {"events": events, "seconds": (last - first) if first and last else None,
            "counts": sorted([list(k) + [v] for k, v in counts.items()]) if counts is not None else None,
            "rss_kb": peak_rss_kb()}


# ---- ceilings ------------------------------------------------------------------------------------
def raw_aiokafka(servers: str, topic: str, n: int) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def go() -> dict[str, Any]:
        consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False, auto_offset_reset="earliest",
                                    max_partition_fetch_bytes=8 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            seen, first, last = 0, None, None
            deadline = time.monotonic() + 600
            while seen < n and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500, max_records=10000)
                for messages in batch.values():
                    if first is None and messages:
                        first = time.monotonic()
                    for m in messages:
                        orjson.loads(m.value)
                    seen += len(messages)
                last = time.monotonic()
            return _result(seen, first, last, None)
        finally:
            await consumer.stop()

    return asyncio.run(go())


def raw_confluent(servers: str, topic: str, n: int) -> dict[str, Any]:
    from confluent_kafka import Consumer  # bench extra

    consumer = Consumer({"bootstrap.servers": servers, "group.id": f"bench-raw-{os.getpid()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    seen, first, last = 0, None, None
    deadline = time.monotonic() + 600
    while seen < n and time.monotonic() < deadline:
        messages = consumer.consume(num_messages=10000, timeout=0.5)
        good = [m for m in messages if m.error() is None]
        if first is None and good:
            first = time.monotonic()
        for m in good:
            orjson.loads(m.value())
        seen += len(good)
        last = time.monotonic()
    consumer.close()
    return _result(seen, first, last, None)


# ---- frameworks ----------------------------------------------------------------------------------
def faust_noop(servers: str, topic: str, n: int) -> dict[str, Any]:
    """A Faust agent that does nothing with each event: the floor of the framework."""
    import faust

    app = faust.App(f"bench-noop-{os.getpid()}", broker=[f"kafka://{s}" for s in servers.split(",")],
                    store="memory://", web_enabled=False, topic_allow_declare=False, key_serializer="raw",
                    value_serializer="raw", consumer_auto_offset_reset="earliest", broker_max_poll_records=2000,
                    stream_buffer_maxsize=8192, broker_rebalance_timeout=10.0, broker_session_timeout=10.0,
                    datadir=f"/tmp/bench-faust-{os.getpid()}")
    source = app.topic(topic, key_type=bytes, value_type=bytes)
    state: dict[str, Any] = {"seen": 0, "first": None, "last": None}

    @app.agent(source)
    async def count(stream: Any) -> None:
        async for _value in stream:
            if state["first"] is None:
                state["first"] = time.monotonic()
            state["seen"] += 1
            if state["seen"] >= n:
                state["last"] = time.monotonic()
                _finish(_result(state["seen"], state["first"], state["last"], None))

    sys.argv = [sys.argv[0], "worker", "-l", "warn", "--without-web"]
    app.main()
    return {}  # not reached


def _finish(result: dict[str, Any]) -> None:
    # Straight to file descriptor 1: Faust redirects sys.stdout into its logger.
    os.write(1, orjson.dumps(result) + b"\n")
    os._exit(0)


def quix(servers: str, topic: str, n: int) -> dict[str, Any]:
    """Quix Streams: tumbling 15-minute count per queue on event time."""
    from quixstreams import Application  # bench extra

    app = Application(broker_address=servers, consumer_group=f"bench-quix-{os.getpid()}", auto_offset_reset="earliest",
                      state_dir=f"/tmp/bench-quix-{os.getpid()}", loglevel="WARNING")
    counts: Counter = Counter()
    state: dict[str, Any] = {"seen": 0, "first": None}

    def tally(value: dict[str, Any]) -> None:
        if state["first"] is None:
            state["first"] = time.monotonic()
        counts[(value.get("queue_id") or "", _epoch(value["occurred_at"]) // WINDOW * WINDOW)] += 1
        state["seen"] += 1
        if state["seen"] >= n:
            _finish(_result(state["seen"], state["first"], time.monotonic(), counts))

    sdf = app.dataframe(app.topic(topic, value_deserializer="json"))
    sdf.update(tally)
    app.run()
    return {}


def bytewax(servers: str, topic: str, n: int) -> dict[str, Any]:
    """Bytewax, one worker: key by queue, count per 15-minute window of event time."""
    from datetime import datetime, timedelta, timezone

    import bytewax.operators as op  # bench extra
    import bytewax.operators.windowing as win
    from bytewax.connectors.kafka import KafkaSource
    from bytewax.dataflow import Dataflow
    from bytewax.operators.windowing import EventClock, TumblingWindower
    from bytewax.testing import run_main

    state: dict[str, Any] = {"seen": 0, "first": None}
    counts: Counter = Counter()
    flow = Dataflow("bench")
    messages = op.input("in", flow, KafkaSource(servers.split(","), [topic], tail=False))

    def decode(message: Any) -> tuple[str, dict[str, Any]]:
        if state["first"] is None:
            state["first"] = time.monotonic()
        event = orjson.loads(message.value)
        return event.get("queue_id") or "", event

    keyed = op.map("decode", messages, decode)
    clock = EventClock(lambda kv: datetime.fromisoformat(kv[1]["occurred_at"]), wait_for_system_duration=timedelta(days=1))  # nothing late: partitions interleave
    windower = TumblingWindower(length=timedelta(seconds=WINDOW), align_to=datetime(2020, 1, 1, tzinfo=timezone.utc))
    counted = win.count_window("count", keyed, clock, windower, key=lambda kv: kv[0])

    def seen(item: Any) -> None:
        key, (window_id, count) = item
        meta = windower  # window ids are 15-minute steps from align_to
        start = int(datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp()) + window_id * WINDOW
        counts[(key, start)] += count
        state["seen"] += count
        if state["seen"] >= n:
            _finish(_result(state["seen"], state["first"], time.monotonic(), counts))
        _ = meta

    op.inspect("out", counted.down, lambda _step, item: seen(item))
    run_main(flow)
    return _result(state["seen"], state["first"], time.monotonic(), counts)


def pathway(servers: str, topic: str, n: int) -> dict[str, Any]:
    """Pathway, one thread: tumbling 15-minute count per queue."""
    import pathway as pw  # bench extra

    class Schema(pw.Schema):
        queue_id: str = pw.column_definition(default_value="")  # not every contact event names a queue
        occurred_at: str

    table = pw.io.kafka.read({"bootstrap.servers": servers, "group.id": f"bench-pw-{os.getpid()}",
                              "auto.offset.reset": "earliest"}, topic=topic, format="json", schema=Schema,
                             autocommit_duration_ms=200)
    state: dict[str, Any] = {"seen": 0, "first": None}
    counts: Counter = Counter()
    def window(text: str) -> int:
        if state["first"] is None:  # the engine hands over the first row
            state["first"] = time.monotonic()
        return _epoch(text) // WINDOW * WINDOW

    with_time = table.select(queue=pw.this.queue_id, window=pw.apply(window, pw.this.occurred_at))
    grouped = with_time.groupby(pw.this.queue, pw.this.window).reduce(pw.this.queue, pw.this.window,
                                                                      count=pw.reducers.count())

    monotonic = time.monotonic  # pathway passes a `time` argument to on_change

    def on_change(key: Any, row: dict[str, Any], time: int, is_addition: bool) -> None:  # noqa: F811
        sign = 1 if is_addition else -1
        counts[(row["queue"], row["window"])] += sign * row["count"]
        state["seen"] = sum(counts.values())
        if state["seen"] >= n:
            _finish(_result(state["seen"], state["first"], monotonic(), +counts))

    pw.io.subscribe(grouped, on_change=on_change)
    pw.run(monitoring_level=pw.MonitoringLevel.NONE)
    return {}


LINES: dict[str, Callable[[str, str, int], dict[str, Any]]] = {
    "raw-aiokafka": raw_aiokafka, "raw-confluent": raw_confluent, "faust-noop": faust_noop,
    "quix": quix, "bytewax": bytewax, "pathway": pathway,
}

if __name__ == "__main__":
    name, servers, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    try:
        out = LINES[name](servers, topic, n)
    except ImportError as exc:
        out = {"error": f"not installed ({exc.name}): pip install -e '.[bench]'"}
    sys.stdout.write(orjson.dumps(out).decode() + "\n")
