"""Contacts that live long, through the pure core (``fold_messages``: what ``ccpulse recompute`` runs), with
figures worked out by hand: an email waiting over a weekend, open contacts that expire, surveys and QA days
after the contact, a late answer. Defaults apply unless a test says otherwise: lateness 1 h, finished-contact
retention 24 h, summaries 90 days, open contacts voice 1 day / email 30 days; email's SLA clock is business
hours (Mon-Fri 08:00-18:00 UTC) with a 4 h threshold.
"""

from __future__ import annotations

from typing import Any

import orjson

from ccpulse.domain.alerts import breach_at, evaluate_queue, QueueSnapshot, step
from ccpulse.domain.batch import BatchResult, PartitionFold, fold_messages
from ccpulse.domain.buckets import interval_figures, merge_buckets
from ccpulse.domain.entity import judging_mark
from ccpulse.domain.intervals import iso, parse_time
from ccpulse.settings import Settings

FRI = "2026-03-06"  # a Friday; Monday 2026-03-09 follows the weekend
MON = "2026-03-09"


def at(day: str, hms: str) -> float:
    return parse_time(f"{day}T{hms}Z")


def ev(kind: str, t: float, cid: str, **fields: Any) -> dict[str, Any]:
    prefix = "survey" if kind == "responded" else "qa" if kind == "evaluated" else "contact"
    return {"event_id": f"{cid}-{kind}-{t}", "type": f"{prefix}.{kind}", "occurred_at": iso(t), "contact_id": cid, **fields}


def call(cid: str, start: float, queue: str = "v", agent: str = "a9") -> list[dict[str, Any]]:
    """A short finished voice call (other traffic on the partition): answered after 10 s, 60 s talk, no ACW."""
    return [ev("queued", start, cid, channel="voice", queue_id=queue), ev("answered", start + 10, cid, agent_id=agent),
            ev("ended", start + 70, cid), ev("wrapped_up", start + 70, cid)]


def traffic(start: float, end: float, every: float = 1800, tag: str = "t") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    t = start
    while t < end:
        out += call(f"{tag}{int(t)}", t)
        t += every
    return out


def by_time(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: parse_time(e["occurred_at"]))


def fold(events: list[dict[str, Any]], **settings: Any) -> BatchResult:
    return fold_messages([orjson.dumps(e) for e in events], Settings(**settings))


def figures(result: BatchResult, dimension: str, entity: str, day: str | None = None, channel: str = "voice") -> dict[str, Any]:
    """The entity's figures summed over its buckets (of ``day`` only, when given)."""
    start = None if day is None else at(day, "00:00:00")
    buckets = [b for k, b in result.buckets.items() if k.startswith(f"{dimension}|{entity}|")
               and (start is None or start <= int(k.rsplit("|", 1)[1]) < start + 86400)]
    counters, max_wait = merge_buckets(buckets)
    return interval_figures(counters, max_wait, Settings().queue(entity, channel))


# ---- an email over the weekend ---------------------------------------------------------------------
EMAIL = [ev("queued", at(FRI, "17:30:00"), "m1", channel="email", queue_id="eq")]
ANSWER = [ev("answered", at(MON, "08:45:00"), "m1", agent_id="a1"), ev("ended", at(MON, "09:15:00"), "m1"),
          ev("wrapped_up", at(MON, "09:20:00"), "m1")]
WEEKEND = traffic(at(FRI, "18:00:00"), at(MON, "08:30:00"))  # a call every 30 min, Friday evening to Monday


def test_an_email_queued_friday_evening_and_answered_monday_counts_on_monday() -> None:
    result = fold(by_time([*EMAIL, *WEEKEND, *ANSWER]))
    assert result.rejected == [] and result.expired == []
    friday, monday = figures(result, "queue", "eq", FRI, "email"), figures(result, "queue", "eq", MON, "email")
    assert (friday["offered"], friday["answered"]) == (1, 0)
    # Wall wait Fri 17:30 -> Mon 08:45 = 2 d 15 h 15 min = 227,700 s; open hours: Fri 17:30-18:00 and
    # Mon 08:00-08:45 = 75 min = 4,500 s, within the 4 h threshold. Talk 30 min, ACW 5 min: AHT 2,100 s.
    assert monday["answered"] == 1 and monday["handled"] == 1
    assert monday["asa_seconds"] == 227_700.0
    assert monday["aht_seconds"] == 2_100.0
    assert figures(result, "agent", "a1", MON, "email")["handled"] == 1
    assert result.recent["m1"]["wait_business_seconds"] == 4_500.0
    assert result.recent["m1"]["breached"] is False
    assert result.recent["m1"]["outcome"] == "answered"


def test_the_email_shows_waiting_all_weekend() -> None:
    for until in ("2026-03-07T12:00:00Z", "2026-03-08T23:59:00Z", "2026-03-09T08:30:00Z"):
        result = fold(by_time([*EMAIL, *[e for e in WEEKEND if e["occurred_at"] < until]]))
        assert result.contacts["m1"]["status"] == "waiting", until
        assert result.contacts["m1"]["queued_at"] == at(FRI, "17:30:00")


def test_its_sla_breach_alert_fires_at_the_business_hours_deadline() -> None:
    # 4 h of open hours from Fri 17:30: 30 min on Friday, 3 h 30 min on Monday -> Monday 11:30:00.
    settings = Settings()
    result = fold(by_time([*EMAIL, *WEEKEND, *traffic(at(MON, "08:30:00"), at(MON, "11:40:00"), tag="m")]))
    row = result.contacts["m1"]
    assert row["status"] == "waiting"
    clock = settings.sla_clock("eq", "email")
    sla = settings.queue("eq", "email")
    assert breach_at(row["queued_at"], sla.sl_threshold_seconds, clock) == at(MON, "11:30:00")
    snapshot = QueueSnapshot("eq", (row["queued_at"],), agents_staffed=1)
    track = None
    fired: list[float] = []
    # The evaluator's rounds (streams/alerting.py: waits fire at once, hold 0), Sunday noon to Monday 11:31.
    for now in [at("2026-03-08", "12:00:00"), at(MON, "07:59:59"), at(MON, "11:29:59"), at(MON, "11:30:00"),
                at(MON, "11:30:01"), at(MON, "11:31:00")]:
        condition = next(c for c in evaluate_queue(snapshot, sla, now, clock) if c.rule == "contact_waiting_over_threshold")
        track, record = step(track, "eq", condition, now, 0.0, sla.alert_clear_seconds)
        if record is not None:
            fired.append(now)
            assert record["state"] == "firing"
    assert fired == [at(MON, "11:30:01")]  # breached just after its deadline, not during the weekend


# ---- open contacts expire, counted -----------------------------------------------------------------
def test_a_voice_contact_still_waiting_a_day_later_expires_counted() -> None:
    start = at(MON, "09:00:00")
    result = fold(by_time([ev("queued", start, "w1", channel="voice", queue_id="q1"),
                           *traffic(start + 60, start + 86400 + 3600 + 600)]))
    assert result.expired == ["w1"] and "w1" not in result.contacts
    assert result.recent["w1"]["outcome"] == "expired"
    q1 = figures(result, "queue", "q1")
    # offered 1 on Monday; expired 1 in the interval of Tuesday 09:00 (1 day after its last event); nothing else
    assert (q1["offered"], q1["expired"], q1["answered"], q1["abandoned"], q1["handled"]) == (1, 1, 0, 0, 0)
    assert figures(result, "queue", "q1", "2026-03-10")["expired"] == 1


def test_an_answer_after_the_expiry_is_not_counted() -> None:
    start = at(MON, "09:00:00")
    result = fold(by_time([ev("queued", start, "w2", channel="voice", queue_id="q1"),
                           ev("answered", start + 86400 + 10, "w2", agent_id="a1"),
                           *traffic(start + 60, start + 86400)]))
    q1 = figures(result, "queue", "q1")
    assert (q1["offered"], q1["expired"], q1["answered"]) == (1, 1, 0)
    assert result.expired == ["w2"]


def test_an_email_is_kept_open_for_its_own_limit() -> None:
    start = at(MON, "09:00:00")
    stream = by_time([ev("queued", start, "m2", channel="email", queue_id="eq"),
                      *traffic(start + 60, start + 3 * 86400, every=3600)])
    assert fold(stream).contacts["m2"]["status"] == "waiting"  # default: 30 days
    short = fold(stream, open_contact_expiry_days={"email": 2})
    assert short.expired == ["m2"] and figures(short, "queue", "eq", "2026-03-11", "email")["expired"] == 1
    assert Settings().open_contact_expiry_days == {"voice": 1.0, "chat": 1.0, "email": 30.0}


def test_a_contact_in_acw_for_a_day_expires_keeping_its_handling() -> None:
    start = at(MON, "09:00:00")
    result = fold(by_time([ev("queued", start, "w3", channel="voice", queue_id="q1"),
                           ev("answered", start + 20, "w3", agent_id="a1"), ev("ended", start + 320, "w3"),
                           *traffic(start + 600, start + 86400 + 3600 + 900)]))
    q1 = figures(result, "queue", "q1")
    # answered after 20 s; ended at +320 with no wrap-up: handled there, talk 300 s, no ACW; then expired.
    assert (q1["answered"], q1["handled"], q1["aht_seconds"], q1["expired"]) == (1, 1, 300.0, 1)
    assert result.expired == ["w3"]


# ---- surveys and QA days later ---------------------------------------------------------------------
def test_qa_five_days_later_counts_for_the_right_agent_and_queue() -> None:
    start = at(MON, "09:00:00")
    contact = [ev("queued", start, "k1", channel="voice", queue_id="q1"), ev("answered", start + 15, "k1", agent_id="a1"),
               ev("ended", start + 615, "k1"), ev("wrapped_up", start + 645, "k1")]
    qa_at, csat_at = start + 5 * 86400, start + 3 * 86400
    later = [ev("evaluated", qa_at, "k1", agent_id="a1", score=0.9),
             ev("responded", csat_at, "k1", survey="csat", score=5)]  # no agent_id: the contact's last agent
    result = fold(by_time([*contact, *later, *traffic(start + 1800, qa_at + 7200, every=3 * 3600)]))
    assert result.rejected == []
    q1, a1 = figures(result, "queue", "q1"), figures(result, "agent", "a1")
    assert (q1["offered"], q1["answered"], q1["handled"], q1["aht_seconds"]) == (1, 1, 1, 630.0)  # nothing retracted
    assert (q1["qa_count"], q1["qa_score"]) == (1, 0.9)
    assert (a1["qa_count"], a1["qa_score"]) == (1, 0.9)
    assert (q1["csat_responses"], a1["csat_responses"], a1["csat"]) == (1, 1, 1.0)
    assert figures(result, "queue", "q1", "2026-03-14")["qa_count"] == 1  # Saturday, the day it was scored


def test_a_survey_after_the_summary_is_gone_is_not_counted() -> None:
    start = at(MON, "09:00:00")
    contact = [ev("queued", start, "k2", channel="voice", queue_id="q1"), ev("answered", start + 15, "k2", agent_id="a1"),
               ev("ended", start + 615, "k2"), ev("wrapped_up", start + 645, "k2")]
    survey = [ev("responded", start + 3 * 86400, "k2", survey="csat", score=5)]
    stream = by_time([*contact, *survey, *traffic(start + 1800, start + 3 * 86400 + 7200, every=3 * 3600)])
    assert figures(fold(stream), "queue", "q1")["csat_responses"] == 1
    assert figures(fold(stream, contact_summary_days=2), "queue", "q1")["csat_responses"] == 0


# ---- a late answer leaves no phantom ---------------------------------------------------------------
def test_a_late_rejected_answer_does_not_leave_the_contact_waiting() -> None:
    start = at(MON, "09:00:00")
    stream = [ev("queued", start, "p1", channel="voice", queue_id="q1"), *traffic(start + 60, start + 7200),
              ev("answered", start + 30, "p1", agent_id="a1")]  # 2 h behind the watermark: beyond the 1 h bound
    result = fold(stream)
    assert [reason for _, reason in result.rejected] == ["late"]
    assert "p1" not in result.contacts  # not shown waiting
    assert result.recent["p1"]["outcome"] == "expired" and result.expired == ["p1"]
    q1 = figures(result, "queue", "q1")
    assert (q1["offered"], q1["answered"], q1["expired"]) == (1, 0, 1)
    # closed at the oldest time still open to changes: the watermark (the last call's wrap-up) minus 1 h
    newest = max(parse_time(e["occurred_at"]) for e in stream)
    bucket = int((newest - 3600) // 900 * 900)
    assert result.buckets[f"queue|q1|{bucket}"]["c"]["expired"] == 1


# ---- one watermark rule for both sweeps ------------------------------------------------------------
def test_the_judging_watermark_is_the_older_of_the_sources_still_read() -> None:
    assert judging_mark([(7200.0, False), (100.0, False)]) == 100.0  # the survey topic holds back
    assert judging_mark([(7200.0, False), (100.0, True)]) == 7200.0  # read to its end: it does not
    assert judging_mark([(7200.0, True), (100.0, True)]) == 7200.0
    assert judging_mark([(7200.0, False), (None, False)]) == 0.0  # nothing read yet of a topic with messages


def test_a_survey_waiting_unread_keeps_its_contact_from_being_compacted() -> None:
    settings = Settings(contact_retention_seconds=3600, lateness_seconds=300, contact_summary_days=0.05)  # 72 min
    unread = {"surveys:0"}
    fold = PartitionFold(settings, read_to_end=lambda src: src not in unread)
    start = at(MON, "09:00:00")
    fold.message(orjson.dumps(ev("responded", start - 600, "x0", survey="csat", score=4, queue_id="q1")), "surveys:0", 0, False)
    for n, e in enumerate(by_time([*call("k3", start, agent="a1"), *traffic(start + 600, start + 4 * 3600, every=600)])):
        fold.message(orjson.dumps(e), "contacts:0", n, False)
    assert fold.contacts["k3"].get("compact") is None  # the survey topic (at start - 600) holds the sweep back
    unread.clear()
    fold.message(orjson.dumps(ev("responded", start + 900, "k3", survey="csat", score=5)), "surveys:0", 1, False)
    assert figures(BatchResult(buckets=fold.buckets), "agent", "a1")["csat_responses"] == 1
    fold.message(orjson.dumps(ev("queued", start + 4 * 3600 + 60, "k4", channel="voice", queue_id="v")), "contacts:0", 999, False)
    assert "k3" not in fold.contacts  # read to its end: the newer watermark, 4 h on (summary kept 72 min)


def test_a_survey_topic_read_ahead_of_its_contact_topic_loses_no_survey() -> None:
    """The survey topic (two messages) is read whole before the contact topic: the CSAT 3 days after
    the call and the QA 5 days after wait in a survey-only state until the call's events arrive.
    Before, the QA's arrival dropped the survey-only state as "never queued", silently."""
    unread = {"contacts:0"}
    fold = PartitionFold(Settings(lateness_seconds=300), read_to_end=lambda src: src not in unread)
    fold.contact_sources.update({"contacts:0", "surveys:0"})  # both topics known, as the worker and recompute know them
    start = at(MON, "09:00:00")
    fold.message(orjson.dumps(ev("responded", start + 3 * 86400, "k1", survey="csat", score=5)), "surveys:0", 0, False)
    fold.message(orjson.dumps(ev("evaluated", start + 5 * 86400, "k1", agent_id="a1", score=0.9)), "surveys:0", 1, False)
    stream = by_time([*call("k1", start, queue="q1", agent="a1"), *traffic(start + 1800, start + 5 * 86400 + 3600, every=3 * 3600)])
    for n, e in enumerate(stream):
        if n == len(stream) - 1:
            unread.clear()
        fold.message(orjson.dumps(e), "contacts:0", n, False)
    result = BatchResult(buckets=fold.buckets)
    q1, a1 = figures(result, "queue", "q1"), figures(result, "agent", "a1")
    assert (q1["answered"], q1["csat_responses"], q1["csat"], q1["qa_count"]) == (1, 1, 1.0, 1)
    assert (a1["csat_responses"], a1["qa_count"], a1["qa_score"]) == (1, 1, 0.9)
    assert figures(result, "queue", "q1", "2026-03-12")["csat_responses"] == 1  # Thursday, the day it was given


# ---- edge cases of the lifetimes -------------------------------------------------------------------
def test_a_contact_queued_again_after_it_expired_can_expire_again() -> None:
    start = at(MON, "09:00:00")
    day = 86400
    result = fold(by_time([ev("queued", start, "r1", channel="voice", queue_id="q1"),
                           ev("queued", start + day + 7200, "r1", channel="voice", queue_id="q1"),
                           *traffic(start + 60, start + 2 * day + 3 * 3600 + 900)]))
    q1 = figures(result, "queue", "q1")
    assert (q1["offered"], q1["expired"]) == (2, 2)  # each visit offered once and expired once
    assert result.expired == ["r1", "r1"]


def test_events_of_a_contact_that_never_queued_are_not_kept_as_a_summary() -> None:
    start = at(MON, "09:00:00")
    result = fold(by_time([ev("answered", start, "n1", agent_id="a1"),  # its queued never comes
                           *traffic(start + 60, start + 86400 + 2 * 3600, every=3600)]))
    assert figures(result, "agent", "a1")["answered"] == 0
    settings = Settings()
    fold_ = PartitionFold(settings)
    for n, e in enumerate(by_time([ev("answered", start, "n1", agent_id="a1"),
                                   *traffic(start + 60, start + 86400 + 2 * 3600, every=3600)])):
        fold_.message(orjson.dumps(e), "contacts:0", n, False)
    assert "n1" not in fold_.contacts  # deleted after the retention, not compacted


def test_a_state_stored_before_the_open_flag_existed_is_judged_by_its_events() -> None:
    from ccpulse.domain.entity import ContactRules
    settings = Settings()
    rules = ContactRules(settings, PartitionFold(settings).sla)
    start = at(MON, "09:00:00")
    queued = {"id": "e1", "type": "contact.queued", "t": start, "src": "c:0", "off": 0, "raw": "{}",
              "queue_id": "eq", "channel": "email"}
    legacy = {"events": [queued], "contrib": {}, "fcr": None, "last_t": start, "settled": True}
    assert rules.due_at(legacy) == start + 30 * 86400  # an open email: its 30 days, not the 24 h retention
    assert rules.on_due("m9", legacy, start + 2 * 86400) is None
