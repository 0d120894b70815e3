"""End to end on the embedded broker: events → Faust worker → read model → HTTP API."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.scenarios import FOUNDATION_AGENTS, FOUNDATION_EVENTS, FOUNDATION_EXPECTED, FOUNDATION_WAITING

pytestmark = pytest.mark.integration

BAD_MESSAGES = [
    (b"c-bad-1", b"this is not json {"),
    (b"c-bad-2", orjson.dumps({"event_id": "x1", "type": "contact.teleported", "occurred_at": "2026-03-02T09:00:00Z", "contact_id": "c-bad-2"})),
    (b"c-bad-3", orjson.dumps({"event_id": "x2", "type": "contact.queued", "occurred_at": "2026-03-02T09:00:00Z", "contact_id": "c-bad-3"})),
]


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    from tests.conftest import Stack

    stack = Stack(broker, tmp_path_factory.mktemp("foundation")).start(workers=1)
    topic = stack.settings.topics.contact_events
    # Malformed messages first: the worker must keep processing the good events after them.
    stack.produce([(topic, key, value) for key, value in BAD_MESSAGES])
    stack.produce(FOUNDATION_EVENTS)
    yield stack
    stack.stop()


def _interval(stack, queue: str, granularity: str, start: str) -> dict | None:
    response = stack.get(f"/api/v1/queues/{queue}/intervals", granularity=granularity, start=start,
                         end="2026-03-03T00:00:00Z")
    response.raise_for_status()
    rows = {row["interval_start"]: row for row in response.json()["intervals"]}
    return rows.get(start)


def _settled(stack) -> bool:
    # The last event of the scenario (c6's wrap-up) has been counted.
    row = _interval(stack, "chat_help", "15m", "2026-03-02T09:15:00Z")
    return bool(row and row["handled"] == 1)


@pytest.mark.parametrize("key", list(FOUNDATION_EXPECTED), ids=lambda k: "-".join(k))
def test_hand_computed_scenario_through_the_api(stack, key) -> None:
    stack.wait_for(lambda: _settled(stack), what="the scenario to be processed")
    queue, granularity, start = key
    expected = FOUNDATION_EXPECTED[key]

    def exact() -> dict:
        # Partitions catch up independently: wait for this row to be exact (the error shows the difference).
        row = _interval(stack, queue, granularity, start)
        assert row is not None, f"no {granularity} row for {queue} at {start}"
        assert {name: row[name] for name in expected} == pytest.approx(expected)
        return row

    row = stack.wait_for(exact, timeout=30, what=f"{queue} {granularity} {start} to equal the hand-computed figures")
    assert row["granularity"] == granularity


def test_live_queue_and_agent_state(stack) -> None:
    stack.wait_for(lambda: _settled(stack), what="the scenario to be processed")

    def agents_done():
        body = stack.get("/api/v1/agents").json()
        return {a["agent_id"]: (a["state"], a["since"]) for a in body["agents"]} == FOUNDATION_AGENTS

    stack.wait_for(agents_done, what="agent states")
    queues = {q["queue_id"]: q for q in stack.get("/api/v1/queues").json()["queues"]}
    for queue, (waiting, oldest) in FOUNDATION_WAITING.items():
        assert queues[queue]["live"]["waiting"] == waiting
        assert queues[queue]["live"]["oldest_queued_at"] == oldest
    assert queues["sales"]["live"]["longest_wait_seconds"] > 0
    assert queues["support"]["live"]["agents"]["available"] == 2  # a1 and a2 are staffed on support
    assert queues["chat_help"]["live"]["agents"]["on_contact"] == 1
    assert queues["chat_help"]["channel"] == "chat"
    assert queues["chat_help"]["sl_threshold_seconds"] == 60
    one = stack.get("/api/v1/agents/a3").json()
    assert one["state"] == "on_contact" and one["team"] == "team-b" and one["queue_ids"] == ["chat_help"]


def test_bad_input_is_dead_lettered_with_original_bytes(stack) -> None:
    stack.wait_for(lambda: _settled(stack), what="the scenario to be processed")
    records = stack.wait_for(lambda: (r := stack.topic_messages(stack.settings.topics.deadletter)) and len(r) >= 4 and r,
                             what="dead letters")
    decoded = [orjson.loads(m.value) for m in records]
    by_key = {d["key"]: d for d in decoded}
    assert sorted(d["reason"] for d in decoded) == ["duplicate", "not_json", "schema_violation", "unknown_type"]
    for key, raw in BAD_MESSAGES:
        record = by_key[key.decode()]
        assert base64.b64decode(record["value_b64"]) == raw
        assert record["topic"] == stack.settings.topics.contact_events and record["message"]
    duplicate = next(d for d in decoded if d["reason"] == "duplicate")
    assert duplicate["event_id"] == "ev-002"
    metrics = stack.get("/metrics").text
    assert f'ccpulse_events_rejected_total{{reason="not_json",topic="{stack.settings.topics.contact_events}"}} 1.0' in metrics


def test_api_errors_are_clear_4xx(stack) -> None:
    assert stack.get("/api/v1/queues/nope").status_code == 404
    assert stack.get("/api/v1/queues/nope").json() == {"detail": "unknown queue 'nope'"}
    assert stack.get("/api/v1/agents/nobody").status_code == 404
    bad = stack.get("/api/v1/queues/sales/intervals", granularity="5m")
    assert bad.status_code == 422 and "granularity" in bad.json()["detail"]
    assert stack.get("/api/v1/queues/sales/intervals", start="2026-03-02T09:00:00").status_code == 422
    assert stack.get("/api/v1/queues/sales/intervals", start="2026-03-03T00:00:00Z", end="2026-03-02T00:00:00Z").status_code == 422
    assert stack.get("/readyz").status_code == 200


def _same_partition_key(key: str, partitions: int, prefix: str) -> str:
    """Another key the default (murmur2) partitioner puts on the same partition as ``key``."""
    from aiokafka.partitioner import murmur2

    def part(k: str) -> int:
        return (murmur2(k.encode()) & 0x7FFFFFFF) % partitions

    return next(f"{prefix}{i}" for i in range(10_000) if part(f"{prefix}{i}") == part(key))


def test_late_and_never_queued_contacts_are_dead_lettered(stack) -> None:
    stack.wait_for(lambda: _settled(stack), what="the scenario to be processed")
    partitions = stack.settings.partitions
    advance = _same_partition_key("c-ghost", partitions, "c-adv-")
    late = _same_partition_key("c-ghost", partitions, "c-late-")
    stack.produce([
        {"event_id": "g-1", "type": "contact.answered", "occurred_at": "2026-03-02T12:00:00Z", "contact_id": "c-ghost", "agent_id": "a1"},
        # moves this partition's watermark to 13:05: c-ghost (last event 12:00) is now settled
        {"event_id": "g-2", "type": "contact.queued", "occurred_at": "2026-03-02T13:05:00Z", "contact_id": advance, "channel": "email", "queue_id": "late_q"},
        # 1 h 15 min behind the watermark: beyond the 1 h lateness bound
        {"event_id": "g-3", "type": "contact.queued", "occurred_at": "2026-03-02T11:50:00Z", "contact_id": late, "channel": "email", "queue_id": "late_q"},
    ])

    def reasons():
        records = [orjson.loads(m.value) for m in stack.topic_messages(stack.settings.topics.deadletter)]
        got = {d["reason"]: d for d in records}
        return got if {"late", "unknown_contact"} <= got.keys() else None

    got = stack.wait_for(reasons, what="late and unknown_contact dead letters")
    ghost = got["unknown_contact"]
    assert ghost["event_id"] == "g-1" and ghost["key"] == "c-ghost"
    assert orjson.loads(base64.b64decode(ghost["value_b64"]))["event_id"] == "g-1"
    assert got["late"]["event_id"] == "g-3" and "lateness bound" in got["late"]["message"]
    row = stack.wait_for(lambda: _interval(stack, "late_q", "15m", "2026-03-02T13:00:00Z"), what="late_q interval")
    assert row["offered"] == 1  # only the on-time contact


def test_metrics_follow_the_contract_the_rules_and_dashboards_use(stack) -> None:
    from pathlib import Path

    stack.wait_for(lambda: _settled(stack), what="the scenario to be processed")
    contract = set((Path(__file__).parents[2] / "deploy/prometheus/metric_names.txt").read_text().split())
    text = stack.wait_for(lambda: (t := stack.get("/metrics").text) and "ccpulse_events_consumed_total{" in t and t, what="worker stats in metrics")
    exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    assert exported <= contract, f"exported but not in deploy/prometheus/metric_names.txt: {exported - contract}"
    for name in ("ccpulse_queue_contacts_waiting", "ccpulse_queue_agents", "ccpulse_queue_contacts_offered_total",
                 "ccpulse_survey_responses_total", "ccpulse_events_consumed_total", "ccpulse_processing_latency_seconds_bucket"):
        assert name in exported
    assert 'ccpulse_queue_contacts_waiting{channel="voice",queue="sales"} 1.0' in text
    assert "contact_id" not in text and "customer" not in text  # no high-cardinality labels


def test_closed_intervals_are_published_to_interval_stats(stack) -> None:
    """Runs last: moving event time 27 h on closes 2026-03-02 09:00 (end + lateness + FCR window)."""
    stack.wait_for(lambda: _settled(stack), what="the scenario to be processed")
    # Traffic on many queues, so every partition of the facts topic sees the newer time.
    stack.produce([
        {"event_id": f"fin-{n}", "type": "contact.queued", "occurred_at": "2026-03-03T12:00:00Z",
         "contact_id": f"fin-{n}", "channel": "voice", "queue_id": f"fin_q{n}"}
        for n in range(24)
    ])

    def closed_sales_row():
        for message in stack.topic_messages(stack.settings.topics.interval_stats):
            row = orjson.loads(message.value)
            if (row["dimension"], row["id"], row["interval_start"]) == ("queue", "sales", "2026-03-02T09:00:00Z"):
                return row
        return None

    row = stack.wait_for(closed_sales_row, what="the closed sales interval in cc.interval-stats")
    expected = FOUNDATION_EXPECTED[("sales", "15m", "2026-03-02T09:00:00Z")]
    assert {name: row[name] for name in expected} == pytest.approx(expected)
    assert row["granularity"] == "15m" and row["interval_end"] == "2026-03-02T09:15:00Z"
