"""Webhook delivery against a real HTTP server on loopback: signed, retried, non-blocking."""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from aiohttp import web

from ccpulse.webhook import WebhookSender, sign


def test_delivers_signed_json_and_retries_after_failures() -> None:
    received: list[tuple[bytes, str]] = []
    calls = {"n": 0}

    async def handler(request: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] <= 2:  # the receiver is down twice
            return web.Response(status=503)
        received.append((await request.read(), request.headers["X-Ccpulse-Signature"]))
        return web.Response(status=204)

    async def go() -> WebhookSender:
        app = web.Application()
        app.router.add_post("/hook", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        sender = WebhookSender(f"http://127.0.0.1:{port}/hook", "s3cret", backoff=0.01)
        sender.start()
        sender.enqueue({"id": "q:sl_below_target:1", "state": "firing"})  # returns at once
        for _ in range(200):
            if sender.delivered:
                break
            await asyncio.sleep(0.02)
        await sender.stop()
        await runner.cleanup()
        return sender

    sender = asyncio.run(go())
    assert sender.delivered == 1 and calls["n"] == 3
    body, signature = received[0]
    assert body == b'{"id":"q:sl_below_target:1","state":"firing"}'
    assert signature == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest() == sign("s3cret", body)


def test_a_full_queue_drops_the_oldest_instead_of_blocking() -> None:
    async def go() -> WebhookSender:
        sender = WebhookSender("http://127.0.0.1:9/none", None, maxsize=2)
        for n in range(5):
            sender.enqueue({"n": n})
        return sender

    sender = asyncio.run(go())
    assert sender.dropped == 3 and sender.queue.qsize() == 2
