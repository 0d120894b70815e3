"""``cc.interval-facts`` messages: a batch's deltas bundled per partition, each bucket kept on the
partition a keyed message would have gone to (so a deployment's buckets do not move), and the
per-bucket messages sent before bundles still read."""

from __future__ import annotations

import orjson
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.processing import (BUNDLE_BYTES, customer_facts, customer_facts_message, customer_facts_messages,
                                facts_groups, facts_message, facts_messages, partition_for)

_entry = st.builds(lambda n, o, i: orjson.dumps({"d": {"offered": n}, "s": "cc.contact-events:0", "o": o, "i": i}),
                   st.integers(-5, 5), st.integers(0, 10**9), st.integers(0, 99))
_bucket = st.builds(lambda q, start: f"queue|{q}|{start}", st.text(min_size=1, max_size=12), st.integers(0, 10**10))


@given(st.dictionaries(_bucket, st.lists(_entry, min_size=1, max_size=5), min_size=1, max_size=8))
def test_a_bundle_reads_back_as_its_buckets_entries_in_order(buckets: dict[str, list[bytes]]) -> None:
    groups = facts_groups(b"any", facts_message(buckets))
    assert [key for key, _ in groups] == list(buckets)
    assert [entries for _, entries in groups] == [[orjson.loads(e) for e in buckets[k]] for k in buckets]


@given(_bucket, st.integers(1, 64))
def test_a_bucket_goes_where_kafkas_default_partitioner_sends_its_key(key: str, partitions: int) -> None:
    assert partition_for(key, partitions) == DefaultPartitioner()(key.encode(), list(range(partitions)), None)


def test_the_messages_sent_before_bundles_still_read() -> None:
    entry = {"d": {"offered": 1}, "s": "cc.agent-events:2", "o": 7, "i": 0}
    assert facts_groups(b"queue|q1|900", orjson.dumps([entry, entry])) == [("queue|q1|900", [entry, entry])]
    assert facts_groups(b"queue|q1|900", orjson.dumps(entry)) == [("queue|q1|900", [entry])]


@given(st.lists(st.tuples(st.text(min_size=1, max_size=10),
                          st.fixed_dictionaries({"contact_id": st.text(max_size=8), "n": st.integers(0, 99)})),
                min_size=1, max_size=8))
def test_a_customer_bundle_reads_back_as_its_records_in_order(records: list[tuple[str, dict]]) -> None:
    message = customer_facts_message([(customer, orjson.dumps(record).decode()) for customer, record in records])
    assert customer_facts(b"any", message) == records


def test_a_customer_fact_sent_before_bundles_still_reads() -> None:
    record = {"contact_id": "c1", "n": 3, "w": 100.0, "wp": 1}
    assert customer_facts(b"cust-9", orjson.dumps(record)) == [("cust-9", record)]


@given(st.dictionaries(_bucket, st.lists(_entry, min_size=1, max_size=30), min_size=1, max_size=8),
       st.integers(60, 2000))
def test_a_bundle_over_the_budget_is_cut_into_messages_that_read_back_as_one(
        buckets: dict[str, list[bytes]], budget: int) -> None:
    """A catch-up batch's bundle reached 1.17 MB, over aiokafka's 1 MB request limit: bundles are cut
    into messages of at most ``budget`` bytes (an entry over it alone), read back in the same order."""
    messages = facts_messages(buckets, budget)
    cost = {(b, e): len(orjson.dumps(b)) + len(e) + 8 for b, es in buckets.items() for e in es}
    assert all(len(message) <= max(budget, max(cost.values())) + 16 for _, message in messages)
    read = [(bucket, entry) for key, message in messages for bucket, entries in facts_groups(key.encode(), message)
            for entry in entries]
    assert read == [(b, orjson.loads(e)) for b, es in buckets.items() for e in es]
    assert [key for key, _ in messages] == [facts_groups(None, m)[0][0] for _, m in messages]
    if sum(cost[b, e] for b, es in buckets.items() for e in es) <= budget:
        assert messages == [(next(iter(buckets)), facts_message(buckets))]


@given(st.lists(st.tuples(st.text(min_size=1, max_size=10),
                          st.fixed_dictionaries({"contact_id": st.text(max_size=8), "n": st.integers(0, 99)})),
                min_size=1, max_size=40), st.integers(40, 600))
def test_a_customer_bundle_over_the_budget_is_cut_in_order(records: list[tuple[str, dict]], budget: int) -> None:
    encoded = [(customer, orjson.dumps(record).decode()) for customer, record in records]
    messages = customer_facts_messages(encoded, budget)
    assert [pair for key, message in messages for pair in customer_facts(key.encode(), message)] == records
    assert [key for key, _ in messages] == [customer_facts(None, m)[0][0] for _, m in messages]
    longest = max(len(orjson.dumps(c)) + len(r.encode()) + 8 for c, r in encoded)
    assert all(len(message) <= max(budget, longest) + 16 for _, message in messages)


def test_the_default_budget_keeps_a_message_under_the_producers_request_limit() -> None:
    """1 MB is aiokafka's default ``max_request_size``: the budget leaves room for the key and headers."""
    entry = orjson.dumps({"d": {"offered": 1, "wait_answered_ms": 12345}, "s": "cc.contact-events:3", "o": 10**9, "i": 7})
    buckets = {f"queue|q{n}|{1_700_000_000 + 900 * n}": [entry] * 40 for n in range(2_000)}  # ~6 MB of entries
    messages = facts_messages(buckets)
    assert len(messages) > 1 and all(len(m) <= BUNDLE_BYTES + 16 for _, m in messages)
    assert sum(len(entries) for _, m in messages for _, entries in facts_groups(None, m)) == 80_000
