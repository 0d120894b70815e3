"""Alert webhook delivery: JSON POST, HMAC-signed body, retries with backoff, never blocking.

Stream processing only *enqueues* (a bounded queue; when it is full the oldest
undelivered alert is dropped and counted). A background task delivers.
Receivers verify ``X-Ccpulse-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any

import aiohttp
import orjson

__all__ = ["WebhookSender", "sign"]

log = logging.getLogger("ccpulse.webhook")


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, url: str, secret: str | None, *, attempts: int = 5, backoff: float = 0.5, maxsize: int = 1000) -> None:
        self.url = url
        self.secret = secret
        self.attempts = attempts
        self.backoff = backoff
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=maxsize)
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def enqueue(self, alert: dict[str, Any]) -> None:
        body = orjson.dumps(alert)
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(body)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alert-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                body = await self.queue.get()
                await self._deliver(session, body)

    async def _deliver(self, session: aiohttp.ClientSession, body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers["X-Ccpulse-Signature"] = sign(self.secret, body)
        for attempt in range(self.attempts):
            try:
                async with session.post(self.url, data=body, headers=headers) as response:
                    if response.status < 300:
                        self.delivered += 1
                        return
                    if 400 <= response.status < 500 and response.status not in (408, 429):
                        break  # the receiver refuses it; retrying will not help
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                log.warning("alert webhook %s: %s (attempt %d)", self.url, exc, attempt + 1)
            await asyncio.sleep(self.backoff * 2**attempt)
        self.failed += 1
        log.error("alert webhook %s: giving up on one alert after %d attempts", self.url, self.attempts)
