"""``ccpulse replay FILE``: send a JSONL file of contract events to Kafka in file order.

Recorded or hand-written traffic is the easiest way to reproduce a figure. Each
line is validated with the contract's own :func:`schemas.events.decode_event` so
that a typo is reported here, with its line number, instead of ending up in the
dead-letter topic; valid lines are sent *byte for byte* (never re-serialised), so
what the workers see is exactly what the file says.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccpulse.simulate import parse_speed, quiet_kafka_logs, until_signalled
from schemas.events import EventRejected, decode_event, entity_key

if TYPE_CHECKING:
    from ccpulse.settings import Settings

__all__ = ["MAX_SHOWN_REJECTS", "Reject", "ReplaySummary", "add_arguments", "replay_file", "run"]

#: Rejected lines reported one by one; the rest are only counted.
MAX_SHOWN_REJECTS = 10
PROGRESS_SECONDS = 5.0


@dataclass(frozen=True)
class Reject:
    """A line that was not sent: its 1-based number and ``decode_event``'s reason."""

    line: int
    reason: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.message}"


@dataclass
class ReplaySummary:
    """Outcome of a replay: sent and rejected counts and the first rejects in detail."""

    path: str
    sent: int = 0
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)  # the first MAX_SHOWN_REJECTS
    seconds: float = 0.0
    interrupted: bool = False

    def line(self) -> str:
        see = " (see above)" if self.rejected else ""
        stopped = " (stopped)" if self.interrupted else ""
        return (f"ccpulse replay: sent {self.sent:,} events, rejected {self.rejected:,}{see} from {self.path} "
                f"in {self.seconds:.1f} s{stopped}")


class _Pacer:
    """Waits so that events go out ``speed``× as fast as their event times advance."""

    def __init__(self, speed: float) -> None:
        self.speed = speed if speed > 0 and math.isfinite(speed) else 0.0
        self.anchor: tuple[float, float] | None = None  # (first event time, monotonic time)

    async def wait(self, at: float) -> None:
        if not self.speed:
            return
        if self.anchor is None:
            self.anchor = (at, time.monotonic())
        delay = self.anchor[1] + (at - self.anchor[0]) / self.speed - time.monotonic()
        if delay > 0:  # an event earlier than its predecessor goes out at once
            await asyncio.sleep(delay)


async def replay_file(path: str | Path, settings: Settings, servers: str, speed: float = 0,
                      progress: Callable[[ReplaySummary], None] | None = None,
                      on_reject: Callable[[Reject], None] | None = None) -> ReplaySummary:
    """Validate and send every line of ``path`` to its topic, keyed by its entity id, in file order.

    Invalid lines are counted (the first ``MAX_SHOWN_REJECTS`` kept in the summary and
    passed to ``on_reject``) and not sent. ``speed`` > 0 paces by event time. Raises
    ``FileNotFoundError`` and :class:`ccpulse.kafka.KafkaUnreachable`; cancellation stops
    the replay after flushing what was sent.
    """
    from aiokafka.errors import KafkaError

    from ccpulse.kafka import KafkaUnreachable, ensure_topics, start_producer, topic_for_type

    summary = ReplaySummary(path=str(path))
    started = last_progress = time.monotonic()
    with open(path, "rb") as lines:  # a missing file fails before anything connects
        await ensure_topics(settings, servers)
        producer = await start_producer(servers)
        pacer = _Pacer(speed)
        pending: list[asyncio.Future[Any]] = []
        try:
            try:
                for number, raw in enumerate(lines, 1):
                    value = raw.rstrip(b"\r\n")
                    if not value.strip():
                        continue
                    try:
                        event = decode_event(value)
                    except EventRejected as exc:
                        summary.rejected += 1
                        if len(summary.rejects) < MAX_SHOWN_REJECTS:
                            reject = Reject(number, exc.reason, exc.message)
                            summary.rejects.append(reject)
                            if on_reject is not None:
                                on_reject(reject)
                        continue
                    await pacer.wait(event.at)
                    topic = topic_for_type(settings, event.type)
                    pending.append(await producer.send(topic, value, key=entity_key(event).encode()))
                    summary.sent += 1
                    if len(pending) >= 1000:
                        await asyncio.gather(*pending)
                        pending.clear()
                    now = time.monotonic()
                    if progress is not None and now - last_progress >= PROGRESS_SECONDS:
                        last_progress, summary.seconds = now, now - started
                        progress(summary)
                await asyncio.gather(*pending)
            except (asyncio.CancelledError, KeyboardInterrupt):
                summary.interrupted = True
            finally:
                await producer.stop()  # flushes what is still buffered
        except KafkaError as exc:
            raise KafkaUnreachable(servers) from exc
    summary.seconds = time.monotonic() - started
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="JSONL file: one contract event per line")
    parser.add_argument("--speed", type=parse_speed, default=0.0,
                        help="pace by event time: 1 = real time, 60 = a minute per second (default 0: as fast as possible)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``ccpulse replay``: exit 0 when every line was sent, 1 if any was rejected, 2 on a usage or Kafka problem."""
    from ccpulse.kafka import KafkaUnreachable

    path: Path = args.file
    if not path.is_file():
        print(f"ccpulse: no such file: {path}", file=sys.stderr)
        return 2

    def show_reject(reject: Reject) -> None:
        print(f"ccpulse replay: {reject}", file=sys.stderr, flush=True)

    def show_progress(summary: ReplaySummary) -> None:
        print(f"ccpulse replay: {summary.sent:,} sent, {summary.rejected:,} rejected so far "
              f"({summary.sent / max(summary.seconds, 1e-9):,.0f} events/s)", file=sys.stderr, flush=True)

    quiet_kafka_logs(settings)
    try:
        summary = asyncio.run(until_signalled(
            replay_file(path, settings, settings.kafka_servers, args.speed, show_progress, show_reject)))
    except asyncio.CancelledError:  # stopped while still connecting: nothing was sent
        return 130
    except KafkaUnreachable as exc:
        print(f"ccpulse: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ccpulse: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    hidden = summary.rejected - len(summary.rejects)
    if hidden > 0:
        print(f"ccpulse replay: … and {hidden:,} more rejected lines not shown", file=sys.stderr)
    print(summary.line(), file=sys.stderr, flush=True)
    return 1 if summary.rejected else 0
