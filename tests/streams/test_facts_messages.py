"""``cc.interval-facts`` messages: a batch's deltas bundled per partition, each bucket kept on the
partition a keyed message would have gone to (so a deployment's buckets do not move), and the
per-bucket messages sent before bundles still read."""

from __future__ import annotations

import orjson
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.processing import customer_facts, customer_facts_message, facts_groups, facts_message, partition_for

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
