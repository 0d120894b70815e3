"""The Asterisk queue_log mapping against a hand-written morning (tests/ccpulse/connectors/asterisk_day.py)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import orjson
import pytest

from ccpulse.connectors import Rejected, iso
from ccpulse.connectors.asterisk import QueueLogMapper, parse_line
from ccpulse.settings import AsteriskSettings
from schemas.events import decode_event
from tests.ccpulse.connectors import asterisk_day as day

OPTIONS = AsteriskSettings(wrapup_seconds=day.WRAPUP, agents=day.AGENTS, queue_extensions=day.QUEUE_EXTENSIONS,
                           exit_key_reasons=day.EXIT_KEYS)


def feed(lines: list[str], mapper: QueueLogMapper | None = None, zone: ZoneInfo | None = None,
         finish: bool = True) -> tuple[list[dict], list[tuple[int, str]], QueueLogMapper]:
    """What a driver does: due wrap-ups, then the line's events; rejects by line index."""
    mapper = mapper or QueueLogMapper(OPTIONS)
    events: list[dict] = []
    rejects: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        try:
            record = parse_line(line, zone)
            if record is None:
                continue
            events += mapper.due(record.at)
            events += mapper.map(record)
        except Rejected as exc:
            rejects.append((index, exc.reason))
    if finish:
        events += mapper.due(float("inf"))
    return events, rejects, mapper


def test_contact_events_are_the_hand_worked_ones_in_platform_order() -> None:
    events, _, _ = feed(day.LINES)
    got = [(e["occurred_at"], e["type"], e["contact_id"],
            {k: v for k, v in e.items() if k not in ("type", "event_id", "occurred_at", "source", "contact_id")})
           for e in events if e["type"].startswith("contact.")]
    want = [(iso(day.T0 + t), kind, contact, fields) for t, kind, contact, fields in day.CONTACT_EVENTS]
    assert got == want


def test_agent_states_keep_each_members_queues_pause_and_call() -> None:
    events, _, _ = feed(day.LINES)
    for agent, changes in day.AGENT_CHANGES.items():
        got = [(e["occurred_at"], e["state"], e.get("reason"), e["queue_ids"])
               for e in events if e["type"] == "agent.state_changed" and e["agent_id"] == agent]
        assert got == [(iso(day.T0 + t), state, reason, queues) for t, state, reason, queues in changes], agent
    assert {e["agent_id"] for e in events if e["type"] == "agent.state_changed"} == set(day.AGENT_CHANGES)


def test_bad_lines_are_rejected_with_reasons_and_the_rest_goes_on() -> None:
    events, rejects, mapper = feed(day.LINES)
    assert rejects == day.BAD
    assert mapper.ring_no_answer == {"bob": 1}  # counted, no state change
    assert mapper.ignored == 2  # QUEUESTART, CONFIGRELOAD


def test_every_event_is_a_valid_contract_event_with_a_unique_deterministic_id() -> None:
    events, _, _ = feed(day.LINES)
    for event in events:
        decode_event(orjson.dumps(event))
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids))
    again, _, _ = feed(day.LINES)
    assert [e["event_id"] for e in again] == ids  # reading the file twice produces the same ids


def test_whole_second_times_stay_whole() -> None:
    events, _, _ = feed(day.LINES)
    assert all(e["occurred_at"].endswith(":00Z") or "." not in e["occurred_at"] for e in events)
    assert iso(day.T0 + 72) == "2026-03-02T09:01:12Z"


def test_restart_from_saved_state_gives_the_same_events() -> None:
    whole, _, _ = feed(day.LINES)
    for cut in range(len(day.LINES) + 1):  # a restart after any line
        first, _, mapper = feed(day.LINES[:cut], finish=False)
        saved = orjson.loads(orjson.dumps(mapper.state()))  # through JSON, as the state file
        resumed = QueueLogMapper(OPTIONS)
        resumed.restore(saved)
        rest, _, _ = feed(day.LINES[cut:], mapper=resumed)
        assert first + rest == whole, cut


def _realtime_csv(lines: list[str], single_data_column: bool = False) -> list[str]:
    """The realtime queue_log table exported as CSV: date-times in Europe/Berlin without an offset."""
    zone = ZoneInfo("Europe/Berlin")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", "callid", "queuename", "agent", "event", *(["data"] if single_data_column else
                                                                        ["data1", "data2", "data3", "data4", "data5"])])
    for line in lines:
        fields = line.split("|")
        try:
            moment = datetime.fromtimestamp(int(fields[0]), tz=timezone.utc).astimezone(zone).replace(tzinfo=None)
            fields[0] = moment.isoformat(sep=" ")
        except ValueError:
            pass
        data = fields[5:]
        row = fields[:5] + (["|".join(data)] if single_data_column else data + [""] * (5 - len(data)))
        writer.writerow(row)
    return out.getvalue().splitlines()


@pytest.mark.parametrize("single", [False, True], ids=["data1-5", "data"])
def test_the_realtime_csv_export_maps_to_the_same_events(single: bool) -> None:
    whole, rejects, _ = feed(day.LINES)
    exported, csv_rejects, _ = feed(_realtime_csv(day.LINES, single), zone=ZoneInfo("Europe/Berlin"))
    assert [(e["event_id"], e["occurred_at"]) for e in exported] == [(e["event_id"], e["occurred_at"]) for e in whole]
    assert exported == whole
    assert [reason for _, reason in csv_rejects] == [reason for _, reason in rejects]


def test_fractional_epoch_times_are_kept_as_the_platform_wrote_them() -> None:
    record = parse_line("1772442060.250000|1772442060.1|support|NONE|ENTERQUEUE||+15551230001|1")
    assert record is not None and record.at == 1772442060.25
    events = QueueLogMapper().map(record)
    assert events[0]["occurred_at"] == "2026-03-02T09:01:00.250000Z"
    assert events[0]["channel"] == "voice"


def test_same_second_re_queue_is_emitted_in_platform_order() -> None:
    """EXITWITHTIMEOUT and the ENTERQUEUE into the next queue in one second: both keep that second,
    the flow-out first (ordering same-second events by lifecycle is the fold's job, not ours)."""
    lines = [f"{day.T0}|9.1|q1|NONE|ENTERQUEUE||555|1", f"{day.T0 + 30}|9.1|q1|NONE|EXITWITHTIMEOUT|1|1|30",
             f"{day.T0 + 30}|9.1|q2|NONE|ENTERQUEUE||555|1"]
    events, _, _ = feed(lines)
    assert [(e["type"], e["occurred_at"]) for e in events] == [
        ("contact.queued", iso(day.T0)), ("contact.flowed_out", iso(day.T0 + 30)), ("contact.queued", iso(day.T0 + 30))]


def test_names_channels_and_unmapped_members() -> None:
    options = AsteriskSettings(channels={"webchat": "chat"}, queue_ids={"webchat": "chat-en"})
    mapper = QueueLogMapper(options)
    queued = mapper.map(parse_line(f"{day.T0}|1.1|webchat|NONE|ENTERQUEUE||unknown|1"))  # type: ignore[arg-type]
    assert queued[0]["channel"] == "chat" and queued[0]["queue_id"] == "chat-en" and "customer_id" not in queued[0]
    answered = mapper.map(parse_line(f"{day.T0 + 5}|1.1|webchat|SIP/1001|CONNECT|5|1.2|1"))  # type: ignore[arg-type]
    assert answered[0]["agent_id"] == "SIP/1001"  # a static member, unmapped: its queue_log name
    assert answered[1]["state"] == "on_contact" and answered[1]["queue_ids"] == ["chat-en"]


@pytest.mark.parametrize("line, reason", [
    ("1772442000|1.1", "truncated"),
    ("1772442000|1.1|q|NONE|", "truncated"),
    ("1772442000000|1.1|q|NONE|ENTERQUEUE||1|1", "invalid_timestamp"),  # milliseconds
    ("2026-13-45 99:00:00|1.1|q|NONE|ENTERQUEUE||1|1", "invalid_timestamp"),
    ("1772442000|1.1|q|NONE|HOLDMUSIC|1", "unknown_event"),
    ("1772442000|1.1|NONE|NONE|ENTERQUEUE||1|1", "missing_queue"),
    ("1772442000|NONE|q|NONE|PAUSE|x", "missing_agent"),
])
def test_bad_records(line: str, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        record = parse_line(line)
        assert record is not None
        QueueLogMapper().map(record)
    assert caught.value.reason == reason


def test_call_events_without_a_call_and_blank_lines_are_ignored() -> None:
    mapper = QueueLogMapper()
    assert parse_line("") is None and parse_line("time,callid,queuename,agent,event,data1") is None
    assert mapper.map(parse_line("1772442000|NONE|q|SIP/1|RINGNOANSWER|0")) == []  # type: ignore[arg-type]
    assert mapper.ignored == 1


def test_a_whole_second_queue_log_folds_to_the_hand_worked_figures_in_any_same_second_order() -> None:
    """The connector's whole-second events through the pure core (what the worker and recompute run),
    with the events of each second delivered in either order. By hand:

    - ``A`` queued in q1 at 0, times out at 30 and enters q2 in that second, alice answers at 40,
      caller hangs up at 100: q1 offered 1 and flowed out 1; q2 offered 1, answered 1 (ASA 10 s),
      handled 1 (talk 60 s).
    - ``B`` queued in q1 at 50 and answered by bob in that second, agent hangs up at 80: q1 answered 1
      (ASA 0 s), handled 1 (talk 30 s), no short abandon.
    """
    from ccpulse.domain.batch import fold_messages
    from ccpulse.domain.buckets import interval_figures, merge_buckets
    from ccpulse.settings import Settings

    lines = [day._line(0, "MANAGER", "q1", "PJSIP/bob", "ADDMEMBER", ""),
             day._line(0, "MANAGER", "q2", "PJSIP/alice", "ADDMEMBER", ""),
             day._line(0, "9.1", "q1", "NONE", "ENTERQUEUE", "", "555", "1"),
             day._line(30, "9.1", "q1", "NONE", "EXITWITHTIMEOUT", "1", "1", "30"),
             day._line(30, "9.1", "q2", "NONE", "ENTERQUEUE", "", "555", "1"),
             day._line(40, "9.1", "q2", "PJSIP/alice", "CONNECT", "10", f"{day.T0 + 38}.2", "2"),
             day._line(50, "9.3", "q1", "NONE", "ENTERQUEUE", "", "556", "1"),
             day._line(50, "9.3", "q1", "PJSIP/bob", "CONNECT", "0", f"{day.T0 + 50}.4", "0"),
             day._line(80, "9.3", "q1", "PJSIP/bob", "COMPLETEAGENT", "0", "30", "1"),
             day._line(100, "9.1", "q2", "PJSIP/alice", "COMPLETECALLER", "10", "60", "1")]
    events, rejects, _ = feed(lines)
    assert rejects == [] and all("." not in e["occurred_at"] for e in events)  # whole seconds, as written
    contact = [e for e in events if e["type"].startswith("contact.")]
    later_first = sorted(contact, key=lambda e: (e["occurred_at"], -contact.index(e)))  # each second reversed
    assert later_first != contact
    settings = Settings()
    for stream in (contact, later_first):
        result = fold_messages([orjson.dumps(e) for e in stream], settings)
        assert result.rejected == []

        def figures(dimension: str, entity: str) -> dict:
            counters, wait = merge_buckets(b for k, b in result.buckets.items() if k.startswith(f"{dimension}|{entity}|"))
            return interval_figures(counters, wait, settings.queue(entity, "voice"))

        q1, q2 = figures("queue", "q1"), figures("queue", "q2")
        assert (q1["offered"], q1["flowed_out"], q1["answered"], q1["asa_seconds"], q1["handled"], q1["avg_talk_seconds"],
                q1["short_abandoned"], q1["abandoned"]) == (2, 1, 1, 0.0, 1, 30.0, 0, 0)
        assert (q2["offered"], q2["answered"], q2["asa_seconds"], q2["handled"], q2["avg_talk_seconds"]) == (1, 1, 10.0, 1, 60.0)
        assert (figures("agent", "alice")["handled"], figures("agent", "bob")["handled"]) == (1, 1)
