"""The ``ccpulse`` command: demo, broker, worker, simulate, replay, recompute, report, schemas, topics,
and the commands other packages add (the API's ``api`` and ``token``: ``PLUGIN_GROUP``).

Every subcommand turns expected failures into one ``ccpulse: ...`` line that names
the fix, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any


from ccpulse.broker import BrokerUnavailable, EmbeddedBroker, free_port, wait_for_port
from ccpulse.kafka import KafkaUnreachable, ensure_topics
from ccpulse.settings import ConfigError, Settings, get_settings

if TYPE_CHECKING:
    from ccpulse.kafka_broker import KafkaBroker

__all__ = ["COMMANDS", "build_parser", "main"]


def _fail(message: str, code: int = 2) -> int:
    print(f"ccpulse: {message}", file=sys.stderr)
    return code


# ---- broker -----------------------------------------------------------------------------------
def _broker_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=["embedded", "kafka"], default="embedded",
                        help="embedded: Tansu, memory only (default); kafka: Apache Kafka in KRaft mode (needs Java 17 "
                             "and Maven; jars are cached after the first run)")
    parser.add_argument("--port", type=int, default=None, help="port to listen on (default CCPULSE_BROKER_PORT, 9092)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="kafka only: keep the broker's data here across restarts (default: a temporary directory)")


def _broker(args: argparse.Namespace, settings: Settings) -> int:
    _stop_on_signals()
    port = args.port or settings.broker_port
    broker: EmbeddedBroker | KafkaBroker
    if args.engine == "kafka":
        from ccpulse.kafka_broker import KAFKA_VERSION, KafkaBroker

        print(f"ccpulse broker: starting Apache Kafka {KAFKA_VERSION} (KRaft; the first run downloads its jars "
              "with Maven)…", flush=True)
        broker = KafkaBroker(port=port, data_dir=args.data_dir)
        what = f"Apache Kafka {KAFKA_VERSION}" + (f", data in {args.data_dir}" if args.data_dir else ", temporary data")
    else:
        if args.data_dir is not None:
            return _fail("--data-dir needs --engine kafka: the embedded broker keeps everything in memory")
        broker = EmbeddedBroker(port=port)
        what = "embedded Kafka-protocol broker (memory only)"
    try:
        broker.start()
    except BrokerUnavailable as exc:
        return _fail(f"{exc}; choose another port with --port" if "port" in str(exc) else str(exc))
    try:
        asyncio.run(ensure_topics(settings, broker.bootstrap_servers))
        print(f"ccpulse broker: {what} on {broker.bootstrap_servers}; "
              f"export CCPULSE_BOOTSTRAP_SERVERS={broker.bootstrap_servers}. Ctrl-C stops it.", flush=True)
        while broker.alive():
            time.sleep(0.5)
        return _fail("the broker exited unexpectedly" + (f":\n{broker.log_tail(20)}" if hasattr(broker, "log_tail") else ""), 1)
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()
        print("ccpulse broker: stopped", file=sys.stderr)


# ---- topics -----------------------------------------------------------------------------------
def _topics(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(ensure_topics(settings))
    print(f"ccpulse topics: topics ready on {settings.kafka_servers}")
    return 0


# ---- worker -----------------------------------------------------------------------------------
def _worker_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loglevel", default=None, choices=["crit", "error", "warn", "info", "debug"])


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams import faust_internals

    try:  # before the topology patches faust: another faust-streaming version fails here, with the fix
        faust_internals.check()
    except faust_internals.Unsupported as exc:
        return _fail(str(exc))
    asyncio.run(ensure_topics(settings))  # fails fast, with the fix, when Kafka is unreachable
    import faust

    from streams.topology import app

    level = args.loglevel or {"warning": "warn"}.get(settings.log_level, settings.log_level)
    worker = faust.Worker(app, loglevel=level, quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG (to spin on every record) when the level
    # is warn or above: every debug call of Faust and aiokafka then built a LogRecord — 12 % of the
    # worker's CPU in the profile (docs/performance.md).
    worker.spinner = None
    worker.execute_from_commandline()
    return 0


# ---- demo -------------------------------------------------------------------------------------
def _demo_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-simulate", action="store_true", help="run broker, worker and API only (replay files into it)")
    parser.add_argument("--speed", type=float, default=1.0, help="simulator speed (1 = real time)")
    parser.add_argument("--seed", type=int, default=None, help="simulator seed")
    parser.add_argument("--real-world", action="store_true",
                        help="the simulator writes what real platforms write: whole seconds, skew, disorder, duplicates, "
                             "weekend email, late QA, callbacks, re-queues, bot and agent transfers (simulate --help)")
    parser.add_argument("--source", default=None, metavar="asterisk:PATH",
                        help="feed the demo from a connector instead of the simulator, e.g. "
                             "asterisk:/var/log/asterisk/queue_log (followed from its start)")


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop the demo cleanly, even when started from a script that
    set SIGINT to "ignore" for background jobs (Python would otherwise inherit that)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    """Embedded broker (unless CCPULSE_BOOTSTRAP_SERVERS is set), worker, API and simulator."""
    _stop_on_signals()
    source: list[str] | None = None
    if args.source is not None:
        platform, _, path = args.source.partition(":")
        if platform != "asterisk" or not path:
            return _fail(f"--source {args.source!r}: use asterisk:PATH (the path of a queue_log)")
        if not Path(path).is_file():
            return _fail(f"--source: no such file: {path}")
        # A fresh position each run: the embedded broker starts empty, so the whole file is read again.
        state = Path(tempfile.mkdtemp(prefix="ccpulse-demo-")) / "asterisk-position.json"
        source = ["connect", "asterisk", "--queue-log", path, "--follow", "--from-start", "--state-file", str(state)]
    broker: EmbeddedBroker | None = None
    env = dict(os.environ)
    if settings.bootstrap_servers is None:
        port = settings.broker_port if not wait_for_port("127.0.0.1", settings.broker_port, 0.2) else free_port()
        broker = EmbeddedBroker(port=port)
        try:
            broker.start()
        except BrokerUnavailable as exc:
            return _fail(str(exc))
        env["CCPULSE_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        env.setdefault("CCPULSE_RECOVERY_CONSISTENCY_CHECK", "false")  # see README: embedded broker
        print(f"ccpulse demo: embedded broker on {broker.bootstrap_servers} (memory only: demo use)", flush=True)
    env.setdefault("CCPULSE_AUTH_ENABLED", "false")  # a demo on loopback; the banner below says so
    servers = env.get("CCPULSE_BOOTSTRAP_SERVERS", settings.kafka_servers)
    env.setdefault("CCPULSE_LOG_LEVEL", "warning")
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        asyncio.run(ensure_topics(settings, servers))
        me = [sys.executable, "-m", "ccpulse"]
        children.append(("worker", subprocess.Popen([*me, "worker"], env=env)))
        children.append(("api", subprocess.Popen([*me, "api"], env=env)))
        if source is not None:
            children.append(("connector", subprocess.Popen([*me, *source], env=env)))
        elif not args.no_simulate:
            sim = [*me, "simulate", "--speed", str(args.speed)] + (["--seed", str(args.seed)] if args.seed is not None else [])
            sim += ["--real-world"] if args.real_world else []
            children.append(("simulator", subprocess.Popen(sim, env=env)))
        url = f"http://{settings.api_host}:{settings.api_port}"
        auth = ("authentication is DISABLED in the demo (anyone reaching the port reads everything)"
                if env["CCPULSE_AUTH_ENABLED"].lower() in ("false", "0", "no") else "API tokens required")
        print(f"ccpulse demo: wallboard on {url}/wallboard, API on {url}/api/v1/queues, docs on {url}/docs\n"
              f"ccpulse demo: {auth}. Ctrl-C stops everything.", flush=True)
        while True:
            for name, proc in children:
                if proc.poll() is not None:
                    return _fail(f"the {name} exited with code {proc.returncode}; see its messages above", 1)
            if broker is not None and not broker.alive():
                return _fail("the embedded broker exited", 1)
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nccpulse demo: stopping…", file=sys.stderr)
        return 0
    finally:
        for _, proc in reversed(children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for _, proc in reversed(children):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        if broker is not None:
            broker.stop()
        print("ccpulse demo: stopped", file=sys.stderr)


# ---- parser -----------------------------------------------------------------------------------
# name -> (help, module holding add_arguments/run or None for this module, add_arguments, run)
COMMANDS: dict[str, tuple[str, str | None, str | None, str]] = {
    "demo": ("run broker (embedded), worker, API and simulator together", None, "_demo_args", "_demo"),
    "broker": ("run a broker: the embedded one (memory only), or Apache Kafka with --engine kafka", None, "_broker_args",
               "_broker"),
    "topics": ("create ccpulse's topics and exit", None, None, "_topics"),
    "worker": ("run a stream-processing worker (Faust)", None, "_worker_args", "_worker"),
    "simulate": ("produce a realistic multichannel event stream", "ccpulse.simulate", "add_arguments", "run"),
    "replay": ("send a JSONL file of events to Kafka in file order", "ccpulse.replay", "add_arguments", "run"),
    "connect": ("read a platform's own records (Asterisk queue_log, Amazon Connect) and produce contract events",
                "ccpulse.connectors.cli", "add_arguments", "run"),
    "recompute": ("re-derive past intervals from the retained events with new settings", "ccpulse.recompute", "add_arguments", "run"),
    "report": ("write a report file (satisfaction, retention, team) for a month or year from the read API",
               "ccpulse.reports.cli", "add_arguments", "run"),
    "bench": ("benchmark ccpulse against raw consume, Faust and peer stream processors (docs/performance.md)",
              "bench.runner", "add_arguments", "run"),
    "schemas": ("write the JSON Schema files of the event contract", "schemas.jsonschema", "add_arguments", "run"),
}


def _resolve(module: str | None, name: str | None) -> Callable[..., Any] | None:
    if name is None:
        return None
    return getattr(importlib.import_module(module) if module else sys.modules[__name__], name)


#: Entry-point group through which other packages add commands: a module with ``HELP``,
#: ``add_arguments(parser)`` and ``run(args, settings)``. The API registers ``api`` and ``token``
#: (pyproject.toml) so that ``ccpulse/`` never imports ``api`` (tests/test_import_rules.py).
PLUGIN_GROUP = "ccpulse.commands"


def plugin_commands() -> dict[str, Any]:
    """name -> module of every command another installed package adds (a name of ours wins)."""
    found = {}
    for point in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        if point.name not in COMMANDS:
            found[point.name] = point.load()
    return found


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The CLI parser. With ``only``, just that command's module is imported (fast start-up;
    the added commands' modules are always imported, for their help)."""
    parser = argparse.ArgumentParser(prog="ccpulse", description="Streaming contact-center event processor.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, module, add_arguments, run) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or only == name:
            adder = _resolve(module, add_arguments)
            if adder is not None:
                adder(command)
            command.set_defaults(run=_resolve(module, run))
    for name, plugin in plugin_commands().items():
        command = sub.add_parser(name, help=plugin.HELP, description=plugin.HELP)
        plugin.add_arguments(command)
        command.set_defaults(run=plugin.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(chosen).parse_args(argv)  # an unknown name: argparse lists the commands
    try:
        settings = get_settings()
    except ConfigError as exc:
        return _fail(str(exc))
    try:
        return args.run(args, settings)
    except (KafkaUnreachable, ConfigError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
