"""Business-hours clocks: how much *open* time lies between two instants, and its inverse.

An email queue promising "an answer within 4 hours" means 4 hours the centre is open: an
email queued Friday 17:30 with opening hours Mon–Fri 08:00–18:00 and answered Monday 08:45
waited 1 h 15 min of business time (63 h 15 min of wall time). Service-level thresholds,
waits, first-response and resolution times of a queue whose SLA clock is ``business_hours``
are measured with :func:`business_seconds`; live breach timing uses its inverse,
:func:`business_deadline`.

A :class:`Calendar` is weekly opening spans in local wall-clock time (several per day, e.g.
08:00–12:00 and 13:00–17:00) plus closed dates (holidays). Spans are turned into absolute
instants day by day in the IANA zone, so a day on a DST change is open for the wall-clock
hours it really has (a span 01:00–04:00 on the last Sunday of March in Europe/Berlin lasts
two hours). Because the open instants form one fixed set, business time is additive: split
an interval anywhere and the parts add up to the whole.

Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "WEEKDAYS",
    "BusinessClock",
    "Calendar",
    "business_deadline",
    "business_seconds",
    "open_spans",
    "parse_span",
]

#: Weekday keys in ``datetime.weekday()`` order (Monday = 0).
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: How many local days :func:`business_deadline` looks ahead before giving up (a calendar that is
#: closed for longer than this – or always – never reaches a deadline).
MAX_LOOKAHEAD_DAYS = 800

Span = tuple[int, int]  # (start minute, end minute) of a local day, 0 <= start < end <= 1440


def parse_span(text: str) -> Span:
    """``"08:00-18:00"`` -> (480, 1080). ``24:00`` ends a span at midnight. Raises ValueError."""
    try:
        left, right = (part.strip() for part in text.split("-"))
        start, end = _minute(left), _minute(right)
    except ValueError:
        raise ValueError(f"opening span {text!r} is not HH:MM-HH:MM (e.g. 08:00-18:00)") from None
    if not 0 <= start < end <= 1440:
        raise ValueError(f"opening span {text!r} must start before it ends, within one day (00:00-24:00)")
    return start, end


def _minute(text: str) -> int:
    hours, minutes = text.split(":")
    if len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit() or int(minutes) > 59:
        raise ValueError(text)
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class Calendar:
    """Weekly opening hours (local wall-clock spans per weekday, Monday first) and closed dates.

    Spans of one day must not overlap (``Calendar.build`` checks and sorts them).
    """

    weekly: tuple[tuple[Span, ...], ...]  # 7 entries, Monday first
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def build(cls, hours: Mapping[str, Iterable[str]], holidays: Iterable[date] = ()) -> "Calendar":
        """From ``{"mon": ["08:00-18:00"], ...}`` (missing days are closed) and holiday dates."""
        unknown = set(hours) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekday(s) {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
        weekly = []
        for day in WEEKDAYS:
            spans = sorted(parse_span(text) for text in hours.get(day, ()))
            for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
                if start < end:
                    raise ValueError(f"opening spans of {day} overlap")
            weekly.append(tuple(spans))
        return cls(tuple(weekly), frozenset(holidays))

    @property
    def ever_open(self) -> bool:
        return any(self.weekly)


@dataclass(frozen=True)
class BusinessClock:
    """A queue's SLA clock: its calendar in its IANA zone. (Wall-clock queues have none.)"""

    calendar: Calendar
    zone: str

    def seconds(self, start: float, end: float) -> float:
        """Open seconds in [start, end) (see :func:`business_seconds`)."""
        return business_seconds(start, end, self.calendar, ZoneInfo(self.zone))

    def deadline(self, start: float, seconds: float) -> float | None:
        """When ``seconds`` of open time since ``start`` have passed (see :func:`business_deadline`)."""
        return business_deadline(start, seconds, self.calendar, ZoneInfo(self.zone))


@lru_cache(maxsize=65536)
def _day_spans(day: date, calendar: Calendar, zone: ZoneInfo) -> tuple[tuple[float, float], ...]:
    """The open spans of one local date as epoch-second intervals (empty on holidays)."""
    if day in calendar.holidays:
        return ()
    midnight = datetime(day.year, day.month, day.day)
    out = []
    for start_min, end_min in calendar.weekly[day.weekday()]:
        # Local wall-clock boundaries; a time in a DST gap or fold resolves with fold=0, as
        # zoneinfo does. Clip so a span can never end before it starts around a transition.
        start = (midnight + timedelta(minutes=start_min)).replace(tzinfo=zone).timestamp()
        end = (midnight + timedelta(minutes=end_min)).replace(tzinfo=zone).timestamp()
        if end > start:
            out.append((start, end))
    return tuple(out)


def open_spans(start: float, end: float, calendar: Calendar, zone: ZoneInfo) -> list[tuple[float, float]]:
    """The open parts of [start, end), as (from, to) epoch-second pairs in time order."""
    if end <= start:
        return []
    day = datetime.fromtimestamp(start, zone).date() - timedelta(days=1)  # a span may start the day before
    last = datetime.fromtimestamp(end, zone).date()
    out = []
    while day <= last:
        for span_start, span_end in _day_spans(day, calendar, zone):
            lo, hi = max(start, span_start), min(end, span_end)
            if hi > lo:
                out.append((lo, hi))
        day += timedelta(days=1)
    return out


def business_seconds(start: float, end: float, calendar: Calendar, zone: ZoneInfo) -> float:
    """Seconds of [start, end) that fall within the calendar's opening hours in ``zone``.

    0 when ``end <= start``. Never more than ``end - start``; additive: for any ``start <= m <=
    end``, ``business_seconds(start, m) + business_seconds(m, end) == business_seconds(start, end)``.
    """
    return sum(hi - lo for lo, hi in open_spans(start, end, calendar, zone))


def business_deadline(start: float, seconds: float, calendar: Calendar, zone: ZoneInfo) -> float | None:
    """The first instant ``t`` at which ``business_seconds(start, t) >= seconds``.

    E.g. the instant an email queued at ``start`` reaches its 4-hour business threshold. With
    ``seconds <= 0`` that is ``start``; None when the calendar opens for less than ``seconds``
    within :data:`MAX_LOOKAHEAD_DAYS` (a calendar that never opens never reaches a deadline).
    """
    if seconds <= 0:
        return start
    if not calendar.ever_open:
        return None
    remaining = seconds
    day = datetime.fromtimestamp(start, zone).date() - timedelta(days=1)
    for _ in range(MAX_LOOKAHEAD_DAYS + 2):
        for span_start, span_end in _day_spans(day, calendar, zone):
            lo = max(start, span_start)
            if span_end <= lo:
                continue
            if span_end - lo >= remaining:
                return lo + remaining
            remaining -= span_end - lo
        day += timedelta(days=1)
    return None
