"""Platform connectors: each maps one platform's own records to contract v1 events.

A connector is a pure mapping (``ccpulse/connectors/<platform>.py``: record in, contract
events or a :class:`Rejected` out, no I/O) plus a thin driver (a file tail, an HTTP route, a
Faust agent) that hands the mapped events to a :class:`ccpulse.connectors.sink.Sink`.

Rules every mapping keeps (docs/connectors.md):

- event ids are derived from the platform's own ids (:func:`stable_id`), so reading a record
  twice produces the same events and the workers' de-duplication drops the second copy;
- timestamps are the platform's own (whole seconds where the platform writes whole seconds);
- a record that cannot be mapped raises :class:`Rejected` with a machine-readable reason: the
  driver dead-letters the original record with it and goes on.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

__all__ = ["Event", "Rejected", "iso", "stable_id"]

#: A contract event as a plain dict (what goes on the wire, once checked by ``decode_event``).
Event = dict[str, Any]


class Rejected(Exception):
    """A platform record that cannot become contract events, with a machine-readable reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message[:500]


def stable_id(platform: str, *parts: object) -> str:
    """A deterministic event id from a platform's own ids (the same parts give the same id).

    Hashed so that long platform ids (ARNs, queue_log lines) fit the contract's 128 characters.
    """
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f"{platform}-{digest}"


def iso(epoch: float) -> str:
    """RFC 3339 (UTC) of epoch seconds; whole seconds stay whole (no invented fraction)."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    if moment.microsecond:
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
