"""Business-hours clocks: hand-computed cases (weekend, midnight, holiday, DST) and properties."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccpulse.domain.alerts import QueueSnapshot, breach_at, evaluate_queue
from ccpulse.domain.calendar import BusinessClock, Calendar, business_deadline, business_seconds, open_spans, parse_span
from ccpulse.domain.contact import add_event, event_record, fold_contact
from ccpulse.settings import BusinessHours, QueueSettings, Settings
from schemas.events import decode_event

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = Calendar.build({d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")})
H = 3600.0


def local(text: str, zone: ZoneInfo = BERLIN) -> float:
    """Epoch seconds of a local wall-clock time (``2026-03-06 17:30``) in ``zone``."""
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


# ---- hand-computed cases ---------------------------------------------------------------------------
def test_the_issue_example_an_email_over_a_weekend() -> None:
    # Queued Friday 17:30, answered Monday 08:45: 30 min on Friday + 45 min on Monday.
    start, end = local("2026-03-06 17:30"), local("2026-03-09 08:45")
    assert business_seconds(start, end, OFFICE, BERLIN) == 1 * H + 15 * 60
    assert end - start == 63 * H + 15 * 60  # the wall time reported beside it


def test_across_midnight() -> None:
    # Tuesday 17:00 -> Wednesday 09:00: 17-18 on Tuesday and 08-09 on Wednesday.
    assert business_seconds(local("2026-03-03 17:00"), local("2026-03-04 09:00"), OFFICE, BERLIN) == 2 * H
    # A night shift split at midnight (22:00-24:00 and 00:00-06:00) runs on across it.
    night = Calendar.build({"tue": ["22:00-24:00"], "wed": ["00:00-06:00"]})
    assert business_seconds(local("2026-03-03 23:00"), local("2026-03-04 01:30"), night, BERLIN) == 2.5 * H


def test_several_spans_a_day() -> None:
    lunch = Calendar.build({"mon": ["08:00-12:00", "13:00-17:00"]})
    # 11:00 -> 14:00 Monday: 11-12 and 13-14; the lunch hour does not count.
    assert business_seconds(local("2026-03-02 11:00"), local("2026-03-02 14:00"), lunch, BERLIN) == 2 * H
    assert business_deadline(local("2026-03-02 11:30"), 1 * H, lunch, BERLIN) == local("2026-03-02 13:30")


def test_a_holiday_is_closed() -> None:
    # 1 May 2026 is a Friday: Thursday 17:00 -> Monday 09:00 counts Thursday 17-18 and Monday 08-09.
    may_day = Calendar.build({d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}, [date(2026, 5, 1)])
    start, end = local("2026-04-30 17:00"), local("2026-05-04 09:00")
    assert business_seconds(start, end, may_day, BERLIN) == 2 * H
    assert business_seconds(start, end, OFFICE, BERLIN) == 12 * H  # without the holiday: + Friday's 10 h
    assert business_seconds(local("2026-05-01 09:00"), local("2026-05-01 17:00"), may_day, BERLIN) == 0


def test_dst_spring_forward_and_fall_back_in_berlin() -> None:
    sundays = Calendar.build({"sat": ["22:00-24:00"], "sun": ["00:00-24:00"]})
    # 29 March 2026 (last Sunday of March) has 23 hours, 25 October 2026 has 25.
    assert business_seconds(local("2026-03-28 22:00"), local("2026-03-30 00:00"), sundays, BERLIN) == 2 * H + 23 * H
    assert business_seconds(local("2026-10-24 22:00"), local("2026-10-26 00:00"), sundays, BERLIN) == 2 * H + 25 * H
    # 01:00-04:00 on the spring-forward night is two real hours (02:00 -> 03:00 does not exist).
    early = Calendar.build({"sun": ["01:00-04:00"]})
    assert business_seconds(local("2026-03-29 00:00"), local("2026-03-29 12:00"), early, BERLIN) == 2 * H
    # ... and four on the fall-back night (02:00-03:00 happens twice).
    assert business_seconds(local("2026-10-25 00:00"), local("2026-10-25 12:00"), early, BERLIN) == 4 * H


def test_deadline_is_the_inverse() -> None:
    start = local("2026-03-06 17:30")  # Friday
    # 4 business hours: 30 min on Friday, 3 h 30 min on Monday from 08:00.
    assert business_deadline(start, 4 * H, OFFICE, BERLIN) == local("2026-03-09 11:30")
    # Queued on Saturday: the clock starts on Monday at 08:00.
    assert business_deadline(local("2026-03-07 10:00"), 60, OFFICE, BERLIN) == local("2026-03-09 08:01")
    assert business_deadline(start, 0, OFFICE, BERLIN) == start
    assert business_deadline(start, 1, Calendar.build({}), BERLIN) is None  # never open: never reached


def test_parse_span_errors_are_clear() -> None:
    assert parse_span("08:00-18:00") == (480, 1080) and parse_span("00:00-24:00") == (0, 1440)
    for bad in ("8-18", "18:00-08:00", "08:00-25:00", "08:60-09:00", "nonsense"):
        with pytest.raises(ValueError, match="opening span"):
            parse_span(bad)
    with pytest.raises(ValueError, match="overlap"):
        Calendar.build({"mon": ["08:00-12:00", "11:00-13:00"]})
    with pytest.raises(ValueError, match="weekday"):
        Calendar.build({"monday": ["08:00-12:00"]})


# ---- properties --------------------------------------------------------------------------------------
ZONES = [ZoneInfo(z) for z in ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")]
T0 = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")).timestamp()


@st.composite
def calendars(draw) -> Calendar:
    hours = {}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
        spans = [f"{a * 15 // 60:02d}:{a * 15 % 60:02d}-{b * 15 // 60:02d}:{b * 15 % 60:02d}"
                 for a, b in zip(cuts[::2], cuts[1::2]) if a < b]
        hours[day] = spans
    holidays = draw(st.sets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=20))
    return Calendar.build(hours, holidays)


instants = st.floats(T0, T0 + 365 * 86400, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(calendars(), st.sampled_from(ZONES), instants, st.floats(0, 10 * 86400), st.floats(0, 1))
def test_business_time_is_at_most_wall_time_and_additive(calendar, zone, start, length, cut) -> None:
    end = start + length
    whole = business_seconds(start, end, calendar, zone)
    assert 0 <= whole <= end - start + 1e-6
    middle = start + cut * length
    parts = business_seconds(start, middle, calendar, zone) + business_seconds(middle, end, calendar, zone)
    assert parts == pytest.approx(whole, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(calendars(), st.sampled_from(ZONES), instants, st.floats(0, 10 * 86400))
def test_zero_inside_closed_hours(calendar, zone, start, length) -> None:
    end = start + length
    spans = open_spans(start, end, calendar, zone)
    gaps = zip([start, *(hi for _, hi in spans)], [*(lo for lo, _ in spans), end])
    for lo, hi in gaps:
        assert business_seconds(lo, hi, calendar, zone) == 0


@settings(max_examples=150, deadline=None)
@given(calendars(), st.sampled_from(ZONES), instants, st.floats(1, 30 * 3600))
def test_deadline_reaches_exactly_the_business_time(calendar, zone, start, seconds) -> None:
    deadline = business_deadline(start, seconds, calendar, zone)
    if deadline is None:
        assert business_seconds(start, start + 800 * 86400, calendar, zone) < seconds
        return
    assert business_seconds(start, deadline, calendar, zone) == pytest.approx(seconds, abs=1e-5)
    assert business_seconds(start, deadline - 1, calendar, zone) < seconds  # not reached any earlier


# ---- settings -----------------------------------------------------------------------------------------
def test_settings_clock_defaults_email_to_business_hours() -> None:
    settings_ = Settings(timezone="Europe/Berlin", queues={
        "vip_email": QueueSettings(sl_threshold_seconds=3600, sl_clock="calendar"),
        "night_voice": QueueSettings(sl_threshold_seconds=20, sl_clock="business_hours",
                                     business_hours=BusinessHours(hours={"sat": ["20:00-24:00"]},
                                                                  holidays=[date(2026, 12, 26)])),
    })
    email = settings_.sla_clock("support_mail", "email")
    assert email == BusinessClock(OFFICE, "Europe/Berlin")  # default hours Mon–Fri 08:00–18:00
    assert settings_.sla_clock("hotline", "voice") is None and settings_.sla_clock("web", "chat") is None
    assert settings_.sla_clock("vip_email", "email") is None  # overridden to wall time
    night = settings_.sla_clock("night_voice", "voice")
    assert night is not None and night.calendar.holidays == frozenset({date(2026, 12, 26)})
    with pytest.raises(ValueError, match="opening span"):
        BusinessHours(hours={"mon": ["18:00-08:00"]})


# ---- the clock in the contact fold and in live breach detection ------------------------------------------
EMAIL_CLOCK = BusinessClock(OFFICE, "Europe/Berlin")


def email_sla(queue: str, channel: str):
    return 4 * H, 5.0, EMAIL_CLOCK


def _fold(events, sla):
    recs: list = []
    for offset, e in enumerate(events):
        raw = orjson.dumps(e)
        add_event(recs, event_record(decode_event(raw), raw, "p0", offset))
    return fold_contact("m1", recs, sla)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")


def test_an_email_answered_after_the_weekend_is_within_its_business_threshold() -> None:
    queued, answered = local("2026-03-06 17:30"), local("2026-03-09 08:45")
    events = [
        {"event_id": "e1", "type": "contact.queued", "occurred_at": _iso(queued), "contact_id": "m1",
         "queue_id": "mail", "channel": "email"},
        {"event_id": "e2", "type": "contact.answered", "occurred_at": _iso(answered), "contact_id": "m1",
         "agent_id": "a1"},
    ]
    fold = _fold(events, email_sla)
    bucket = fold.contributions[f"queue|mail|{int(answered // 900 * 900)}"]
    assert bucket["wait_answered_ms"] == 227_700_000  # 63 h 15 min of wall time
    assert bucket["wait_answered_business_ms"] == 4_500_000  # 1 h 15 min of business time
    assert bucket["answered_within_sl"] == 1  # within 4 business hours
    assert fold.summary["breached"] is False and fold.summary["wait_business_seconds"] == 4500.0
    # On a wall clock the same email breached its 4 hours long ago.
    wall = _fold(events, lambda q, c: (4 * H, 5.0))
    assert "answered_within_sl" not in wall.contributions[f"queue|mail|{int(answered // 900 * 900)}"]
    assert wall.summary["breached"] is True


def test_live_breach_waits_for_opening_hours_and_fires_at_the_right_instant() -> None:
    email = QueueSettings(sl_threshold_seconds=4 * H)
    queued = local("2026-03-06 17:30")  # Friday
    snap = QueueSnapshot("mail", (queued,), agents_staffed=1)

    def breached(now: float) -> bool:
        return {c.rule: c for c in evaluate_queue(snap, email, now, EMAIL_CLOCK)}["contact_waiting_over_threshold"].active

    assert breach_at(queued, 4 * H, EMAIL_CLOCK) == local("2026-03-09 11:30")
    assert not breached(local("2026-03-07 03:00"))  # overnight and on the weekend: no breach
    assert not breached(local("2026-03-08 23:59"))
    assert not breached(local("2026-03-09 11:29:59"))
    assert breached(local("2026-03-09 11:30:01"))
    # The longest-wait levels (2 × and 4 × the threshold) are business time too.
    rules = {c.rule: c for c in evaluate_queue(snap, email, local("2026-03-09 11:30:01"), EMAIL_CLOCK)}
    assert rules["longest_wait_warning"].active is False and rules["longest_wait_warning"].value == pytest.approx(4 * H + 1)
    # Wall time (no clock): breached on Friday night already.
    assert {c.rule: c for c in evaluate_queue(snap, email, local("2026-03-06 21:31"))}["contact_waiting_over_threshold"].active


def test_a_holiday_moves_the_breach_a_day_later() -> None:
    clock = BusinessClock(Calendar.build({d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                                         [date(2026, 3, 9)]), "Europe/Berlin")
    queued = local("2026-03-06 17:30")
    assert breach_at(queued, 4 * H, clock) == local("2026-03-10 11:30")
    snap = QueueSnapshot("mail", (queued,), agents_staffed=1)
    on_holiday = {c.rule: c for c in evaluate_queue(snap, QueueSettings(sl_threshold_seconds=4 * H),
                                                    local("2026-03-09 15:00"), clock)}
    assert not on_holiday["contact_waiting_over_threshold"].active
    assert business_seconds(queued, local("2026-03-10 11:30") + timedelta(seconds=1).total_seconds(),
                            clock.calendar, BERLIN) > 4 * H
