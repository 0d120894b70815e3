"""``ccpulse connect <platform>``: read a platform's own records and produce contract events.

    ccpulse connect asterisk --queue-log /var/log/asterisk/queue_log --follow
    ccpulse connect amazon-connect --input events.jsonl        (or - for stdin)

Twilio TaskRouter calls ccpulse instead (``POST /api/v1/connectors/twilio/taskrouter``), and
Amazon Connect can too (``POST /api/v1/connectors/amazon-connect``): see docs/connectors.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from ccpulse.settings import Settings

__all__ = ["add_arguments", "run"]

EPILOG = """connectors:
  asterisk        the queue_log of Asterisk (FreePBX, Issabel, VICIdial, Wazo), once or following it
  amazon-connect  Amazon Connect contact events and agent event stream records (JSON lines)
  twilio          no command: point the TaskRouter workspace's Event Callback URL at
                  https://<ccpulse-api>/api/v1/connectors/twilio/taskrouter (docs/connectors.md)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    sub = parser.add_subparsers(dest="platform", required=True, metavar="PLATFORM")
    asterisk = sub.add_parser("asterisk", help="read an Asterisk queue_log (file or realtime CSV export)",
                              description="Map an Asterisk queue_log to contract events (docs/connectors.md).")
    asterisk.add_argument("--queue-log", type=Path, required=True, metavar="PATH",
                          help="the queue_log file, e.g. /var/log/asterisk/queue_log, or a CSV export of the queue_log table")
    asterisk.add_argument("--follow", action="store_true",
                          help="keep reading as Asterisk appends (like tail -F: survives rotation and restarts)")
    asterisk.add_argument("--from-start", action="store_true",
                          help="with --follow and no saved position: read the file from its start (default: its end)")
    asterisk.add_argument("--state-file", type=Path, default=None,
                          help="where the read position is kept (default: under CCPULSE_DATA_DIR)")
    asterisk.add_argument("--timezone", default=None,
                          help="zone of date-times without an offset in a CSV export (default CCPULSE_TIMEZONE)")
    amazon = sub.add_parser("amazon-connect", help="read Amazon Connect contact events / agent event stream (JSON lines)",
                            description="Map Amazon Connect EventBridge contact events and Kinesis agent event stream "
                                        "records, one JSON object per line, to contract events (docs/connectors.md).")
    amazon.add_argument("--input", required=True, metavar="FILE|-", help="JSON lines file, or - for standard input")


def _fail(message: str) -> int:
    print(f"ccpulse: {message}", file=sys.stderr)
    return 2


def default_state_file(settings: Settings, queue_log: Path) -> Path:
    digest = hashlib.sha256(str(queue_log.resolve()).encode()).hexdigest()[:12]
    return settings.data_dir / f"connect-asterisk-{digest}.json"


async def _asterisk(args: argparse.Namespace, settings: Settings) -> int:
    from ccpulse.connectors.asterisk import QueueLogMapper
    from ccpulse.connectors.sink import Sink
    from ccpulse.connectors.tail import FollowSummary, QueueLogFollower
    from ccpulse.kafka import ensure_topics, start_producer

    zone = ZoneInfo(args.timezone or settings.timezone)
    await ensure_topics(settings)
    producer = await start_producer(settings.kafka_servers)
    mapper = QueueLogMapper(settings.connectors.asterisk)
    sink = Sink(settings, producer, f"asterisk:{args.queue_log}")

    def progress(summary: FollowSummary) -> None:
        print(summary.line(sink, mapper), file=sys.stderr, flush=True)

    follower = QueueLogFollower(args.queue_log, args.state_file or default_state_file(settings, args.queue_log), mapper,
                                sink, follow=args.follow, from_start=args.from_start, zone=zone, progress=progress)
    try:
        summary = await follower.run()
    except asyncio.CancelledError:
        summary = follower.summary
    finally:
        try:
            await sink.flush()
        finally:
            await producer.stop()
    print(follower.summary.line(sink, mapper), file=sys.stderr, flush=True)
    return 0 if summary is not None else 1


async def _amazon_connect(args: argparse.Namespace, settings: Settings) -> int:
    from ccpulse.connectors.amazon_connect import run_lines

    return await run_lines(args.input, settings)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ccpulse.kafka import KafkaUnreachable
    from ccpulse.simulate import quiet_kafka_logs, until_signalled

    quiet_kafka_logs(settings)
    if args.platform == "asterisk":
        if not args.queue_log.is_file():
            return _fail(f"no such file: {args.queue_log} (give the queue_log path with --queue-log)")
        if args.timezone:
            try:
                ZoneInfo(args.timezone)
            except Exception:
                return _fail(f"unknown time zone {args.timezone!r} (e.g. UTC, Europe/Berlin)")
        work = _asterisk(args, settings)
    else:
        if args.input != "-" and not Path(args.input).is_file():
            return _fail(f"no such file: {args.input} (give a JSON lines file, or - for standard input)")
        work = _amazon_connect(args, settings)
    try:
        return asyncio.run(until_signalled(work))
    except asyncio.CancelledError:
        return 130
    except KafkaUnreachable as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(str(exc))
