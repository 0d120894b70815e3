"""Reliability under faults (issue #9): the figures of a faulty run equal those of a clean run, exactly.

Every test streams the same seeded simulator scenario (``EVENTS``) into a stack under one kind of
fault and compares every final figure — each queue and agent interval row, the survey rows, every
agent's state, what waits — through the API with an uninterrupted run of the same events on the
same broker (``clean_figures``, computed once per engine). See docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import base64
import random
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ccpulse.broker import free_port, wait_for_port
from ccpulse.kafka import start_producer, topic_for_type
from tests.integration.figures import clean_figures, differences, final_figures, scenario_events

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

#: The scenario every reliability test streams: 30 simulated minutes, 12 agents (~440 events).
SEED, MINUTES = 11, 30
EVENTS = scenario_events(seed=SEED, minutes=MINUTES)
CLEAN_KEY = (SEED, MINUTES)
LATENESS = 3600.0  # the default CCPULSE_LATENESS_SECONDS
#: The durable store; on the embedded broker Faust's recovery consistency check must be off
#: (its end offsets are counted per batch: README, "embedded broker"; tests/integration/test_durable_store.py).
ROCKSDICT = {"CCPULSE_STORE": "rocksdict://"}
SETTLE_TIMEOUT = 300.0


# ---- helpers shared by the reliability tests (test_poison.py imports some) ------------------------
def clean(stack_factory: Any, broker: Any) -> dict[str, Any]:
    """The figures of an uninterrupted run of ``EVENTS`` on this broker (cached per engine)."""
    return clean_figures(stack_factory, broker, EVENTS, CLEAN_KEY)


def durable_env(broker: Any) -> dict[str, str]:
    return {**ROCKSDICT, "CCPULSE_RECOVERY_CONSISTENCY_CHECK": "false"} if broker.engine == "tansu" else dict(ROCKSDICT)


def message_of(stack: Any, event: dict[str, Any]) -> tuple[str, bytes, bytes]:
    """(topic, key, value) of a contract event, as ``Stack.produce`` would send it."""
    key = (event.get("contact_id") or event["agent_id"]).encode()
    return topic_for_type(stack.settings, event["type"]), key, orjson.dumps(event)


def produce_fast(stack: Any, items: Iterable[dict[str, Any] | tuple[str, bytes | None, bytes | None]],
                 window: int = 500) -> list[tuple[str, int, int]]:
    """Send events (dicts) or raw (topic, key, value) messages in order, pipelined ``window`` at a time;
    returns each message's (topic, partition, offset). One producer keeps per-partition order."""

    async def go() -> list[tuple[str, int, int]]:
        producer = await start_producer(stack.broker.bootstrap_servers, max_request_size=4 * 1024 * 1024)
        out: list[tuple[str, int, int]] = []
        try:
            pending: list[Any] = []
            for item in items:
                topic, key, value = message_of(stack, item) if isinstance(item, dict) else item
                pending.append(await producer.send(topic, value, key=key))
                if len(pending) >= window:
                    out += [(m.topic, m.partition, m.offset) for m in await asyncio.gather(*pending)]
                    pending = []
            out += [(m.topic, m.partition, m.offset) for m in await asyncio.gather(*pending)]
        finally:
            await producer.stop()
        return out

    return asyncio.run(go())


def restart_worker(stack: Any, index: int, *, sig: int = signal.SIGKILL, wipe: bool = False) -> subprocess.Popen[bytes]:
    """Stop worker ``index`` with ``sig`` (kill -9 by default) and start it again on the same state
    directory (``CCPULSE_DATA_DIR``, as ``Stack.add_worker`` chose it) — deleted first when ``wipe``."""
    proc = stack.workers[index]
    proc.send_signal(sig)
    proc.wait(timeout=60)
    data_dir = stack.workdir / f"worker{index}"
    if wipe:
        shutil.rmtree(data_dir, ignore_errors=True)
    env = {**stack.env, "CCPULSE_DATA_DIR": str(data_dir)}
    stack.workers[index] = stack._spawn(f"worker{index}", "worker", env=env)
    return stack.workers[index]


def rows_applied(stack: Any) -> int:
    """Read-model rows the API has applied so far (it grows while a worker publishes)."""
    return int(httpx.get(stack.url + "/healthz", timeout=10).json()["rows"])


def wait_until_busy(stack: Any, since: int, what: str) -> int:
    """Wait until the API has received read-model rows beyond ``since``: a worker is up and publishing."""
    return stack.wait_for(lambda: (n := rows_applied(stack)) > since and n, timeout=120, what=what)


def metric_sum(stack: Any, name: str) -> float:
    text = stack.get("/metrics").text
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def assert_same_figures(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got == want, "figures differ from the clean run:\n  " + "\n  ".join(differences(got, want))


def converged_figures(stack: Any, want: dict[str, Any], events: Sequence[dict[str, Any]] = EVENTS,
                      timeout: float = SETTLE_TIMEOUT) -> dict[str, Any]:
    """Wait until the stack's final figures equal ``want`` exactly; fail showing the differences.

    (Not ``settled_figures``: it first waits for ``ccpulse_events_consumed_total`` to reach the number
    of events, and a worker killed with -9 takes the counts it had not yet published with it.)
    """
    try:
        stack.wait_for(lambda: final_figures(stack, list(events)) == want,
                       timeout=timeout, what="the figures to equal the clean run's")
    except pytest.fail.Exception as failure:
        found = differences(final_figures(stack, list(events)), want, limit=40)
        # Were inputs left unprocessed (lag), or processed and dropped (rejections)?
        found += [line for line in stack.get("/metrics").text.splitlines()
                  if line.startswith(("ccpulse_consumer_lag_messages", "ccpulse_events_rejected_total"))]
        pytest.fail(f"{failure}\ndifferences from the clean run:\n  " + "\n  ".join(found), pytrace=False)
    for _ in range(3):  # and they stay so (no stale row arrives afterwards)
        time.sleep(1.0)
        got = final_figures(stack, list(events))
        assert_same_figures(got, want)
    return got


def split(events: Sequence[Any], cuts: Sequence[int]) -> list[list[Any]]:
    bounds = [0, *cuts, len(events)]
    return [list(events[a:b]) for a, b in zip(bounds, bounds[1:])]


def crash_run(stack: Any, rng: random.Random, plan: Sequence[bool], events: Sequence[Any] = EVENTS) -> None:
    """Stream ``events`` into ``stack`` (worker 0), killing the worker with -9 once per ``plan`` entry at a
    seeded random point while it is processing, and restarting it (on a wiped state directory when the
    entry is True). The events after each kill are sent while the new worker starts up."""
    cuts = sorted(rng.sample(range(30, len(events) - 30), len(plan)))
    chunks = split(events, cuts)
    stack.produce(chunks[0])
    seen = 0
    for number, (wipe, chunk) in enumerate(zip(plan, chunks[1:]), 1):
        seen = wait_until_busy(stack, seen, f"worker 0 to process before kill {number}")
        time.sleep(rng.uniform(0.0, 1.0))
        restart_worker(stack, 0, wipe=wipe)
        stack.produce(chunk)


# ---- 1. crash and restart ----------------------------------------------------------------------
def test_worker_killed_three_times_memory_store(stack_factory, broker) -> None:
    """kill -9 at three seeded points, restart: in-memory tables rebuilt from their changelogs alone.

    (Once a known gap, issue #9: after a restart Faust could discard the records of the last chunk
    unseen, and nothing later showed the skip; streams/ordering.py ``check_stalled`` reads such a
    partition again. docs/reliability.md.)
    """
    want = clean(stack_factory, broker)
    stack = stack_factory().start(workers=1)
    crash_run(stack, random.Random(SEED), plan=[False, False, False])
    converged_figures(stack, want)


def test_worker_killed_three_times_durable_store(stack_factory, broker) -> None:
    """The same on rocksdict:// — restarted on its state directory, then on a deleted one (recovery
    from the changelog topics alone), then on its state directory again."""
    want = clean(stack_factory, broker)
    stack = stack_factory(durable_env(broker)).start(workers=1)
    crash_run(stack, random.Random(SEED + 1), plan=[False, True, False])
    converged_figures(stack, want)
    # (Checked once the last worker has processed: a busy machine can kill one before it opened its store.)
    assert any((stack.workdir / "worker0" / "faust").rglob("*.db")), "rocksdict wrote no local state"


# ---- 2. duplicates and disorder ------------------------------------------------------------------
def disordered_with_copies(events: Sequence[dict[str, Any]], rng: random.Random, *, copies: float = 0.10,
                           max_shift: float = 900.0, restart_at: float = 0.5) -> tuple[list[dict[str, Any]], list[int]]:
    """``events`` shuffled within ``max_shift`` seconds of event time, plus ``copies`` of them sent again
    (the same event, so the same event_id): a third a few messages later, a third anywhere later, and a
    third of those sent before ``restart_at`` (the fraction of the stream where the test restarts the
    worker) again after it. Returns the stream and the indexes of the copies in it."""
    at = [datetime_of(e) for e in events]
    order = sorted(range(len(events)), key=lambda i: at[i] + rng.uniform(0, max_shift))
    keyed: list[tuple[float, int, dict[str, Any]]] = [(float(pos), 0, events[i]) for pos, i in enumerate(order)]
    n, cut = len(order), int(len(order) * restart_at)
    for number, pos in enumerate(sorted(rng.sample(range(n - 1), round(copies * n)))):
        kind = number % 3
        if kind == 0:
            later = min(n - 1, pos + rng.randint(1, 8))
        elif kind == 1 or pos >= cut:
            later = rng.randint(pos + 1, n - 1)
        else:
            later = rng.randint(cut, n - 1)  # the original before the restart, its copy after it
        keyed.append((later + 0.5, 1, events[order[pos]]))
    keyed.sort(key=lambda k: k[0])
    return [e for _, _, e in keyed], [i for i, (_, copy, _) in enumerate(keyed) if copy]


def datetime_of(event: dict[str, Any]) -> float:
    from ccpulse.domain.intervals import parse_time

    return parse_time(event["occurred_at"])


def max_disorder(stream: Sequence[dict[str, Any]]) -> float:
    """The most any event lies behind the newest event before it, over the whole stream — a bound on
    how far behind its partition's watermark it can arrive."""
    newest, worst = float("-inf"), 0.0
    for event in stream:
        t = datetime_of(event)
        worst, newest = max(worst, newest - t), max(newest, t)
    return worst


def deadletters(stack: Any, expected: int, timeout: float = 120.0) -> list[dict[str, Any]]:
    """The dead-letter records, once the API counts at least ``expected`` (and a moment later, to see extras)."""
    try:
        stack.wait_for(lambda: metric_sum(stack, "ccpulse_events_rejected_total") >= expected, timeout=timeout,
                       what=f"{expected} dead letters")
    except pytest.fail.Exception as failure:
        counted = [line for line in stack.get("/metrics").text.splitlines()
                   if line.startswith("ccpulse_events_rejected_total")]
        pytest.fail(f"{failure}\ncounted so far:\n  " + "\n  ".join(counted), pytrace=False)
    time.sleep(3.0)
    records = [orjson.loads(m.value) for m in stack.topic_messages(stack.settings.topics.deadletter, timeout=120)]
    assert len(records) >= expected, f"read only {len(records)} of the dead-letter topic's records"
    return records


def test_duplicates_and_disorder(stack_factory, broker) -> None:
    """10 % of events sent twice (same event_id; next to each other, far apart, and again after a worker
    restart), everything shuffled within 15 minutes of event time: the figures equal the clean run's,
    and the dead-letter topic holds exactly the second copies, as duplicates, with their bytes."""
    want = clean(stack_factory, broker)
    rng = random.Random(SEED + 2)
    stream, copies = disordered_with_copies(EVENTS, rng)
    assert len(copies) == round(0.10 * len(EVENTS))
    assert 0 < max_disorder(stream) < LATENESS, "the disorder must stay within the lateness bound"
    cut = len(stream) // 2
    originals = {e["event_id"]: i for i, e in reversed(list(enumerate(stream)))}
    assert any(originals[stream[i]["event_id"]] < cut <= i for i in copies), "no copy re-sent after the restart"

    # On the durable store: the in-memory one has a known gap after restarts (see the crash test above).
    stack = stack_factory(durable_env(broker)).start(workers=1)
    positions = produce_fast(stack, stream[:cut])
    wait_until_busy(stack, 0, "the worker to process the first half")
    restart_worker(stack, 0, sig=signal.SIGTERM)
    positions += produce_fast(stack, stream[cut:])
    converged_figures(stack, want)

    expected = {positions[i]: stream[i] for i in copies}
    records = deadletters(stack, len(expected))
    got = {(r["topic"], r["partition"], r["offset"]): r for r in records}
    assert set(got) == set(expected), (f"dead letters at unexpected positions: {sorted(set(got) - set(expected))[:5]}, "
                                       f"missing: {sorted(set(expected) - set(got))[:5]}")
    assert len(records) == len(expected), "a duplicate was dead-lettered twice"
    for position, record in got.items():
        assert record["reason"] == "duplicate", record
        assert record["event_id"] == expected[position]["event_id"]
        assert base64.b64decode(record["value_b64"]) == orjson.dumps(expected[position])
    assert metric_sum(stack, "ccpulse_events_rejected_total") == len(expected)


# ---- 4. scaling and rebalance --------------------------------------------------------------------
class QueuePoller(threading.Thread):
    """Reads /api/v1/queues every ``every`` seconds; records failures and any queue whose figures of
    today (offered, answered) went down between two reads."""

    FIELDS = ("offered", "answered", "abandoned", "handled")

    def __init__(self, url: str, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.url, self.every = url, every
        self.stopped = threading.Event()
        self.polls = 0
        self.failures: list[str] = []
        self.regressions: list[str] = []
        self.last: dict[str, dict[str, int]] = {}

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stopped.is_set():
                try:
                    response = client.get("/api/v1/queues")
                    if response.status_code != 200:
                        self.failures.append(f"{response.status_code}: {response.text[:200]}")
                    else:
                        self.check(response.json()["queues"])
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                self.polls += 1
                self.stopped.wait(self.every)

    def check(self, queues: list[dict[str, Any]]) -> None:
        for queue in queues:
            today = {name: queue["today"][name] for name in self.FIELDS}
            before = self.last.get(queue["queue_id"], {})
            for name, value in today.items():
                if value < before.get(name, 0):
                    self.regressions.append(f"{queue['queue_id']} today {name}: {before[name]} -> {value}")
            self.last[queue["queue_id"]] = today


def test_scale_out_to_three_workers_and_back_to_two(stack_factory, broker) -> None:
    """One worker, a second and a third added mid-stream, then one stopped: the API answers every
    read throughout, no counter of today on a queue goes down, and the final figures are exact."""
    want = clean(stack_factory, broker)
    stack = stack_factory().start(workers=1)
    poller = QueuePoller(stack.url)
    poller.start()
    chunks = split(EVENTS, [len(EVENTS) * k // 4 for k in (1, 2, 3)])
    try:
        stack.produce(chunks[0])
        seen = wait_until_busy(stack, 0, "worker 0 to process")
        stack.add_worker()
        stack.produce(chunks[1])
        time.sleep(8)  # the group rebalances onto two workers while the events arrive
        seen = wait_until_busy(stack, seen, "two workers to process")
        stack.add_worker()
        stack.produce(chunks[2])
        time.sleep(8)
        wait_until_busy(stack, seen, "three workers to process")
        leaving = stack.workers.pop(1)  # stopped on purpose: Stack.wait_for must not take it for a crash
        leaving.send_signal(signal.SIGTERM)
        stack.produce(chunks[3])
        assert leaving.wait(timeout=60) == 0, "the stopped worker did not exit cleanly"
        converged_figures(stack, want)
    finally:
        poller.stopped.set()
        poller.join(timeout=15)
    assert poller.polls > 40, f"the API was read only {poller.polls} times"
    assert not poller.failures, f"{len(poller.failures)} reads failed, e.g. {poller.failures[:3]}"
    assert not poller.regressions, f"counters went down: {poller.regressions[:5]}"
    assert all(p.poll() is None for p in stack.workers), "a worker exited"


# ---- 5. API restarts ------------------------------------------------------------------------------
def readiness_until_ready(url: str, timeout: float = 60.0) -> list[tuple[int, str]]:
    """Poll /readyz as fast as possible from the moment the API accepts connections until it says
    ready; returns every answer as (status, reason)."""
    answers: list[tuple[int, str]] = []
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get("/readyz")
            except httpx.TransportError:
                time.sleep(0.01)
                continue
            body = response.json()
            answers.append((response.status_code, body.get("reason") or ""))
            if response.status_code == 200:
                return answers
            time.sleep(0.005)
    pytest.fail(f"the API was not ready after {timeout:.0f} s: {answers[-3:]}")


def restart_api(stack: Any) -> list[tuple[int, str]]:
    """kill -9 the stack's API, start it again (same port) and return its /readyz answers until ready."""
    assert stack.api is not None
    stack.api.kill()
    stack.api.wait(timeout=30)
    stack.api = stack._spawn("api", "api")
    return readiness_until_ready(stack.url)


class ApiAt:
    """Enough of a Stack for ``final_figures``: reads from the API at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: Any) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=10)


def test_api_killed_and_restarted_rebuilds_the_same_read_model(stack_factory, broker) -> None:
    """An API instance killed (-9) mid-stream and restarted rebuilds the same read model as an API
    that ran throughout, and says not ready (/readyz 503 "starting: …") until it caught up: the first
    moment it says ready, it already serves every final figure."""
    want = clean(stack_factory, broker)
    stack = stack_factory().start(workers=1)
    port = free_port()
    witness = stack._spawn("api-witness", "api", env={**stack.env, "CCPULSE_API_PORT": str(port)})
    try:
        assert wait_for_port("127.0.0.1", port, 30), "the witness API did not start"
        half = len(EVENTS) // 2
        stack.produce(EVENTS[:half])
        wait_until_busy(stack, 0, "the worker to process")
        stack.api.kill()  # mid-stream: the rest arrives while it is down
        stack.api.wait(timeout=30)
        stack.produce(EVENTS[half:])
        stack.api = stack._spawn("api", "api")
        answers = readiness_until_ready(stack.url)
        assert all(code == 503 for code, _ in answers[:-1]), answers
        converged_figures(stack, want)
        assert_same_figures(final_figures(ApiAt(f"http://127.0.0.1:{port}"), EVENTS), want)  # never restarted

        # Everything is in the read model now. Kill and restart again: whenever it says ready, it
        # must already serve all of it; before that it says why not.
        for attempt in range(3):
            answers = restart_api(stack)
            figures = final_figures(stack, EVENTS)
            assert_same_figures(figures, want)
            not_ready = answers[:-1]
            assert all(code == 503 and reason.startswith("starting") for code, reason in not_ready), not_ready
            if not_ready:
                break
        assert not_ready, "three restarts in a row were ready at their first answer: the 503 phase was never seen"
        assert metric_sum(stack, "ccpulse_read_model_ready") == 1.0
    finally:
        witness.kill()
        witness.wait(timeout=30)
