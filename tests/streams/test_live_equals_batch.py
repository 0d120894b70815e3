"""The live worker and the batch fold give the same buckets (no broker).

The live side is the worker's own processors (``ContactProcessor``, ``AgentProcessor``,
``CustomerProcessor``, ``IntervalProcessor`` of streams/processing.py), driven without Faust: their
tables are dicts and their output topics record what is sent. A small driver plays the worker's consumer:
it hands the contact and survey topics' messages over in batches, interleaved in several ways (read
at the same pace, the contact topic read far ahead, small and large batches), with the broker's end
offsets known as the worker knows them; every fact the contact side sends goes through the customer and
interval processors. The batch side is what ``ccpulse recompute`` runs (``fold_records`` + ``apply_fcr``).

The stream: every real-platform sequence of tests/real_world_scenario.py (same-second ties, skew, legs,
re-queues, ...), surveys and QA on their own topic, an email waiting over a weekend, an open call that
expires, QA five days after its contact, a late answer, a duplicate.
"""

from __future__ import annotations

import asyncio
import heapq
from typing import Any

import orjson
import pytest

from ccpulse.domain.batch import apply_fcr
from ccpulse.domain.intervals import iso, parse_time
from ccpulse.recompute import Record, fold_records
from ccpulse.settings import Settings
from streams.processing import AgentProcessor, ContactProcessor, CustomerProcessor, IntervalProcessor
from tests.real_world_scenario import CASES, namespaced

SETTINGS = Settings(auth_enabled=False, partitions=1, retention_days=30)
TOPICS = SETTINGS.topics


class _Message:
    def __init__(self, topic: str, offset: int, key: bytes | None, value: bytes) -> None:
        self.topic, self.partition, self.offset, self.key, self.value = topic, 0, offset, key, value
        self.acked = False


class _Event:
    def __init__(self, message: _Message) -> None:
        self.message = message


class _Topic:
    """An output topic: records what is sent, acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes]] = []
        self.read = 0

    async def send(self, key: bytes | None = None, value: Any = None, partition: int | None = None) -> asyncio.Future[None]:
        self.sent.append((key, value if isinstance(value, bytes) else orjson.dumps(value)))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def take(self, name: str) -> list[_Event]:
        """The messages sent since the last take, as the next processor's input."""
        new = self.sent[self.read:]
        out = [_Event(_Message(name, self.read + n, key, value)) for n, (key, value) in enumerate(new)]
        self.read = len(self.sent)
        return out


class _Rows:
    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}

    def upsert(self, key: str, kind: str, row: Any) -> None:
        self.rows[key] = row


def ev(kind: str, t: float, cid: str, **fields: Any) -> dict[str, Any]:
    prefix = "survey" if kind == "responded" else "qa" if kind == "evaluated" else "contact"
    return {"event_id": f"{cid}-{kind}-{t}", "type": f"{prefix}.{kind}", "occurred_at": iso(t), "contact_id": cid, **fields}


def call(cid: str, start: float, queue: str = "v", agent: str = "a9", customer: str | None = None) -> list[dict[str, Any]]:
    extra = {"customer_id": customer} if customer else {}
    return [ev("queued", start, cid, channel="voice", queue_id=queue, **extra), ev("answered", start + 10, cid, agent_id=agent),
            ev("ended", start + 70, cid), ev("wrapped_up", start + 70, cid, resolved=True)]


def stream() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for name, (case_events, _) in CASES.items():
        events += namespaced(name, case_events, {})[0]
    mon = parse_time("2026-03-02T09:00:00Z")
    fri, next_mon = parse_time("2026-03-06T17:30:00Z"), parse_time("2026-03-09T08:45:00Z")
    events += [ev("queued", fri, "mail", channel="email", queue_id="eq", customer_id="cu1"),
               ev("answered", next_mon, "mail", agent_id="a1"), ev("ended", next_mon + 1800, "mail"),
               ev("wrapped_up", next_mon + 2100, "mail", resolved=False),
               ev("responded", next_mon + 2 * 86400, "mail", survey="csat", score=2)]
    events += [ev("queued", mon + 7200, "open", channel="voice", queue_id="q1")]  # never answered: expires
    events += [*call("k1", mon + 3600, queue="q1", agent="a1", customer="cu2"),
               ev("evaluated", mon + 3600 + 5 * 86400, "k1", agent_id="a1", score=0.8),
               ev("responded", mon + 3600 + 3 * 86400, "k1", survey="nps", score=9)]
    events += call("k2", mon + 3 * 86400, queue="q1", agent="a2", customer="cu2")  # a repeat: not within FCR
    t = mon + 1800
    while t < mon + 11 * 86400:  # traffic on the partition, every 20 minutes
        events += call(f"t{int(t)}", t, customer=f"cu{int(t) % 7}")
        t += 1200
    events.sort(key=lambda e: parse_time(e["occurred_at"]))  # stable: same-time events keep the producer order
    late_at = mon + 4 * 86400
    events += [ev("queued", late_at, "late", channel="voice", queue_id="q1")]
    events.sort(key=lambda e: parse_time(e["occurred_at"]))
    cut = next(n for n, e in enumerate(events) if parse_time(e["occurred_at"]) > late_at + 7200)
    events.insert(cut, ev("answered", late_at + 20, "late", agent_id="a1"))  # arrives 2 h late
    events.insert(cut + 5, dict(events[cut + 2]))  # a duplicate
    return events


def split(events: list[dict[str, Any]]) -> dict[str, list[Record]]:
    """The three input topics of partition 0, each in producer order (record time = event time)."""
    out: dict[str, list[Record]] = {TOPICS.contact_events: [], TOPICS.survey_events: [], TOPICS.agent_events: []}
    for e in events:
        topic = (TOPICS.agent_events if e["type"].startswith("agent.") else
                 TOPICS.survey_events if e["type"].startswith(("survey.", "qa.")) else TOPICS.contact_events)
        out[topic].append(Record(len(out[topic]), int(parse_time(e["occurred_at"]) * 1000), orjson.dumps(e)))
    return out


def batch_buckets(topics: dict[str, list[Record]]) -> dict[str, Any]:
    fold = fold_records(SETTINGS, TOPICS, 0, topics[TOPICS.contact_events], topics[TOPICS.survey_events],
                        topics[TOPICS.agent_events])
    return apply_fcr(fold.buckets, fold.fcr, SETTINGS.fcr_window_seconds, clock=SETTINGS.sla_clock)


def interleave(contact: list[Record], survey: list[Record], how: str) -> list[list[tuple[str, Record]]]:
    """The contact-side stream's batches, as the worker's consumer could hand them over."""
    tagged_c = [(TOPICS.contact_events, r) for r in contact]
    tagged_s = [(TOPICS.survey_events, r) for r in survey]
    if how == "contacts-ahead":  # the contact topic read to its end before the survey topic
        merged, size = [*tagged_c, *tagged_s], 50
    elif how == "surveys-ahead":  # a quiet survey topic read whole in the first fetch
        merged, size = [*tagged_s, *tagged_c], 50
    else:
        # by record time across the topics, each topic in its own order (as recompute's merger reads them)
        merged = list(heapq.merge(tagged_c, tagged_s, key=lambda tr: tr[1].timestamp))
        size = 1 if how == "one-by-one" else 7 if how == "small-batches" else 400
    return [merged[n:n + size] for n in range(0, len(merged), size)]


async def live_buckets(topics: dict[str, list[Record]], how: str) -> tuple[dict[str, Any], dict[str, int]]:
    facts, customer_facts, deadletter, stats = _Topic(), _Topic(), _Topic(), _Topic()
    rows = _Rows()
    watermarks: dict[str, Any] = {}
    ends = {t: len(records) for t, records in topics.items()}
    contacts = ContactProcessor(SETTINGS, {}, watermarks, facts, customer_facts, deadletter, rows,  # type: ignore[arg-type]
                                highwater=lambda topic, partition: ends.get(topic))
    agents = AgentProcessor(SETTINGS, {}, watermarks, facts, deadletter, rows)  # type: ignore[arg-type]
    customers = CustomerProcessor(SETTINGS, {}, facts, deadletter, rows)  # type: ignore[arg-type]
    buckets: dict[str, Any] = {}
    intervals = IntervalProcessor(SETTINGS, buckets, stats, deadletter, rows)  # type: ignore[arg-type]

    async def downstream() -> None:
        batch = customer_facts.take(TOPICS.customer_facts)
        if batch:
            await customers.process(batch)
        batch = facts.take(TOPICS.interval_facts)
        if batch:
            await intervals.process(batch)

    agent_records = topics[TOPICS.agent_events]
    for n in range(0, len(agent_records), 5):
        await agents.process([_Event(_Message(TOPICS.agent_events, r.offset, None, r.value)) for r in agent_records[n:n + 5]])
        await downstream()
    for batch in interleave(topics[TOPICS.contact_events], topics[TOPICS.survey_events], how):
        await contacts.process([_Event(_Message(topic, r.offset, None, r.value)) for topic, r in batch])
        await downstream()
    reasons: dict[str, int] = {}
    for _, value in deadletter.sent:
        reason = orjson.loads(value)["reason"]
        reasons[reason] = reasons.get(reason, 0) + 1
    return buckets, reasons


def figures(buckets: dict[str, Any]) -> dict[str, tuple[dict[str, int], list[Any]]]:
    return {key: (bucket["c"], [list(t) for t in bucket["tops"]]) for key, bucket in buckets.items() if bucket["c"]}


@pytest.fixture(scope="module")
def topics() -> dict[str, list[Record]]:
    return split(stream())


@pytest.fixture(scope="module")
def expected(topics: dict[str, list[Record]]) -> dict[str, Any]:
    return figures(batch_buckets(topics))


@pytest.mark.parametrize("how", ["by-time", "one-by-one", "small-batches", "contacts-ahead", "surveys-ahead"])
def test_the_live_processors_give_the_batch_folds_buckets(topics, expected, how: str) -> None:
    live, reasons = asyncio.run(live_buckets(topics, how))
    got = figures(live)
    assert set(got) == set(expected)
    assert {k: v for k, v in got.items() if v != expected[k]} == {}
    # the stream's own rejections, on both sides: the late answer (and its contact expired), the open call
    # expired, the duplicate
    assert reasons.get("late") == 1 and reasons.get("duplicate") == 1 and reasons.get("expired_open") == 2


def test_the_stream_exercises_what_it_is_meant_to(expected) -> None:
    """Not an empty comparison: the long-lived cases left their figures."""
    def total(prefix: str, measure: str) -> int:
        return sum(c.get(measure, 0) for key, (c, _) in expected.items() if key.startswith(prefix))
    assert total("queue|eq|", "answered") == 1 and total("queue|eq|", "csat_responses") == 1
    assert total("queue|q1|", "expired") == 2  # the open call and the late-answered one
    assert total("agent|a1|", "qa_count") == 1 and total("agent|a1|", "nps_promoters") == 1
    assert total("queue|eq|", "cases_opened") == 1  # the weekend email opened one case, not one per record


class _Crash(Exception):
    pass


async def _crash_in_sweep_then_redeliver(records: list[Record]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Process ``records`` (contact topic) in one batch whose sweep expires a contact; the worker dies after the
    sweep wrote its states and before it sent their messages. A new worker (same tables) reads the batch again."""
    facts, customer_facts, deadletter, stats = _Topic(), _Topic(), _Topic(), _Topic()
    contacts_t: dict[str, Any] = {}
    watermarks: dict[str, Any] = {}
    ends = {TOPICS.contact_events: len(records), TOPICS.survey_events: 0}
    buckets: dict[str, Any] = {}
    intervals = IntervalProcessor(SETTINGS, buckets, stats, deadletter, _Rows())  # type: ignore[arg-type]
    batch = [_Event(_Message(TOPICS.contact_events, r.offset, None, r.value)) for r in records]

    def worker() -> ContactProcessor:
        return ContactProcessor(SETTINGS, contacts_t, watermarks, facts, customer_facts, deadletter, _Rows(),  # type: ignore[arg-type]
                                highwater=lambda topic, partition: ends.get(topic))

    first = worker()
    send = first.send_stored
    calls = 0

    async def dies_at_the_sweeps_send() -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the batch's own messages went out; the sweep's do not
            first._sends = []
            raise _Crash
        await send()

    first.send_stored = dies_at_the_sweeps_send  # type: ignore[method-assign]
    with pytest.raises(_Crash):
        await first.process(batch)
    await intervals.process(facts.take(TOPICS.interval_facts))
    lost = {k: dict(b["c"]) for k, b in buckets.items()}
    await worker().process(batch)  # redelivered: nothing was committed
    await intervals.process(facts.take(TOPICS.interval_facts))
    return lost, buckets


@pytest.mark.parametrize("last", ["event", "poison"])
def test_what_a_sweep_sends_survives_a_crash_before_it_was_sent(last: str) -> None:
    """``last``: what the batch's last message (the one the sweep numbers its messages after) is."""
    start = parse_time("2026-03-02T09:00:00Z")
    events = [ev("queued", start, "w1", channel="voice", queue_id="q1")]
    t = start + 600
    while t < start + 86400 + 2 * 3600:
        events += call(f"t{int(t)}", t)
        t += 3600
    records = split(events)[TOPICS.contact_events]
    if last == "poison":
        records.append(Record(len(records), records[-1].timestamp, b"not json"))
    lost, buckets = asyncio.run(_crash_in_sweep_then_redeliver(records))
    expired = {k: b["c"]["expired"] for k, b in buckets.items() if b["c"].get("expired")}
    assert not any(c.get("expired") for c in lost.values())  # the crash lost the expiry's delta ...
    assert expired == {f"queue|q1|{int(start + 86400)}": 1, f"channel|voice|{int(start + 86400)}": 1}  # ... sent again, once
    assert figures(buckets) == figures(batch_buckets(split(events)))
