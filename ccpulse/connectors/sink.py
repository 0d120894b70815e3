"""Where every connector driver sends what its mapping produced: contract topics or the dead-letter topic.

Each mapped event is checked with the contract's own ``decode_event`` before it is sent (a
platform value the contract cannot hold, such as a 300-character queue name, is caught here,
not by a worker); it goes to its topic keyed by its entity id, exactly as a producer written
against docs/events.md would send it. A record the mapping rejected, or an event the contract
rejects, goes to ``cc.deadletter`` with the platform's original bytes and the reason, and is
counted (the API's ``ccpulse_events_rejected_total`` counts dead-letter records by their
``topic`` field, here the connector's source name).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from ccpulse.connectors import Event
from ccpulse.kafka import topic_for_type
from ccpulse.settings import Settings
from schemas.deadletter import deadletter_record
from schemas.events import EventRejected, decode_event, entity_key

__all__ = ["Producer", "Sink", "checked"]


class Producer(Protocol):
    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> "asyncio.Future[Any]": ...


def checked(events: Iterable[Event]) -> list[tuple[str, bytes, bytes]]:
    """(event type, key, value) of each event, or :class:`EventRejected` for the first the contract refuses."""
    out = []
    for event in events:
        raw = orjson.dumps(event)
        decoded = decode_event(raw)
        out.append((decoded.type, entity_key(decoded).encode(), raw))
    return out


class Sink:
    """Sends mapped events and dead letters through one producer, counting both."""

    def __init__(self, settings: Settings, producer: Producer, source: str) -> None:
        self.settings = settings
        self.producer = producer
        self.source = source
        self.sent = 0
        self.rejected: Counter[str] = Counter()
        self._pending: list[asyncio.Future[Any]] = []

    async def emit(self, events: list[Event], raw: bytes, offset: int = -1) -> bool:
        """Send the events of one platform record; dead-letter the record if the contract refuses one."""
        try:
            wire = checked(events)
        except EventRejected as exc:
            await self.dead_letter(raw, exc.reason, f"mapped event refused by the contract: {exc.message}", offset)
            return False
        for kind, key, value in wire:
            self._pending.append(await self.producer.send(topic_for_type(self.settings, kind), value, key=key))
            self.sent += 1
        return True

    async def dead_letter(self, raw: bytes, reason: str, message: str, offset: int = -1, *, partition: int = -1,
                          key: bytes | None = None) -> None:
        record = deadletter_record(raw=raw, key=key, topic=self.source, partition=partition, offset=offset,
                                   reason=reason, message=message)
        self._pending.append(await self.producer.send(self.settings.topics.deadletter, record, key=key))
        self.rejected[reason] += 1

    async def flush(self) -> None:
        """Wait until the broker has acknowledged everything sent so far."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)
