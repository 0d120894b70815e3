"""Profile one ccpulse worker under load with py-spy: where does its CPU go?

    python -m bench.profile [--events 50000] [--top 25]

Starts the embedded broker, pre-produces the bench's mixed simulator events, runs one worker
(``ccpulse worker``, memory store) under ``py-spy record`` until it has committed every event,
and prints the functions with the largest share of the worker's busy samples, inclusive (the
function or anything it calls) and self (the function's own code). Needs ``py-spy`` (``pip
install py-spy``; it reads the process with ptrace, so root or ``ptrace_scope`` 0). The figures
are in docs/performance.md ("Profile").
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.runner import Worker, bench_events

__all__ = ["main", "summarise"]


def summarise(collapsed: str, top: int) -> str:
    """Inclusive and self shares of each function in py-spy's collapsed stacks (``a;b;c count``)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";")]
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    if not total:
        return "no samples"
    out = [f"{total:,} busy samples", "", "| inclusive % | function |", "|---|---|"]
    out += [f"| {100 * n / total:.1f} | {name} |" for name, n in inclusive.most_common(top)]
    out += ["", "| self % | function |", "|---|---|"]
    out += [f"| {100 * n / total:.1f} | {name} |" for name, n in own.most_common(top)]
    return "\n".join(out)


def _function(frame: str) -> str:
    """``name (path/to/module.py:123)`` -> ``name (module.py)``: one entry per function, not per line."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if parts else path
    return f"{name} ({short})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rate", type=int, default=97, help="py-spy samples per second")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("bench.profile: py-spy is not installed; install it with pip install py-spy", file=sys.stderr)
        return 2
    from ccpulse.broker import EmbeddedBroker

    broker = EmbeddedBroker().start()
    workdir = Path(tempfile.mkdtemp(prefix="ccpulse-profile-"))
    try:
        worker = Worker(broker.bootstrap_servers, "embedded", workdir)
        worker.topics()
        print(f"bench.profile: producing {args.events:,} events…", file=sys.stderr, flush=True)
        n = worker.produce(bench_events(args.events, contacts_only=False))
        out = workdir / "worker.collapsed"
        env = {**worker.env, "CCPULSE_DATA_DIR": str(worker.data_dir(0))}
        log = open(workdir / "worker.log", "ab")
        proc = subprocess.Popen([spy, "record", "--rate", str(args.rate), "--format", "raw", "--output", str(out),
                                 "--", sys.executable, "-m", "ccpulse", "worker"], env=env, stdout=log, stderr=log)
        started = time.monotonic()
        print("bench.profile: one worker under py-spy…", file=sys.stderr, flush=True)
        result = worker.wait_committed(n, timeout=max(600.0, n / 20))
        seconds = time.monotonic() - started
        # Stop the worker, not py-spy: py-spy writes its samples when the process it records ends.
        subprocess.run(["pkill", "-TERM", "-P", str(proc.pid)], check=False)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        if isinstance(result, str):
            print(f"bench.profile: {result}", file=sys.stderr)
            return 1
        print(summarise(out.read_text(), args.top))
        print(f"bench.profile: {n:,} events in {seconds:.0f} s under py-spy ({n / seconds:,.0f} events/s "
              f"with the sampling); raw stacks in {out}")
        return 0
    finally:
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
