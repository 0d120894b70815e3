"""Interval pruning on a schedule: the same buckets close and go as when every bucket was walked.

Closing an interval (its final row to ``cc.interval-stats``) and deleting it after the retention used
to walk every stored bucket each 15 minutes of event time per partition; now each bucket is scheduled
for when it is next due (streams/schedule.py). The property: after any writes and prunings, the table
and the final rows are exactly what the walk over every bucket gives.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings as hsettings, strategies as st

from ccpulse.domain.intervals import BUCKET_SECONDS
from ccpulse.settings import Settings
from streams.processing import IntervalProcessor
from streams.schedule import FULL_WALK_EVERY

# (a retention that is not whole seconds: the deletion is due at the first whole second past it)
SETTINGS = Settings(auth_enabled=False, retention_days=0.2501, lateness_seconds=900, fcr_window_seconds=1800)
KEEP = SETTINGS.retention_days * 86400
SETTLE = BUCKET_SECONDS + SETTINGS.lateness_seconds + SETTINGS.fcr_window_seconds


class Message:
    def __init__(self, partition: int) -> None:
        self.partition = partition


class Event:  # what prune reads of a Faust event (a class: writing_for takes a weak reference)
    def __init__(self, partition: int) -> None:
        self.message = Message(partition)


class Rows:
    def __init__(self) -> None:
        self.rows: dict[str, Any] = {}

    def upsert(self, key: str, kind: str, row: Any) -> None:
        self.rows[key] = row


def processor(buckets: dict[str, Any]) -> IntervalProcessor:
    return IntervalProcessor(SETTINGS, buckets, None, None, Rows())  # type: ignore[arg-type]


def walk_everything(buckets: dict[str, Any], partition: int, newest: int) -> list[str]:
    """The rule as it was: every bucket of the partition judged at each pruning. Returns the keys closed."""
    closed = []
    for key, bucket in list(buckets.items()):
        if bucket["p"] != partition:
            continue
        start = int(key.rsplit("|", 1)[1])
        if start < newest - KEEP:
            del buckets[key]
        elif start + SETTLE <= newest and not bucket.get("final"):
            closed.append(key)
            buckets[key] = {**bucket, "final": True}
    return closed


write = st.tuples(st.just("write"), st.integers(0, 5), st.integers(0, 1), st.integers(0, 60))
prune = st.tuples(st.just("prune"), st.integers(0, 1), st.integers(0, 8))


@hsettings(max_examples=200, deadline=None)
@given(st.lists(write | prune, max_size=80))
def test_pruning_on_a_schedule_equals_walking_every_bucket(ops) -> None:
    scheduled: dict[str, Any] = {}
    walked: dict[str, Any] = {}
    p = processor(scheduled)
    newest = {0: 0, 1: 0}
    closed: list[str] = []
    for op in ops:
        if op[0] == "write":  # a batch wrote this bucket (an entity's 15 minutes, on its partition)
            _, entity, partition, slot = op
            key = f"queue|q{entity}-{partition}|{slot * BUCKET_SECONDS}"
            old = scheduled.get(key)
            bucket = {"c": {"offered": (old["c"]["offered"] if old else 0) + 1}, "tops": [], "p": partition,
                      **({"final": True} if old and old.get("final") else {})}
            scheduled[key], walked[key] = bucket, dict(bucket)
            newest[partition] = max(newest[partition], slot * BUCKET_SECONDS)
            p._schedule(key, bucket)
        else:  # the partition's newest bucket moved on by ``steps`` intervals, then a pruning
            _, partition, steps = op
            newest[partition] += steps * BUCKET_SECONDS
            p._newest[partition] = newest[partition]
            if newest[partition] - p._pruned_at.get(partition, 0) < BUCKET_SECONDS:
                continue  # prune judges a partition once per 15 minutes of event time
            p.prune([Event(partition)])
            closed += walk_everything(walked, partition, newest[partition])
        assert scheduled == walked
        assert sorted(key for key, _ in p.final_rows) == sorted(closed)


def test_between_full_walks_pruning_visits_only_the_buckets_due() -> None:
    buckets = {f"queue|q{n}|{n * BUCKET_SECONDS}": {"c": {}, "tops": [], "p": 0} for n in range(200)}
    p = processor(buckets)
    visits = {"n": 0}
    due = p._schedule_of.due

    def counting(marks: dict[int, float]) -> list[tuple[str, Any]]:
        out = due(marks)
        visits["n"] = len(out)
        return out

    p._schedule_of.due = counting  # type: ignore[method-assign]
    p._newest[0] = BUCKET_SECONDS
    p.prune([Event(0)])
    assert visits["n"] == 200  # the first pruning walks the partition
    for step in range(2, FULL_WALK_EVERY + 2):  # FULL_WALK_EVERY prunings after the walk
        p._newest[0] = step * BUCKET_SECONDS
        p.prune([Event(0)])
        # each 15 minutes one more bucket is due to close, and (after the retention) one to go: only
        # those are visited
        newest = step * BUCKET_SECONDS
        closing = [n for n in range(200) if n * BUCKET_SECONDS + SETTLE == newest]
        going = [n for n in range(200) if n * BUCKET_SECONDS < newest - KEEP <= (n + 1) * BUCKET_SECONDS]
        assert visits["n"] == len(closing) + len(going), step
    p._newest[0] = (FULL_WALK_EVERY + 2) * BUCKET_SECONDS
    stored = len(buckets)
    p.prune([Event(0)])
    assert visits["n"] == stored > 0  # and then every stored bucket again
