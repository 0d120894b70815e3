"""Connector translation inside the workers: a raw platform topic in, contract topics out.

Enabled by ``CCPULSE_CONNECTORS__AMAZON_CONNECT__RAW_TOPIC`` (e.g. a topic a Kinesis source connector
fills with agent event stream records and EventBridge contact events). Each raw message is mapped by
the same pure mapping the CLI and the API use (``ccpulse.connectors.amazon_connect``); its events are
produced to their contract topics with their contract keys, so the usual agents then process them like
any producer's. What cannot be mapped is dead-lettered with the original bytes, topic, partition and
offset. Translation is stateless per record, so any worker can translate any partition, and a record
read again after a rebalance gives the same event ids.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from ccpulse.connectors import Rejected
from ccpulse.connectors.amazon_connect import map_record
from ccpulse.connectors.sink import Sink
from ccpulse.settings import Settings

__all__ = ["AmazonConnectTranslator"]

log = logging.getLogger("ccpulse.worker")


class _FaustProducer:
    """The Sink's producer interface over the Faust app's own producer."""

    def __init__(self, app: faust.App) -> None:
        self.app = app
        self.topics: dict[str, faust.TopicT] = {}

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> Any:
        if topic not in self.topics:
            self.topics[topic] = self.app.topic(topic)
        return await self.topics[topic].send(key=key, value=value)


class AmazonConnectTranslator:
    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.settings = settings
        self.producer = _FaustProducer(app)

    async def process(self, events: list[faust.EventT]) -> None:
        import orjson

        options = self.settings.connectors.amazon_connect
        sink = Sink(self.settings, self.producer, self.settings.connectors.amazon_connect.raw_topic or "amazon-connect")
        for event in events:
            message = event.message
            raw = message.value or b""
            try:
                try:
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise Rejected("not_json", "the message is not JSON") from None
                mapped = map_record(record, options)
            except Rejected as exc:
                await sink.dead_letter(raw, exc.reason, exc.message, message.offset, partition=message.partition,
                                       key=message.key)
            else:
                if mapped:
                    await sink.emit(mapped, raw, message.offset)
        await sink.flush()  # the batch's events are acknowledged before its offsets are
