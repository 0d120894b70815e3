"""The whole stream topology in one place: topics, tables, agents, timers.

    cc.contact-events ─┐                                   ┌─> cc.read-model (contact, recent rows)
    cc.survey-events ──┴─> contacts ─> cc.interval-facts ─> intervals ─> cc.read-model (interval rows)
                              └──────> cc.customer-facts ─> customers (FCR) ─> cc.interval-facts
    cc.agent-events ─────> agents ─┬─> cc.interval-facts (time in state) ─> intervals
                                   └─> cc.read-model (agent rows)
    cc.customer-events ─┬─> retention (per customer) ─> cc.read-model (retention rows)
    cc.customer-facts ──┘   (contacts' breaches and NPS answers, from contacts)
    closed intervals ─> cc.interval-stats (for warehouses)
    leader: whole read model ─> SLA rules every second ─> cc.alerts (+ webhook)
    raw Amazon Connect topic (when set) ─> translation ─> the contract topics above
    any rejected message ─> cc.deadletter

Agents here only read a stream and delegate to a processor (streams/processing.py),
which delegates every rule to the pure core (ccpulse/domain/).
"""

from __future__ import annotations

import logging
from typing import Any

import faust
import orjson
from faust.types import TP

from ccpulse.readmodel.consumer import ReadModelConsumer
from ccpulse.readmodel.keys import worker_row_key
from ccpulse.settings import get_settings
from streams.alerting import AlertEvaluator
from streams.connectors import AmazonConnectTranslator
from streams import faust_internals, ordering
from streams.app import app
from streams.processing import (AgentProcessor, ContactProcessor, CustomerProcessor, Fanout, IntervalProcessor,
                                RetentionProcessor, changelog_acknowledged, watch_changelog)
from streams.readmodel import ReadModelPublisher
from streams.stats import WorkerStats

__all__ = ["app"]

log = logging.getLogger("ccpulse.worker")
settings = get_settings()
topics = settings.topics
BATCH, WITHIN = 1000, 0.05

# ---- topics -------------------------------------------------------------------------------
contact_sources = app.topic(topics.contact_events, topics.survey_events, partitions=settings.partitions)
agent_events = app.topic(topics.agent_events, partitions=settings.partitions)
interval_facts = app.topic(topics.interval_facts, partitions=settings.partitions)
customer_facts = app.topic(topics.customer_facts, partitions=settings.partitions)
# Co-partitioned by customer id: the retention agent reads both (customer_agent reads the facts too).
customer_sources = app.topic(topics.customer_events, topics.customer_facts, partitions=settings.partitions)
interval_stats = app.topic(topics.interval_stats, partitions=settings.partitions, compacting=True)
alerts = app.topic(topics.alerts, partitions=1, compacting=True)
read_model = app.topic(topics.read_model, partitions=settings.partitions, compacting=True)
deadletter = app.topic(topics.deadletter, partitions=1)

# ---- tables (changelogged; memory:// in tests, rocksdict:// in production) -------------------
contacts = app.Table("contacts", partitions=settings.partitions)
agent_states = app.Table("agents", partitions=settings.partitions)
watermarks = app.Table("watermarks", partitions=settings.partitions)  # no default: a missing key reads as None
buckets = app.Table("buckets", partitions=settings.partitions)
customers = app.Table("customers", partitions=settings.partitions)
retention = app.Table("retention", partitions=settings.partitions)

for _table in (contacts, agent_states, watermarks, buckets, customers, retention):
    watch_changelog(_table)

# Each input partition is processed in offset order, without gaps (streams/ordering.py).
ordering.install(settings.kafka_servers)
input_order = ordering.InputOrder(app, topics={topics.contact_events, topics.survey_events, topics.agent_events,
                                               topics.customer_events, topics.customer_facts, topics.interval_facts})
# The retention agent reads cc.customer-facts too (as customer_agent does): its own bookkeeping.


@app.on_partitions_revoked.connect
async def forget_revoked(sender, revoked, **kwargs):  # type: ignore[no-untyped-def]
    input_order.forget(revoked)


publisher = ReadModelPublisher(read_model)
stats = WorkerStats()


def highwater(topic: str, partition: int) -> int | None:
    """The end offset of ``topic``[``partition``] as the worker's consumer last fetched it (None: not yet)."""
    try:
        return app.consumer.highwater(TP(topic, partition))
    except Exception:  # not started, or the partition not assigned (any more)
        return None


contact_processor = ContactProcessor(settings, contacts, watermarks, interval_facts, customer_facts, deadletter, publisher,
                                     highwater)
customer_processor = CustomerProcessor(settings, customers, interval_facts, deadletter, publisher)
agent_processor = AgentProcessor(settings, agent_states, watermarks, interval_facts, deadletter, publisher)
interval_processor = IntervalProcessor(settings, buckets, interval_stats, deadletter, publisher)
retention_processor = RetentionProcessor(settings, retention, watermarks, deadletter, publisher)
contact_processor.stats = agent_processor.stats = retention_processor.stats = stats  # one worker, one set of counters


# ---- agents: read a stream, delegate --------------------------------------------------------
async def drive(stream: faust.StreamT, order: ordering.InputOrder, processor: Any) -> None:
    """Hand ``stream``'s batches, in offset order, to ``processor``; the changelog writes a batch makes
    are acknowledged before its offsets can be committed."""
    async for batch in stream.take_events(BATCH, within=WITHIN):
        batch = await order.admit(batch)
        if not batch:
            continue
        try:
            async with changelog_acknowledged():
                await processor.process(batch)
        except BaseException:
            # Cancelled (a stop, a rebalance) or crashed mid-batch: Faust's take_events acknowledges
            # the whole batch when it is closed anyway, and a stopping worker then commits past
            # events it never finished. Leave them unacknowledged: the next owner reads them again.
            faust_internals.leave_uncommitted(batch)
            raise


@app.agent(contact_sources, concurrency=1)
async def contact_agent(stream):  # type: ignore[no-untyped-def]
    await drive(stream, input_order, contact_processor)


@app.agent(agent_events, concurrency=1)
async def agent_state_agent(stream):  # type: ignore[no-untyped-def]
    await drive(stream, input_order, agent_processor)


if settings.connectors.amazon_connect.raw_topic:
    amazon_connect_raw = app.topic(settings.connectors.amazon_connect.raw_topic)
    amazon_connect_translator = AmazonConnectTranslator(app, settings)

    @app.agent(amazon_connect_raw, concurrency=1)
    async def amazon_connect_agent(stream):  # type: ignore[no-untyped-def]
        async for batch in stream.take_events(BATCH, within=WITHIN):
            await amazon_connect_translator.process(batch)


@app.agent(customer_sources, concurrency=1)
async def customer_agent(stream):  # type: ignore[no-untyped-def]
    # One stream for both readers of cc.customer-facts: two input-order guards seeking one
    # consumer's partitions to different offsets would fight (and could skip a range).
    await drive(stream, input_order, Fanout((customer_processor, {topics.customer_facts}), (retention_processor, None)))


@app.agent(interval_facts, concurrency=1)
async def interval_agent(stream):  # type: ignore[no-untyped-def]
    await drive(stream, input_order, interval_processor)


# ---- timers and hooks -----------------------------------------------------------------------
@app.timer(settings.publish_interval_seconds)
async def flush_read_model() -> None:
    await publisher.flush()


@app.timer(2.0)
async def reread_stalled_partitions() -> None:
    """Partitions whose last messages Faust dropped unseen are read again (streams/ordering.py)."""
    await input_order.check_stalled()


@app.timer(5.0)
async def publish_worker_stats() -> None:
    publisher.upsert(worker_row_key(stats.worker_id), "worker", stats.row())


# ---- real-time SLA breach detection (leader only; see streams/alerting.py) --------------------
alert_store = ReadModelConsumer(settings)


async def publish_alert(alert_id: str, record: dict) -> None:
    await alerts.send(key=alert_id.encode(), value=orjson.dumps(record))


evaluator = AlertEvaluator(settings, alert_store, publish_alert)


@app.task
async def start_alert_store() -> None:
    alert_store.start()


@app.timer(settings.alert_interval_seconds, on_leader=True)
async def evaluate_alerts() -> None:
    try:
        await evaluator.evaluate()
    except Exception:  # a bug here must not stop the worker's stream processing
        log.exception("alert evaluation failed")


def _owned_partitions(topic: str) -> set[int]:
    """Partitions of ``topic`` this worker is assigned now (after a rebalance)."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


@buckets.on_recover
async def republish_intervals() -> None:
    interval_processor.republish_all(_owned_partitions(topics.interval_facts))


@contacts.on_recover
async def republish_contacts() -> None:
    contact_processor.republish_all(_owned_partitions(topics.contact_events))


@agent_states.on_recover
async def republish_agents() -> None:
    agent_processor.republish_all(_owned_partitions(topics.agent_events))


@retention.on_recover
async def republish_retention() -> None:
    retention_processor.republish_all()
