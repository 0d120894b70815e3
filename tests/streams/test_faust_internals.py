"""The faust-streaming internals the worker relies on (streams/faust_internals.py): checked at start-up.

The checks run against the installed faust-streaming and aiokafka; an internal removed or changed
(``monkeypatch`` on the real classes) must fail them, and ``ccpulse worker`` must then exit with one
``ccpulse:`` line naming the installed version and the supported one.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import aiokafka
import faust
import pytest
from faust import streams as faust_streams
from faust.tables import base as faust_tables
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import tuples as faust_tuples

from streams import faust_internals
from streams.faust_internals import SUPPORTED, Unsupported, check

ROOT = Path(__file__).resolve().parents[2]
VERSION = metadata.version("faust-streaming")


def failure() -> str:
    with pytest.raises(Unsupported) as raised:
        check()
    return str(raised.value)


def test_the_installed_faust_streaming_passes() -> None:
    check()


def test_the_supported_range_is_the_pin_in_pyproject() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [d for d in dependencies if d.startswith("faust-streaming")] == [SUPPORTED]


def test_the_checks_also_pass_once_the_worker_has_patched_faust(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker checks before it patches; checked afterwards (in one test process) faust's own
    attributes are the ones looked at, not ccpulse's replacements."""
    for owner, name in ((faust_consumer.Consumer, "__init__"), (faust_consumer.Consumer, "_add_gap"),
                        (faust_consumer.ThreadDelegateConsumer, "highwaters"),
                        (faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer")):
        monkeypatch.setattr(owner, name, getattr(owner, name))  # put back after the test
    faust_internals.stop_gap_bookkeeping()
    faust_internals.stop_read_offset_filter()
    faust_internals.set_fetch_max_wait(100)

    async def same(ends):  # type: ignore[no-untyped-def]
        return ends

    faust_internals.extend_changelog_ends(same)
    faust_internals.stop_gap_bookkeeping()  # idempotent: faust's own _add_gap is still the one remembered
    check()
    assert faust_internals._original(faust_consumer.Consumer, "_add_gap").__module__ == "faust.transport.consumer"


@pytest.mark.parametrize("owner, name, missing", [
    (faust_consumer.Consumer, "_add_gap", "Consumer._add_gap is missing"),
    (faust_consumer.Consumer, "_drain_messages", "Consumer._drain_messages is missing"),
    (faust_consumer.Consumer, "perform_seek", "Consumer.perform_seek is missing"),
    (faust_consumer.ThreadDelegateConsumer, "highwaters", "ThreadDelegateConsumer.highwaters is missing"),
    (faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer", "AIOKafkaConsumerThread._create_worker_consumer is missing"),
    (faust_streams, "_current_event", "faust.streams._current_event is missing"),
    (faust_tables.Collection, "_send_changelog", "Collection._send_changelog is missing"),
    (faust_streams.Stream, "take_events", "Stream.take_events is missing"),
])
def test_a_missing_internal_fails_naming_it_and_the_version(monkeypatch: pytest.MonkeyPatch, owner: object, name: str,
                                                            missing: str) -> None:
    monkeypatch.delattr(owner, name)
    message = failure()
    assert message.startswith(f"faust-streaming {VERSION} is not supported: ")
    assert missing in message
    assert message.endswith(f"; install {SUPPORTED}") and "\n" not in message


async def _add_gap_of_other_parameters(self, tp, offsets):  # type: ignore[no-untyped-def]
    pass


def _sync_add_gap(self, tp, offset_from, offset_to):  # type: ignore[no-untyped-def]
    pass


def _send_changelog_of_other_parameters(self, partition, key, value):  # type: ignore[no-untyped-def]
    pass


async def _fetch_loop_without_read_offsets(self, fetcher):  # type: ignore[no-untyped-def]
    pass


def _ack_ignoring_acked(self, consumer, n=1):  # type: ignore[no-untyped-def]
    return True


async def _start_without_fetch_wait(self):  # type: ignore[no-untyped-def]
    pass


@pytest.mark.parametrize("owner, name, replacement, expected", [
    (faust_consumer.Consumer, "_add_gap", _add_gap_of_other_parameters,
     "Consumer._add_gap takes (self, tp, offsets), not (self, tp, offset_from, offset_to)"),
    (faust_consumer.Consumer, "_add_gap", _sync_add_gap, "Consumer._add_gap is not a coroutine function"),
    (faust_tables.Collection, "send_changelog", _send_changelog_of_other_parameters,
     "Collection.send_changelog takes (self, partition, key, value), not (self, partition, key, value, key_serializer"),
    # the fetch loop no longer consulting _read_offset (nor _add_gap): the patches would do nothing
    (faust_consumer.Consumer, "_drain_messages", _fetch_loop_without_read_offsets,
     "Consumer._drain_messages no longer uses _read_offset, __getitem__, __setitem__, _add_gap"),
    (faust_tuples.Message, "ack", _ack_ignoring_acked, "Message.ack no longer uses acked"),
    (faust_streams, "_current_event", SimpleNamespace(), "faust.streams._current_event is not a ContextVar"),
    (aiokafka.AIOKafkaConsumer, "start", _start_without_fetch_wait,
     f"aiokafka.AIOKafkaConsumer.start no longer uses _fetch_max_wait_ms (aiokafka {metadata.version('aiokafka')})"),
])
def test_a_changed_internal_fails_saying_how(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, replacement: object,
                                            expected: str) -> None:
    monkeypatch.setattr(owner, name, replacement)
    message = failure()
    assert message.startswith(f"faust-streaming {VERSION} is not supported: ") and expected in message


def test_the_worker_command_exits_with_one_line_on_an_unsupported_faust(tmp_path: Path) -> None:
    """The real ``ccpulse worker`` in a process of its own whose faust lacks ``Consumer._add_gap``:
    one ``ccpulse:`` line, exit code 2, before Kafka is asked anything (none listens here)."""
    script = ("import sys\n"
              "from faust.transport import consumer\n"
              "del consumer.Consumer._add_gap\n"
              "from ccpulse.cli import main\n"
              "sys.exit(main(['worker']))\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CCPULSE_BOOTSTRAP_SERVERS": "127.0.0.1:9",
           "CCPULSE_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == (f"ccpulse: faust-streaming {VERSION} is not supported: Consumer._add_gap is missing; "
                           f"install {SUPPORTED}\n")


def test_faust_acknowledges_no_message_left_uncommitted() -> None:
    """What :func:`leave_uncommitted` relies on, on faust's real message and consumer classes."""
    message = faust_tuples.Message("t", 0, 5, 0.0, 0, {}, b"k", b"v", None)
    faust_internals.leave_uncommitted([SimpleNamespace(message=message)])  # type: ignore[list-item]
    assert message.ack(None) is False  # type: ignore[arg-type]
    app = faust.App("faust-internals-test", broker="kafka://127.0.0.1:9")
    assert app.consumer.ack(message) is False
    assert faust_internals.committed_offset(app.consumer, faust.types.TP("t", 0)) is None
