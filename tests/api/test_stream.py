"""The SSE stream (first snapshot, queue filter, clean end on disconnect) and a queue's waiting contacts."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import orjson
import pytest

from api.routes import stream as stream_module
from api.deps import split_ids
from api.routes.stream import SnapshotCache, StreamFilter
from ccpulse.readmodel.views import mask, queue_views
from tests.api.conftest import NOW, contact, put


async def _read_sse(app: Any, query: str = "", events: int = 1, disconnect: bool = True) -> tuple[int, dict[str, str], list[tuple[str, str]]]:
    """Drive the ASGI app like a server: collect SSE frames until ``events`` snapshots arrived, then
    disconnect the client and require the app to return (the stream ends cleanly)."""
    status, headers, body = 0, {}, b""
    enough = asyncio.Event()
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await enough.wait()
        if not disconnect:
            await asyncio.Event().wait()  # a client that never goes away
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers, body
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")
            if body.count(b"event: snapshot") >= events:
                enough.set()

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": "/api/v1/stream", "raw_path": b"/api/v1/stream", "root_path": "",
             "query_string": query.encode(), "headers": [(b"host", b"test")], "client": ("127.0.0.1", 1),
             "server": ("test", 80)}
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    frames: list[tuple[str, str]] = []
    if status != 200:  # an error answer (401, 403, 422) is JSON, not a stream
        return status, headers, [("error", body.decode())]
    for block in body.decode().split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        if lines[0].startswith(":"):
            frames.append(("comment", lines[0]))
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        frames.append((fields.get("event", "message"), fields.get("data", fields.get("retry", ""))))
    return status, headers, frames


def _snapshots(frames: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [orjson.loads(data) for kind, data in frames if kind == "snapshot"]


def _alert(store, queue_id: str, state: str = "firing") -> None:
    store.apply_alert(f"{queue_id}:no_agents_available:1".encode(), orjson.dumps({
        "id": f"{queue_id}:no_agents_available:1", "state": state, "severity": "critical", "queue_id": queue_id,
        "rule": "no_agents_available", "summary": "nobody staffed", "value": 0.0, "threshold": 0.0,
        "started_at": NOW - 10, "resolved_at": None}))


def test_first_snapshot_at_once_with_everything(app, centre, frozen) -> None:
    _alert(centre, "vip")
    status, headers, frames = asyncio.run(_read_sse(app))
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    snap = _snapshots(frames)[0]
    assert snap["generated_at"] == "2026-03-02T09:20:00Z"
    assert {q["queue_id"] for q in snap["queues"]} == {"sales", "support", "vip"}
    assert snap["summary"]["live"]["waiting"] == 3
    assert {a["agent_id"] for a in snap["agents"]} == {"a1", "a2", "a3", "a5"}  # offline a4 left out
    assert [a["queue_id"] for a in snap["alerts"]] == ["vip"]
    assert snap["alerts"][0]["started_at"] == "2026-03-02T09:19:50Z"


@pytest.mark.parametrize("query", ["queue_id=sales&queue_id=vip", "queue_id=sales,vip", "queue_id=vip,%20sales"])
def test_snapshot_filtered_by_queue(app, centre, frozen, query) -> None:
    _alert(centre, "support")
    _alert(centre, "vip")
    _, _, frames = asyncio.run(_read_sse(app, query))
    snap = _snapshots(frames)[0]
    assert [q["queue_id"] for q in snap["queues"]] == ["sales", "vip"]
    sales = snap["queues"][0]
    assert sales["live"]["waiting"] == 1 and sales["live"]["longest_wait_seconds"] == 30.0
    assert {a["agent_id"] for a in snap["agents"]} == {"a1", "a2", "a5"}  # staffed on sales or vip
    assert [a["queue_id"] for a in snap["alerts"]] == ["vip"]
    assert snap["summary"]["live"]["waiting"] == 3  # the centre row stays centre-wide


def test_keepalive_between_snapshots_and_updates_show(app, centre, frozen) -> None:
    _, _, frames = asyncio.run(_read_sse(app, "queue_id=sales", events=2))
    kinds = [kind for kind, _ in frames]
    assert kinds[0] == "message"  # the retry: hint
    first, second = kinds.index("snapshot"), kinds.index("snapshot", kinds.index("snapshot") + 1)
    assert "comment" in kinds[first + 1:second]
    assert frames[kinds.index("comment")][1] == ": keepalive"


def test_stream_ends_on_server_shutdown(app, centre, frozen, monkeypatch) -> None:
    """uvicorn waits for open responses on SIGTERM: the stream must end by itself then."""
    stopping = threading.Event()
    stopping.set()
    monkeypatch.setattr(stream_module, "_shutdown", stopping)
    status, _, frames = asyncio.run(_read_sse(app, events=1, disconnect=False))
    assert status == 200
    assert _snapshots(frames) == []


def test_snapshot_built_once_per_period_and_shared(centre, monkeypatch) -> None:
    monkeypatch.setattr(centre, "event_now", lambda: NOW)
    cache = SnapshotCache(centre, max_age=60)

    def get(wanted: StreamFilter) -> bytes:
        return asyncio.run(cache.get(wanted))

    first = get(StreamFilter(queue_ids=("sales",)))
    contact(centre, "c9", "waiting", "sales", "voice", NOW - 1)
    assert get(StreamFilter(queue_ids=("sales",))) is first  # shared until it ages
    assert cache.builds == 1
    get(StreamFilter())
    assert cache.builds == 2  # another filter, another snapshot
    cache.max_age = 0
    assert orjson.loads(get(StreamFilter(queue_ids=("sales",))))["queues"][0]["live"]["waiting"] == 2


def test_split_ids() -> None:
    assert split_ids(None) == ()
    assert split_ids(["b,a", "c", " a ,"]) == ("a", "b", "c")


def test_queue_contacts_longest_first_and_masked(client, centre, frozen) -> None:
    put(centre, "contact|c7", {"kind": "contact", "contact_id": "c7", "status": "waiting", "queue_id": "sales",
                               "channel": "voice", "queued_at": NOW - 90, "priority": 2, "customer_id": "cust-0047",
                               "agent_id": None, "answered_at": None, "on_hold": False})
    response = client.get("/api/v1/queues/sales/contacts")
    assert response.status_code == 200
    body = response.json()
    assert body["queue_id"] == "sales"
    assert [(c["contact_id"], c["wait_seconds"]) for c in body["contacts"]] == [("c7", 90.0), ("c1", 30.0)]  # c3 is in progress
    assert body["contacts"][0] == {"contact_id": "c7", "channel": "voice", "queued_at": "2026-03-02T09:18:30Z",
                                   "wait_seconds": 90.0, "priority": 2, "customer_id": "c***7"}
    assert body["contacts"][1]["customer_id"] is None
    assert "cust-0047" not in response.text


def test_queue_contacts_empty_and_unknown(client, centre, frozen) -> None:
    assert client.get("/api/v1/queues/vip/contacts").json()["contacts"][0]["contact_id"] == "c5"
    assert client.get("/api/v1/queues/nope/contacts").status_code == 404
    assert client.get("/api/v1/queues/nope/contacts").json() == {"detail": "unknown queue 'nope'"}


def test_mask() -> None:
    assert mask("cust-47") == "c***7"
    assert mask("ab") == "***"
    assert mask(None) is None


def test_wallboard_page_served(client) -> None:
    response = client.get("/wallboard")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "EventSource" in response.text and "/api/v1/stream" in response.text
    assert "innerHTML" not in response.text  # data goes into the DOM as text only


def test_clients_asking_while_a_snapshot_builds_share_it(centre, monkeypatch) -> None:
    monkeypatch.setattr(centre, "event_now", lambda: NOW)
    cache = SnapshotCache(centre, max_age=60)

    async def three_clients() -> list[bytes]:
        return await asyncio.gather(*(cache.get(StreamFilter(queue_ids=("sales",))) for _ in range(3)))

    first, second, third = asyncio.run(three_clients())
    assert first is second is third and cache.builds == 1
    assert asyncio.run(cache.get(StreamFilter(queue_ids=("sales",)))) is first  # the cached one
    cache.max_age = 0
    fresh = orjson.loads(asyncio.run(cache.get(StreamFilter())))
    # Built paced, the queues are those built in one go.
    assert fresh["queues"] == orjson.loads(orjson.dumps(queue_views(centre, NOW)))
