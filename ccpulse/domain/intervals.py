"""Event-time intervals.

The worker stores only 15-minute buckets (UTC-aligned). Hourly, daily, monthly and yearly
figures are sums of 15-minute buckets: every real-world UTC offset is a multiple of
15 minutes, so local hours and local days (in any IANA zone, DST included) are
exact unions of 15-minute buckets.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "AGENT_QUEUE",
    "AGENT_QUEUE_SEP",
    "BUCKET_SECONDS",
    "GRANULARITIES",
    "LAST_INSTANT",
    "Granularity",
    "bucket_start",
    "bucket_starts",
    "interval_end",
    "local_start",
    "interval_start",
    "agent_queue",
    "is_late",
    "iso",
    "parse_time",
    "split_agent_queue",
]

BUCKET_SECONDS = 900

#: The dimension of an agent's figures on one queue: every contact measure credited to an agent is
#: also credited to ``agentq|<agent>\x1f<queue>``, so a token limited to queues can be shown an
#: agent's work on its queues only (summed over queues, these series equal the agent's series).
#: The separator is a control character, which the event contract refuses in ids (``invalid_id``),
#: so every (agent, queue) pair has one entity id and it splits back unambiguously.
AGENT_QUEUE = "agentq"
AGENT_QUEUE_SEP = "\x1f"


def agent_queue(agent_id: str, queue_id: str) -> str:
    """The ``agentq`` entity id of an agent's work on one queue."""
    return f"{agent_id}{AGENT_QUEUE_SEP}{queue_id}"


def split_agent_queue(entity: str) -> tuple[str, str]:
    """(agent id, queue id) of an ``agentq`` entity id."""
    agent_id, _, queue_id = entity.rpartition(AGENT_QUEUE_SEP)
    return agent_id, queue_id
Granularity = Literal["15m", "1h", "1d", "1mo", "1y"]
GRANULARITIES: tuple[str, ...] = ("15m", "1h", "1d", "1mo", "1y")


def split_bucket_key(key: str) -> tuple[str, str, int]:
    """(dimension, entity, start) of a bucket key ``dimension|entity|start``. The entity is whatever lies
    between the first and the last ``|``: contract ids may contain ``|`` (an ACD's composite ids do)."""
    dimension, _, rest = key.partition("|")
    entity, _, start = rest.rpartition("|")
    return dimension, entity, int(start)


def bucket_start(t: float) -> float:
    """Start (epoch seconds) of the 15-minute bucket holding instant ``t``."""
    return float(int(t // BUCKET_SECONDS) * BUCKET_SECONDS)


def interval_start(t: float, granularity: str, zone: ZoneInfo) -> float:
    """Start of the ``granularity`` interval holding ``t``, in ``zone``'s wall-clock calendar."""
    if granularity == "15m":
        return bucket_start(t)
    local = datetime.fromtimestamp(t, zone)
    if granularity == "1h":
        # Local hours may be offset from UTC hours (e.g. +05:30); floor in local time.
        floored = local.replace(minute=0, second=0, microsecond=0)
        # Around a DST fold the replaced time can be ambiguous; keep the one at or before t.
        start = floored.timestamp()
        return start if start <= t else floored.replace(fold=1).timestamp()
    if granularity == "1d":
        return datetime(local.year, local.month, local.day, tzinfo=zone).timestamp()
    if granularity == "1mo":  # a calendar month (reports)
        return datetime(local.year, local.month, 1, tzinfo=zone).timestamp()
    if granularity == "1y":
        return datetime(local.year, 1, 1, tzinfo=zone).timestamp()
    raise ValueError(f"unknown granularity {granularity!r}; use one of {', '.join(GRANULARITIES)}")


#: The last instant a period may end at: 9999-12-31T23:59:59Z. Python's datetime stops at the end
#: of 9999, so a period that would end at (local) 10000-01-01 ends here instead — a second of the
#: year 9999 short, where no event can be (the contract takes 2000 to 2100).
LAST_INSTANT = 253402300799.0


def local_start(year: int, month: int, day: int, zone: ZoneInfo) -> float:
    """Epoch seconds of a local calendar day's start; :data:`LAST_INSTANT` from year 10000 on."""
    if year > 9999:
        return LAST_INSTANT
    return min(datetime(year, month, day, tzinfo=zone).timestamp(), LAST_INSTANT)


def interval_end(start: float, granularity: str, zone: ZoneInfo) -> float:
    """End of the interval starting at ``start`` (a local day can last 23 or 25 hours)."""
    if granularity == "15m":
        return min(start + BUCKET_SECONDS, LAST_INSTANT)
    if granularity == "1h":
        return min(start + 3600, LAST_INSTANT)
    if granularity == "1d":
        local = datetime.fromtimestamp(start, zone).replace(tzinfo=None)
        if local.date() == date.max:
            return LAST_INSTANT
        nxt = local + timedelta(days=1)
        return local_start(nxt.year, nxt.month, nxt.day, zone)
    if granularity in ("1mo", "1y"):
        local = datetime.fromtimestamp(start, zone)
        if granularity == "1y" or local.month == 12:
            return local_start(local.year + 1, 1, 1, zone)
        return local_start(local.year, local.month + 1, 1, zone)
    raise ValueError(f"unknown granularity {granularity!r}; use one of {', '.join(GRANULARITIES)}")


def bucket_starts(start: float, granularity: str, zone: ZoneInfo) -> range:
    """Every 15-minute bucket start of the interval of ``granularity`` that begins at ``start``."""
    return range(int(start), int(interval_end(start, granularity, zone)), BUCKET_SECONDS)


def is_late(t: float, watermark: float, lateness: float) -> bool:
    """An event at ``t`` is late when it lies more than ``lateness`` behind the watermark (the
    highest event time already seen on its partition) – never judged against the wall clock."""
    return t < watermark - lateness


def iso(t: float, zone: ZoneInfo | None = None) -> str:
    """RFC 3339 text of epoch seconds ``t`` (UTC ``Z`` unless a zone is given; in UTC from
    :data:`LAST_INSTANT` on, which some zones would put in the year 10000)."""
    if zone is None or t >= LAST_INSTANT:
        t = min(t, LAST_INSTANT)
        return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")
    return datetime.fromtimestamp(t, zone).isoformat()


def parse_time(text: str) -> float:
    """Epoch seconds of an RFC 3339 time; a time without offset is rejected (ambiguous)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset; add Z or +07:00")
    return value.timestamp()
