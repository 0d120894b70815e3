"""A bounded load test of one ccpulse API instance on loopback.

For ``--duration`` seconds it keeps ``--sse-clients`` Server-Sent-Events clients on
``/api/v1/stream`` (a wallboard each) and ``--rest-concurrency`` clients issuing REST reads back to
back, then prints the REST latency percentiles, errors, SSE clients lost and the API process's
resident memory before and after (``--pid``, read from /proc)::

    python bench/api_load.py --url http://127.0.0.1:8000 --pid $(pgrep -f "ccpulse api") --duration 20

An SSE client counts as lost when its connection ends, fails, or delivers no snapshot for
``--stall`` seconds (the API sends one a second). The exit status is 1 when a REST read failed
or an SSE client was lost. ``--json`` prints the summary as one JSON object instead of text.
Needs only httpx (a test dependency); the SSE clients are raw asyncio streams, so 200 of them cost
little in the load generator itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

MARKER = b"event: snapshot"
DEFAULT_PATHS = ("/api/v1/queues", "/api/v1/summary", "/api/v1/agents", "/api/v1/surveys", "/api/v1/alerts",
                 "/metrics", "/readyz")


def rss_bytes(pid: int | None) -> int | None:
    """Resident set size of process ``pid`` (Linux /proc), None if unknown."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class SseClient:
    number: int
    connected: bool = False
    snapshots: int = 0
    first_snapshot_s: float | None = None
    last_snapshot: float | None = None
    ended: str | None = None  # why it ended early (None while it runs)


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    clients: list[SseClient] = field(default_factory=list)


async def sse_client(client: SseClient, url: str, token: str | None, stop: asyncio.Event) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    started = time.monotonic()
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        writer.write(f"GET /api/v1/stream HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n{auth}\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " not in status + b" ":
            client.ended = f"status {status.decode(errors='replace')}"
            return
        client.connected = True
        tail = b""
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 0.5)
            except asyncio.TimeoutError:
                continue
            if not chunk:
                client.ended = "connection closed by the API"
                return
            data = tail + chunk
            found = data.count(MARKER)
            if found:
                now = time.monotonic()
                client.snapshots += found
                client.last_snapshot = now
                if client.first_snapshot_s is None:
                    client.first_snapshot_s = now - started
            tail = data[-len(MARKER):]
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
        client.ended = f"{type(exc).__name__}: {exc}"
    finally:
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


async def rest_client(http: httpx.AsyncClient, paths: list[str], results: Results, stop: asyncio.Event,
                      rng: random.Random) -> None:
    while not stop.is_set():
        path = rng.choice(paths)
        started = time.perf_counter()
        try:
            response = await http.get(path)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                results.errors.append(f"GET {path}: {response.status_code} {response.text[:200]}")
            else:
                results.latencies.append(elapsed)
        except httpx.HTTPError as exc:
            results.errors.append(f"GET {path}: {type(exc).__name__}: {exc}")


async def discover_paths(http: httpx.AsyncClient) -> list[str]:
    """The standard reads plus, per queue the API knows, its detail and interval rows."""
    paths = list(DEFAULT_PATHS)
    try:
        queues = (await http.get("/api/v1/queues")).json().get("queues", [])
    except (httpx.HTTPError, ValueError):
        queues = []
    for queue in queues[:10]:
        paths += [f"/api/v1/queues/{queue['queue_id']}", f"/api/v1/queues/{queue['queue_id']}/intervals"]
    return paths


async def run(url: str, token: str | None, sse_clients: int, rest_concurrency: int, duration: float,
              stall: float, pid: int | None, seed: int = 1) -> dict[str, Any]:
    results = Results(clients=[SseClient(i) for i in range(sse_clients)])
    stop = asyncio.Event()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    limits = httpx.Limits(max_connections=rest_concurrency + 4, max_keepalive_connections=rest_concurrency + 4)
    rss_before = rss_bytes(pid)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits) as http:
        paths = await discover_paths(http)
        sse_tasks = []
        for client in results.clients:  # connect in waves so the accept queue is not flooded at once
            sse_tasks.append(asyncio.create_task(sse_client(client, url, token, stop)))
            if client.number % 50 == 49:
                await asyncio.sleep(0.2)
        rng = random.Random(seed)
        rest_tasks = [asyncio.create_task(rest_client(http, paths, results, stop, random.Random(rng.random())))
                      for _ in range(rest_concurrency)]
        started = time.monotonic()
        await asyncio.sleep(duration)
        # A client that saw nothing for ``stall`` seconds at the end is lost too (it hangs).
        now = time.monotonic()
        for client in results.clients:
            if client.ended is None and (client.last_snapshot is None or now - client.last_snapshot > stall):
                client.ended = f"no snapshot for {stall:.0f} s"
        stop.set()
        await asyncio.gather(*rest_tasks, *sse_tasks)
        elapsed = time.monotonic() - started
    await asyncio.sleep(1.0)  # let the API drop the closed streams before measuring it again
    rss_after = rss_bytes(pid)
    lost = [c for c in results.clients if c.ended is not None]
    firsts = [c.first_snapshot_s for c in results.clients if c.first_snapshot_s is not None]
    ms = [x * 1000 for x in results.latencies]
    return {
        "duration_s": round(elapsed, 1),
        "rest_requests": len(results.latencies) + len(results.errors),
        "rest_per_second": round(len(results.latencies) / elapsed, 1) if elapsed else None,
        "rest_p50_ms": _round(percentile(ms, 50)),
        "rest_p95_ms": _round(percentile(ms, 95)),
        "rest_p99_ms": _round(percentile(ms, 99)),
        "rest_max_ms": _round(max(ms) if ms else None),
        "errors": len(results.errors),
        "error_samples": results.errors[:5],
        "sse_clients": sse_clients,
        "sse_connected": sum(c.connected for c in results.clients),
        "sse_lost": len(lost),
        "sse_lost_samples": [f"client {c.number}: {c.ended}" for c in lost[:5]],
        "sse_snapshots_min": min((c.snapshots for c in results.clients), default=0),
        "sse_snapshots_mean": round(statistics.mean(c.snapshots for c in results.clients), 1) if results.clients else 0,
        "sse_first_snapshot_p95_ms": _round(percentile([f * 1000 for f in firsts], 95)),
        "rss_before_mb": _mb(rss_before),
        "rss_after_mb": _mb(rss_after),
        "rss_growth_mb": _mb(rss_after - rss_before) if rss_before is not None and rss_after is not None else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _mb(value: int | None) -> float | None:
    return None if value is None else round(value / 1024 / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the API (default %(default)s)")
    parser.add_argument("--token", default=None, help="API token with the read and metrics scopes, if auth is on")
    parser.add_argument("--sse-clients", type=int, default=200)
    parser.add_argument("--rest-concurrency", type=int, default=8, help="REST clients reading back to back")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (default %(default)s)")
    parser.add_argument("--stall", type=float, default=5.0, help="an SSE client silent this long is lost")
    parser.add_argument("--pid", type=int, default=None, help="the API process, for its memory (RSS)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = parser.parse_args(argv)
    summary = asyncio.run(run(args.url, args.token, args.sse_clients, args.rest_concurrency, args.duration,
                              args.stall, args.pid))
    if args.json:
        print(json.dumps(summary))
    else:
        width = max(map(len, summary))
        for key, value in summary.items():
            print(f"{key:<{width}}  {value}")
    return 1 if summary["errors"] or summary["sse_lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
