"""What one interval pruning costs as the stored buckets grow: a walk over every bucket (the rule
before streams/schedule.py) against the schedule.

    python -m bench.prune [--entities 1000,10000]

Fills an in-memory bucket table with ``entities`` x 8 days of 15-minute buckets on 4 partitions
(the default retention), then times, for one partition, the walk the pruning used to make each 15
minutes of event time, and 20 prunings on the schedule (closing and deleting what is due each 15
minutes, final rows included). The worker lines of ``ccpulse bench`` hold too few buckets to show
it (docs/performance.md, "Interval pruning on a schedule").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from ccpulse.domain.intervals import BUCKET_SECONDS
from ccpulse.settings import Settings
from streams.processing import IntervalProcessor

__all__ = ["main"]

PARTITIONS = 4


class _Message:
    def __init__(self, partition: int) -> None:
        self.partition = partition


class _Event:  # what a pruning reads of a Faust event
    def __init__(self, partition: int) -> None:
        self.message = _Message(partition)


class _NoRows:
    def upsert(self, key: str, kind: str, row: Any) -> None:
        pass


def measure(entities: int, settings: Settings) -> tuple[int, float, float]:
    """(buckets stored, seconds of the walk over every bucket, median seconds of a scheduled pruning)."""
    slots = int(settings.retention_days * 86400 // BUCKET_SECONDS)
    buckets = {f"agent|a{e}|{b * BUCKET_SECONDS}": {"c": {"handled": 1}, "tops": [], "p": e % PARTITIONS}
               for e in range(entities) for b in range(slots)}
    stored = len(buckets)
    keep = settings.retention_days * 86400
    settle = BUCKET_SECONDS + settings.lateness_seconds + settings.fcr_window_seconds
    newest = slots * BUCKET_SECONDS
    began = time.perf_counter()
    for key, bucket in list(buckets.items()):  # the old rule's judgement of every bucket of partition 0
        if bucket.get("p") != 0:
            continue
        start = int(key.rsplit("|", 1)[1])
        _ = start < newest - keep or (start + settle <= newest and not bucket.get("final"))
    walk = time.perf_counter() - began
    processor = IntervalProcessor(settings, buckets, None, None, _NoRows())  # type: ignore[arg-type]
    processor._newest[0] = newest
    processor.prune([_Event(0)])  # the first pruning after a start walks the partition and schedules
    times = []
    for step in range(1, 21):
        processor._newest[0] = newest + step * BUCKET_SECONDS
        began = time.perf_counter()
        processor.prune([_Event(0)])
        times.append(time.perf_counter() - began)
    return stored, walk, statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", default="1000,10000", help="comma-separated entity counts (default: 1000,10000)")
    args = parser.parse_args(argv)
    settings = Settings(auth_enabled=False)
    rows = []
    for entities in (int(n) for n in args.entities.split(",")):
        print(f"bench.prune: {entities:,} entities x {settings.retention_days:g} days…", file=sys.stderr, flush=True)
        rows.append(measure(entities, settings))
    print("| buckets stored | walk over every bucket (one partition) | pruning on the schedule (median of 20) |")
    print("|---|---|---|")
    for stored, walk, scheduled in rows:
        print(f"| {stored:,} | {walk * 1000:,.0f} ms | {scheduled * 1000:,.1f} ms |")
    print(f"bench.prune: {len(rows)} sizes; at {rows[-1][0]:,} buckets the schedule is "
          f"{rows[-1][1] / rows[-1][2]:,.0f}x cheaper per pruning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
