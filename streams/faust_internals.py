"""Every use of a faust-streaming (or aiokafka) internal by the worker, in one place, checked.

The worker's delivery guarantees (docs/reliability.md) and its latency depend on a few names that
faust-streaming and aiokafka do not document as public: the aiokafka consumer's fetch wait, the
offset faust's fetch loop last handed to a stream (its "read offset") and its offset-gap
bookkeeping, the end offsets table recovery reads changelogs to, the stream's "current event",
the tables' changelog sends, the acknowledgements ``take_events`` makes for a batch, and the
committed offsets faust remembers. Each is a small function below, saying why it is needed; the
rest of ``streams/`` calls those functions and touches no private faust-streaming name itself.

:func:`check` verifies that each name still exists and has the shape these functions rely on.
``ccpulse worker`` runs it before importing the topology, and exits with one line naming the
installed faust-streaming version and the supported one (:data:`SUPPORTED`, the pin in
pyproject.toml) when it fails.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import types
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from importlib import metadata
from typing import Any

import aiokafka
import faust
from faust import streams as faust_streams
from faust.tables import base as faust_tables
from faust.tables import recovery as faust_recovery
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import tuples as faust_tuples

__all__ = ["SUPPORTED", "Unsupported", "check", "committed_offset", "extend_changelog_ends", "leave_uncommitted",
           "on_changelog_send", "record_gap", "set_fetch_max_wait", "stop_gap_bookkeeping", "stop_read_offset_filter",
           "writing_for"]

#: The faust-streaming versions this module is known to work with: the pin in pyproject.toml
#: (tests/streams/test_faust_internals.py keeps the two equal).
SUPPORTED = "faust-streaming==0.15.3"

#: faust's own attributes that a function below replaced, by (owner, name).
_originals: dict[tuple[Any, str], Any] = {}


def _patch(owner: Any, name: str, replacement: Any) -> None:
    """Replace ``owner.name``, remembering faust's own (a second patch does not wrap the first)."""
    current = getattr(owner, name)
    if not getattr(current, "_ccpulse_patch", False):
        _originals[(owner, name)] = current
    replacement._ccpulse_patch = True
    setattr(owner, name, replacement)


def _original(owner: Any, name: str) -> Any:
    """faust's own ``owner.name``, also once replaced by :func:`_patch` (AttributeError if it has none)."""
    current = getattr(owner, name)
    return _originals[(owner, name)] if getattr(current, "_ccpulse_patch", False) else current


# ---- the fetch wait ----------------------------------------------------------------------------
def set_fetch_max_wait(ms: int) -> None:
    """Make every worker consumer let a fetch wait at most ``ms`` at the broker for data.

    faust fixes it at 1,500 ms (``fetch_max_wait_ms=1500`` in its aiokafka driver, no setting), and
    the embedded broker does not answer such a waiting fetch as soon as data arrives (measured:
    ~380 ms late; 7–12 ms with 500 ms or less), which every hop of an event paid: p99 from event to
    read-model row 2.0 s at 1,000 events/s, 0.7 s with 100 ms (docs/performance.md). The aiokafka
    consumer reads ``_fetch_max_wait_ms`` when it starts its fetcher, so it is set on the consumer
    faust has just created. Idempotent."""
    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = _original(faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer")(self, transport)
        consumer._fetch_max_wait_ms = ms  # read when the consumer starts its fetcher
        return consumer

    _patch(faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer", _create_worker_consumer)


# ---- the read-offset filter and the gap bookkeeping --------------------------------------------
class _NoReadOffsets(dict):  # type: ignore[type-arg]
    """faust's ``Consumer._read_offset`` that never remembers: its fetch loop then drops no message
    as already read and sees no gap."""

    def __getitem__(self, tp: Any) -> None:
        return None

    def __setitem__(self, tp: Any, offset: Any) -> None:
        pass

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass


def stop_read_offset_filter() -> None:
    """Make faust's fetch loop hand every message over, none dropped as already read.

    The loop drops every message at or below the offset it last handed to a stream
    (``Consumer._read_offset``). When the input-order guard (streams/ordering.py) seeks a partition
    back, the messages of a fetch already in flight (they were early, and are held) move that mark
    past the offset sought back to: the re-read range was then dropped, the partition waited for an
    offset that never came again, and its later messages were held for good (a worker that stopped
    processing a partition after a restart: tests/integration/test_reliability.py). With this the
    guard alone decides (a message at or below the offset due is a redelivery, which processing
    recognises). Consumers created afterwards are affected; idempotent."""
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        _original(faust_consumer.Consumer, "__init__")(self, *args, **kwargs)
        self._read_offset = _NoReadOffsets()

    _patch(faust_consumer.Consumer, "__init__", __init__)


def stop_gap_bookkeeping() -> None:
    """Make faust's fetch loop count no offsets it jumps over as done.

    Around a restart or a rebalance the loop can drop messages it had already handed to a stream
    whose buffers were then cleared, go on with later ones, and, because it records the dropped
    range as an offset gap (``Consumer._add_gap``), commit past them (seen after ``kill -9``: a
    worker went on at offset 27 after offset 12 of every partition). Only the input-order guard
    records a gap, once the broker shows there is nothing in it (:func:`record_gap`). Idempotent."""
    async def _add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        """faust's fetch loop calls this when it jumps over offsets: do not count them as done."""

    _patch(faust_consumer.Consumer, "_add_gap", _add_gap)


async def record_gap(consumer: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    """Let ``consumer`` commit over ``offset_from``..``offset_to`` of ``tp`` (faust's own ``_add_gap``):
    a range the broker holds no message in (e.g. a transactional producer's commit markers)."""
    await _original(faust_consumer.Consumer, "_add_gap")(consumer, tp, offset_from, offset_to)


# ---- the end offsets table recovery reads to ---------------------------------------------------
def extend_changelog_ends(true_ends: Callable[[Mapping[Any, int]], Awaitable[Mapping[Any, int]]]) -> None:
    """Make table recovery read each changelog partition to ``true_ends(listed end offsets)``.

    faust stops recovering a changelog partition at the end offset the broker lists
    (``highwaters``); the embedded Tansu broker lists the start of the partition's last batch plus
    one (five records produced in one batch leave it four short), so every restart or rebalance on
    it silently lost the last table writes of each changelog partition. Replaces the previous
    ``true_ends`` when called again."""
    async def highwaters(self: Any, *partitions: Any) -> Mapping[Any, int]:
        ends = await _original(faust_consumer.ThreadDelegateConsumer, "highwaters")(self, *partitions)
        return await true_ends(ends)

    _patch(faust_consumer.ThreadDelegateConsumer, "highwaters", highwaters)


# ---- committed offsets -------------------------------------------------------------------------
def committed_offset(consumer: Any, tp: Any) -> Any:
    """The offset of ``tp`` faust last committed or read as committed for ``consumer`` (None when it
    knows none; faust keeps no committed offset of 0 either, so only one above 0 tells anything)."""
    return getattr(consumer, "_committed_offset", {}).get(tp)


# ---- the current event -------------------------------------------------------------------------
@contextlib.contextmanager
def writing_for(event: faust.EventT) -> Iterator[None]:
    """Make table reads and writes go to ``event``'s partition.

    Inside a ``take_events`` batch faust's "current event" is the last one of the
    batch, which may be on another partition than the key being written — or read:
    the rocksdict store looks a key up in the current event's partition only.
    """
    token = faust_streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)


# ---- changelog sends ---------------------------------------------------------------------------
def on_changelog_send(table: faust.Table, seen: Callable[[Any], None]) -> None:
    """Call ``seen`` with the future of every changelog message ``table``'s writes send.

    faust's flush of its producer before a commit gives up as soon as one buffered message takes
    longer than 0.1 s to hand over, so the worker itself waits for a batch's changelog messages
    before its offsets can be committed (``changelog_acknowledged`` in streams/processing.py). A
    table write sends through ``self.send_changelog``, so replacing it on ``table`` sees them all."""
    send = table.send_changelog

    def send_changelog(*args: Any, **kwargs: Any) -> Any:
        future = send(*args, **kwargs)
        seen(future)
        return future

    table.send_changelog = send_changelog  # type: ignore[method-assign]


# ---- take_events acknowledgements --------------------------------------------------------------
def leave_uncommitted(events: Sequence[faust.EventT]) -> None:
    """Make faust's later ``ack`` of ``events`` a no-op, so their offsets are never committed by this
    process (they are read again: after a seek, or by the partition's next owner).

    ``take_events`` acknowledges the whole batch when its generator is closed, also when the batch's
    processing was cancelled (a stop, a rebalance) or crashed midway, and a stopping worker then
    commits past events it never finished; the input-order guard must also keep the early messages
    it holds from being committed."""
    for ev in events:
        ev.message.acked = True  # faust's ack() skips a message already marked acknowledged


# ---- the start-up check ------------------------------------------------------------------------
class Unsupported(Exception):
    """The installed faust-streaming (or aiokafka) lacks an internal the worker relies on."""


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "(unknown version)"


def _names(func: Any) -> set[str]:
    """The attribute and global names ``func``'s code (and the code nested in it) uses."""
    code = getattr(inspect.unwrap(func), "__code__", None)
    stack = [code] if code is not None else []
    names: set[str] = set()
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
    return names


def _parameters(func: Any) -> list[str]:
    return [p.name if p.kind is not p.VAR_POSITIONAL else "*" + p.name for p in inspect.signature(func).parameters.values()]


def _problems() -> list[str]:
    """What is missing or changed, one phrase each (none when every internal is as expected)."""
    problems: list[str] = []
    consumer, thread = faust_consumer.Consumer, faust_aiokafka.AIOKafkaConsumerThread

    def attribute(owner: Any, name: str) -> Any:
        """faust's own ``owner.name``; None (and a problem) if it has none."""
        try:
            found = _original(owner, name)
        except AttributeError:
            found = None
        if found is None or getattr(found, "__isabstractmethod__", False):  # abstract: only an interface's is left
            problems.append(f"{_label(owner, name)} is missing")
            return None
        return found

    def method(owner: Any, name: str, params: list[str] | None = None, *, coroutine: bool = False,
               uses: Sequence[str] = ()) -> Any:
        """``owner.name``, checked: callable, a coroutine function, its parameters, the names its code uses."""
        func = attribute(owner, name)
        if func is None:
            return None
        label = _label(owner, name)
        if not callable(func):
            problems.append(f"{label} is not callable")
            return None
        if coroutine and not inspect.iscoroutinefunction(func):
            problems.append(f"{label} is not a coroutine function")
        if params is not None and _parameters(func) != params:
            problems.append(f"{label} takes ({', '.join(_parameters(func))}), not ({', '.join(params)})")
        missing = [name for name in uses if name not in _names(func)]
        if missing:
            problems.append(f"{label} no longer uses {', '.join(missing)}")
        return func

    # the fetch wait: faust creates the aiokafka consumer, which reads _fetch_max_wait_ms in start()
    method(thread, "_create_worker_consumer", ["self", "transport"], uses=["AIOKafkaConsumer"])
    method(aiokafka.AIOKafkaConsumer, "__init__", uses=["_fetch_max_wait_ms"])
    method(aiokafka.AIOKafkaConsumer, "start", uses=["_fetch_max_wait_ms"], coroutine=True)
    # the read-offset filter and the gap bookkeeping of faust's fetch loop
    method(consumer, "__init__", uses=["_read_offset", "_committed_offset"])
    method(consumer, "_add_gap", ["self", "tp", "offset_from", "offset_to"], coroutine=True)
    method(consumer, "_drain_messages", uses=["_read_offset", "__getitem__", "__setitem__", "_add_gap"])
    # the end offsets table recovery reads to
    method(faust_consumer.ThreadDelegateConsumer, "highwaters", ["self", "*partitions"], coroutine=True)
    method(faust_recovery.Recovery, "_build_highwaters", uses=["highwaters"])
    # committed offsets: faust records those it seeks to
    method(consumer, "perform_seek", uses=["_committed_offset"])
    # the current event: a ContextVar (of weak references) that tables look the event up in
    if not isinstance(attribute(faust_streams, "_current_event"), contextvars.ContextVar | None):
        problems.append("faust.streams._current_event is not a ContextVar")
    method(faust_streams, "current_event", uses=["_current_event"])
    if getattr(faust_tables, "current_event", None) is not getattr(faust_streams, "current_event", None):
        problems.append("faust's tables no longer look the event up with faust.streams.current_event")
    # changelog sends: a table write sends through self.send_changelog, which returns a future
    send = method(faust_tables.Collection, "send_changelog",
                  ["self", "partition", "key", "value", "key_serializer", "value_serializer"])
    if send is not None and "FutureMessage" not in str(inspect.signature(send).return_annotation):
        problems.append("Collection.send_changelog no longer returns a FutureMessage")
    method(faust_tables.Collection, "_send_changelog", uses=["send_changelog"])
    # take_events acknowledgements: a message marked acked is not acknowledged (committed) again
    if "acked" not in getattr(faust_tuples.Message, "__slots__", ()):
        problems.append("Message.acked is missing")
    method(faust_tuples.Message, "ack", uses=["acked"])
    method(consumer, "ack", uses=["acked"])
    method(faust_streams.Stream, "take_events", uses=["ack"])
    return problems


def _label(owner: Any, name: str) -> str:
    if isinstance(owner, types.ModuleType):
        return f"{owner.__name__}.{name}"
    module = owner.__module__.split(".")[0]
    return f"{module + '.' if module != 'faust' else ''}{owner.__name__}.{name}"


def check() -> None:
    """Raise :class:`Unsupported`, with a one-line message, unless every faust-streaming (and
    aiokafka) internal used here exists with the expected shape."""
    try:
        problems = _problems()
    except Exception as exc:  # an internal so changed that looking at it fails
        problems = [f"inspecting its internals failed ({type(exc).__name__}: {' '.join(str(exc).split())})"]
    if problems:
        problems = [p + f" (aiokafka {_version('aiokafka')})" if p.startswith("aiokafka.") else p for p in problems]
        raise Unsupported(f"faust-streaming {_version('faust-streaming')} is not supported: {', '.join(problems)}; "
                          f"install {SUPPORTED}")
