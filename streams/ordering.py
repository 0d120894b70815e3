"""Every input partition is processed in offset order, without gaps (a guard around Faust's consumer).

ccpulse's idempotence (docs/architecture.md) assumes that a worker processes each partition's
messages in offset order: a redelivered message after a crash is recognised by its
(partition, offset) and the interval side skips deltas at or below a per-source high-water mark.
faust-streaming 0.15 does not always deliver that order. Around a restart or a rebalance its fetch
loop can drop messages it had already handed to a stream whose buffers were then cleared, go on
with later ones, and — because it then records the dropped range as an offset *gap* — commit past
them. Seen in tests/integration/test_reliability.py: after ``kill -9`` and a restart a worker went
on at offset 27 after offset 12 of every partition; the skipped events were never counted, or
were counted later, out of order, under sequence numbers the buckets had already passed.

:class:`InputOrder` sits between a Faust stream and a processor. It remembers, per input
partition, the next offset due (from the group's committed offset when a partition is first
seen). A message beyond it is not processed and not acknowledged (so it cannot be committed); the
partition is sought back to the offset due, and reading goes on from there in order. When the
re-read skips the same range again, the broker itself is asked (a fetch at the offset due, by a
consumer of its own): only if it holds nothing there is the range a real gap (e.g. a transactional
producer's commit markers) and accepted; otherwise the partition is read again. Faust can drop the
same message twice in a row around a restart, so the stream alone is no proof. Faust's own gap
bookkeeping is switched off (:func:`install`) so only this guard lets offsets be committed over a
gap.

A seek back only helps if Faust hands the re-read messages over. Its fetch loop drops every
message at or below the offset it last handed to a stream, and the messages of a fetch already in
flight when the guard seeks (they were early, and are held) move that mark past the offset sought
back to: the re-read range was then dropped, the partition waited for an offset that never came
again, and its later messages were held for good (a worker that stopped processing a partition
after a restart: tests/integration/test_reliability.py, issue #9). :func:`install` therefore
switches that drop off; the guard alone decides (a message at or below the offset due is a
redelivery, which processing recognises). A partition still held a while after its seek is sought
back once more.

:func:`install` also makes table recovery read each changelog to its true end. Faust stops
recovering a changelog partition at the end offset the broker lists; the embedded Tansu broker
lists the start of the partition's last *batch* plus one (five records produced in one batch leave
it four short), so every restart or rebalance on it silently lost the last table writes of each
changelog partition. The end of a partition is taken as the larger of the listed end offset and
the high watermark a fetch of its last record reports (the same value on Apache Kafka).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import faust_internals

__all__ = ["InputOrder", "committed_or_first_offset", "first_offset_from", "install", "true_end_offsets"]

log = logging.getLogger("ccpulse.worker")


@contextlib.asynccontextmanager
async def _probe(servers: str, partitions: Sequence[TopicPartition], group: str | None = None) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer of its own assigned ``partitions``, to ask the broker. It never commits; with a
    ``group`` it can read that group's committed offsets (assigned by hand, it does not join it)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=group, enable_auto_commit=False)
    try:
        await consumer.start()
        consumer.assign(list(partitions))
        yield consumer
    finally:  # also when start() failed: an unreachable broker must not leave a consumer open
        await consumer.stop()


async def true_end_offsets(servers: str, ends: Mapping[Any, int], timeout: float = 10.0) -> dict[Any, int]:
    """``ends`` (listed end offsets by partition), raised to the high watermark a fetch reports."""
    out = dict(ends)
    probe = {tp: end for tp, end in ends.items() if end is not None and end > 0}
    if not probe:
        return out
    partitions = {tp: TopicPartition(tp.topic, tp.partition) for tp in probe}
    async with _probe(servers, list(partitions.values())) as consumer:
        for tp, end in probe.items():
            consumer.seek(partitions[tp], end - 1)
        deadline = time.monotonic() + timeout
        waiting = set(probe)
        while waiting and time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=200)
            waiting = {tp for tp in waiting if consumer.highwater(partitions[tp]) is None}
        if waiting:
            raise TimeoutError(f"no fetch answer for {sorted(map(str, waiting))[:3]} within {timeout:.0f} s")
        for tp in probe:
            out[tp] = max(probe[tp], consumer.highwater(partitions[tp]) or 0)
    return out


async def first_offset_from(servers: str, tp: Any, offset: int, timeout: float = 10.0) -> int | None:
    """The offset of the first record the broker returns for ``tp`` from ``offset`` on; None if it
    returns none within ``timeout`` (nothing there yet, or no answer)."""
    partition = TopicPartition(tp.topic, tp.partition)
    async with _probe(servers, [partition]) as consumer:
        consumer.seek(partition, offset)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = (await consumer.getmany(partition, timeout_ms=200)).get(partition)
            if records:
                return min(r.offset for r in records)
    return None


async def committed_or_first_offset(servers: str, group: str, tp: Any) -> int:
    """``group``'s committed offset of ``tp``, or the first offset the partition holds if it has none."""
    partition = TopicPartition(tp.topic, tp.partition)
    async with _probe(servers, [partition], group) as consumer:
        committed = await consumer.committed(partition)
        if committed is not None and committed >= 0:
            return committed
        return (await consumer.beginning_offsets([partition]))[partition]


_servers: str | None = None  # set by install()


def install(servers: str) -> None:
    """Switch off Faust's gap bookkeeping and its dropping of messages it thinks already read, and
    make recovery read changelogs to their true end (see the module docstring; the patches are in
    streams/faust_internals.py). ``servers``: Kafka bootstrap servers. Idempotent; consumers created
    afterwards are affected."""
    global _servers
    _servers = servers
    faust_internals.stop_gap_bookkeeping()
    faust_internals.stop_read_offset_filter()

    async def true_ends(ends: Mapping[Any, int]) -> Mapping[Any, int]:
        try:
            return await true_end_offsets(servers, ends)
        except Exception as exc:  # never worse than Faust alone
            log.warning("cannot check the changelogs' end offsets (%s); using the listed ones", exc)
            return ends

    faust_internals.extend_changelog_ends(true_ends)


class InputOrder:
    """Admits the events of a batch that continue their partition in order (see the module docstring)."""

    def __init__(self, app: faust.App, topics: set[str] | None = None) -> None:
        self.app = app
        self.topics = topics or set()  # the input topics it guards (for check_stalled)
        self.active_at: float | None = None  # when a message last reached admit() (monotonic)
        self.due: dict[Any, int] = {}  # tp -> next offset to process
        self.reread: dict[Any, tuple[int, int]] = {}  # tp -> (offset sought back to, offset that was early)
        self.sought: dict[Any, float] = {}  # tp -> when it was last sought back (time.monotonic())
        self.reseek_after = 5.0  # seconds a partition may stay held after a seek before it is sought again

    def forget(self, tps: Any) -> None:
        """Partitions revoked in a rebalance: whoever owns them next starts from the committed offset."""
        for tp in tps:
            self.due.pop(tp, None)
            self.reread.pop(tp, None)
            self.sought.pop(tp, None)

    async def _start(self, tp: Any) -> int | None:
        """Where ``tp`` continues: the group's committed offset, or the partition's first offset when
        the group never committed one. Faust only knows a committed offset above 0, and a stream may
        hand over a partition's first message from anywhere (a restart or a rebalance before the
        first commit): the broker is asked then. None only when it gives no answer (admit as before)."""
        committed = faust_internals.committed_offset(self.app.consumer, tp)
        if isinstance(committed, int) and committed > 0:
            return committed
        if _servers is None:
            return None
        try:
            return await committed_or_first_offset(_servers, self.app.conf.id, tp)
        except Exception as exc:
            log.warning("cannot ask the broker where %s[%s] starts (%s)", tp.topic, tp.partition, exc)
            return None

    async def admit(self, events: Sequence[faust.EventT]) -> list[faust.EventT]:
        admitted: list[faust.EventT] = []
        held: set[Any] = set()  # partitions whose rest of this batch waits for the re-read
        self.active_at = time.monotonic()
        for ev in events:
            message = ev.message
            tp, offset = message.tp, message.offset
            if tp in held:
                self._hold(ev)
                continue
            due = self.due.get(tp)
            if due is None:
                due = await self._start(tp)
            if due is None or offset <= due:  # the next one, or a redelivery (processing is idempotent)
                self.due[tp] = max(offset + 1, due or 0)
                if offset == due:
                    self.reread.pop(tp, None)
                admitted.append(ev)
                continue
            if self.reread.get(tp) == (due, offset):
                # Read again from ``due`` and the next offset is still ``offset``: a real gap only if
                # the broker holds nothing from ``due`` up to it.
                first = await self._first_offset_from(tp, due)
                if first is not None and first >= offset:
                    log.info("%s[%s]: no messages at offsets %d..%d; going on at %d", tp.topic, tp.partition, due, offset - 1, offset)
                    await faust_internals.record_gap(self.app.consumer, tp, due, offset)
                    self.reread.pop(tp, None)
                    self.due[tp] = offset + 1
                    admitted.append(ev)
                    continue
                log.warning("%s[%s]: offset %d was skipped again (the broker has offset %s there); reading again from %d",
                            tp.topic, tp.partition, due, first, due)
                await self._seek(tp, due)
                held.add(tp)
                self._hold(ev)
                continue
            if self.reread.get(tp, (None,))[0] != due:
                log.warning("%s[%s]: the consumer delivered offset %d while %d is due; reading again from %d",
                            tp.topic, tp.partition, offset, due, due)
                self.reread[tp] = (due, offset)
                await self._seek(tp, due)
            elif time.monotonic() - self.sought.get(tp, 0.0) > self.reseek_after:
                log.warning("%s[%s]: offset %d still not delivered %.0f s after reading again from it; seeking again",
                            tp.topic, tp.partition, due, self.reseek_after)
                await self._seek(tp, due)
            held.add(tp)
            self._hold(ev)
        return admitted

    async def check_stalled(self, quiet: float = 5.0) -> list[Any]:
        """Read again the partitions whose messages never came (returns them).

        Faust's fetch loop silently drops the records of a partition it does not count as active at
        that moment (around a restart or a rebalance), while the consumer's position moves past them.
        :meth:`admit` notices such a skip when a later message of the partition arrives; at the end of
        a partition none does, and it would stay unprocessed (seen after ``kill -9`` restarts: an
        agent's last state changes, alone on their partition, never applied; issue #9). So: when no
        message at all has come for ``quiet`` seconds, a guarded partition whose end lies beyond the
        offset due is sought back to it. Only an idle worker is judged: under a backlog a partition
        can wait its turn far longer (a topic-by-topic test re-read busy partitions over and over).
        Idempotent if the messages were merely slow (a redelivery is recognised).
        """
        app = self.app
        if getattr(app, "rebalancing", False) or getattr(app, "in_recovery", False):
            return []
        now = time.monotonic()
        if self.active_at is None:
            self.active_at = now  # nothing came yet: the quiet period starts at the first check
        if now - self.active_at < quiet:
            return []
        consumer = app.consumer
        sought = []
        for tp in sorted(consumer.assignment(), key=lambda t: (t.topic, t.partition)):
            if tp.topic not in self.topics or now - self.sought.get(tp, 0.0) < quiet:
                continue
            try:
                end = consumer.highwater(tp)
            except Exception:  # not fetched yet, or no longer assigned
                continue
            if not end:
                continue
            due = self.due.get(tp)
            if due is None:
                due = await self._start(tp)
                if due is None:
                    continue
                self.due[tp] = due  # what admit() would ask for first: not asked again next tick
            if end <= due:
                continue
            log.warning("%s[%s]: offsets %d..%d were never delivered (the worker was idle %.0f s); reading again from %d",
                        tp.topic, tp.partition, due, end - 1, quiet, due)
            await self._seek(tp, due)
            sought.append(tp)
        return sought

    async def _seek(self, tp: Any, offset: int) -> None:
        self.sought[tp] = time.monotonic()
        await self.app.consumer.seek_wait({tp: offset})

    async def _first_offset_from(self, tp: Any, offset: int) -> int | None:
        if _servers is None:
            return None
        try:
            return await first_offset_from(_servers, tp, offset)
        except Exception as exc:  # no answer: not a proof of a gap
            log.warning("cannot ask the broker about %s[%s]@%d (%s)", tp.topic, tp.partition, offset, exc)
            return None

    @staticmethod
    def _hold(ev: faust.EventT) -> None:
        """Leave a message out without acknowledging it: its offset must not be committed."""
        faust_internals.leave_uncommitted([ev])
