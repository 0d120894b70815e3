"""``ccpulse recompute`` without a broker: the per-partition fold (the worker's rules), merging
partitions, the closed range, generations to publish and withdraw, the diff, settings checks, CLI."""

from __future__ import annotations

import io
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from ccpulse.readmodel.state import ReadModel
from ccpulse import cli
from ccpulse.domain.batch import PartitionFold, apply_fcr, fold_messages, merge_bucket_sets, merge_fcr
from ccpulse.domain.intervals import iso, parse_time
from ccpulse.recompute import (Record, Scope, SettingsProblem, closed_until, diff_rows, fold_records,
                               generation_messages, load_settings, settings_hash, withdrawals, write_csv)
from ccpulse.settings import QueueSettings, Settings
from ccpulse.simulate import SimConfig, generate

T0 = parse_time("2026-03-02T09:00:00Z")
TOPICS = Settings().topics


def ev(kind: str, t: float, entity: str, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    key = "agent_id" if kind.startswith("agent.") else "contact_id"
    return {"event_id": event_id or f"{entity}-{kind}-{t}", "type": kind, "occurred_at": iso(t), key: entity, **fields}


def records(events: list[dict[str, Any]], first_timestamp: int = 0) -> list[Record]:
    return [Record(offset=i, timestamp=first_timestamp + i, value=orjson.dumps(e)) for i, e in enumerate(events)]


def counters(buckets: dict[str, dict[str, Any]]) -> dict[str, tuple[dict[str, int], int | None]]:
    return {k: (b["c"], b["tops"][0][0] if b["tops"] else None) for k, b in buckets.items()}


def split(events: list[dict[str, Any]], partitions: int) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Events by partition (their entity's key) and topic, in order, as the producer sends them."""
    out: dict[int, dict[str, list[dict[str, Any]]]] = {p: {"contact": [], "survey": [], "agent": []} for p in range(partitions)}
    for e in events:
        key = e.get("contact_id") or e["agent_id"]
        topic = "agent" if e["type"].startswith("agent.") else "survey" if e["type"].startswith(("survey.", "qa.")) else "contact"
        out[zlib.crc32(key.encode()) % partitions][topic].append(e)
    return out


# ---- the per-partition fold ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def day() -> list[dict[str, Any]]:
    """Three busy hours with repeat contacts (FCR), surveys, QA and agent states."""
    config = SimConfig(seed=21, start=datetime(2026, 3, 2, 8, tzinfo=timezone.utc), duration_seconds=3 * 3600,
                       agents=15, load=1.5, customers=150)
    return list(generate(config))


@pytest.mark.parametrize("partitions,groups", [(1, 1), (4, 1), (4, 2), (5, 3)])
def test_partitions_and_process_groups_give_the_same_buckets(day, partitions, groups) -> None:
    settings = Settings(fcr_window_seconds=3600)
    whole = fold_messages([orjson.dumps(e) for e in day], settings)
    assert any(b["c"].get("fcr_repeat") for b in whole.buckets.values()), "the scenario must have repeat contacts"
    by_partition = split(day, partitions)
    folds = {p: fold_records(settings, TOPICS, p, records(t["contact"]), records(t["survey"]), records(t["agent"]))
             for p, t in by_partition.items()}
    parts, fcr = [], {}
    for g in range(groups):  # what each process sends back, then what the parent merges
        mine = [folds[p] for p in folds if p % groups == g]
        parts.append(merge_bucket_sets(f.buckets for f in mine))
        for f in mine:
            merge_fcr(fcr, f.fcr)
    merged = apply_fcr(merge_bucket_sets(parts), fcr, settings.fcr_window_seconds, clock=settings.sla_clock)
    assert counters(merged) == counters(whole.buckets)


def test_contact_and_survey_records_interleave_by_record_time() -> None:
    """A survey sent (record time) before the contact it belongs to is folded first, as consumed."""
    contact = [ev("contact.queued", T0, "c1", channel="voice", queue_id="q"),
               ev("contact.answered", T0 + 5, "c1", agent_id="a1"),
               ev("contact.ended", T0 + 60, "c1"), ev("contact.wrapped_up", T0 + 70, "c1")]
    survey = [ev("survey.responded", T0 + 200, "c1", survey="csat", score=5)]
    fold = fold_records(Settings(), TOPICS, 0, records(contact, first_timestamp=10), records(survey, first_timestamp=12), [])
    assert fold.accepted == 5 and not fold.rejected
    bucket = fold.buckets[f"queue|q|{int(T0)}"]["c"]
    assert bucket["csat_responses"] == 1 and bucket["answered_within_sl"] == 1


def test_lateness_is_judged_per_source_as_on_the_worker() -> None:
    """The survey topic has its own watermark: a survey behind the contact topic's is not late there."""
    settings = Settings(lateness_seconds=300)
    contact = [ev("contact.queued", T0, "c1", channel="voice", queue_id="q"),
               ev("contact.queued", T0 + 3600, "c2", channel="voice", queue_id="q")]
    survey = [ev("survey.responded", T0 + 60, "c1", survey="csat", score=4)]
    fold = fold_records(settings, TOPICS, 0, records(contact), records(survey, first_timestamp=5), [])
    assert fold.rejected == {}
    late = fold_records(settings, TOPICS, 0, records([*contact, ev("contact.abandoned", T0 + 60, "c1")]), [], [])
    # The late abandon is lost, and c1 (still waiting) is closed as expired rather than left waiting.
    assert late.rejected == {"late": 1, "expired_open": 1}


def test_a_duplicate_does_not_move_the_watermark() -> None:
    """As the worker: a rejected duplicate (even with a newer time) leaves the watermark where it was."""
    settings = Settings(lateness_seconds=300)
    fold = PartitionFold(settings)
    messages = [ev("contact.queued", T0, "c1", "x", channel="voice", queue_id="q"),
                ev("contact.queued", T0 + 3600, "c1", "x", channel="voice", queue_id="q"),  # same event_id
                ev("contact.queued", T0 - 120, "c2", channel="voice", queue_id="q")]  # 2 min behind: not late
    reasons = [fold.message(orjson.dumps(m), "contacts:0", i, False) for i, m in enumerate(messages)]
    assert reasons == [None, "duplicate", None]
    assert [r for _, r in fold_messages([orjson.dumps(m) for m in messages], settings).rejected] == ["duplicate"]


def test_events_on_the_wrong_topic_are_rejected() -> None:
    agent = ev("agent.state_changed", T0, "a1", state="available", queue_ids=["q"])
    contact = ev("contact.queued", T0, "c1", channel="voice", queue_id="q")
    fold = fold_records(Settings(), TOPICS, 0, records([agent]), [], records([contact]))
    assert fold.rejected == {"wrong_topic": 2} and fold.buckets == {}


def test_a_finished_contact_keeps_a_summary_for_late_surveys_then_is_forgotten() -> None:
    """A survey after the finished contact's retention still counts (its summary is kept, for the right queue and
    agent); one after the summary's time finds no contact (it never queued): not counted, as on the worker."""
    settings = Settings(contact_retention_seconds=3600, lateness_seconds=300, contact_summary_days=3 / 24)
    life = [ev("contact.queued", T0, "c1", channel="voice", queue_id="q"), ev("contact.answered", T0 + 5, "c1", agent_id="a1"),
            ev("contact.ended", T0 + 60, "c1"), ev("contact.wrapped_up", T0 + 70, "c1")]
    later = [ev("contact.queued", T0 + s, f"o{s}", channel="voice", queue_id="q") for s in range(600, 8000, 600)]

    def sent_at_event_time(events: list[dict[str, Any]]) -> list[Record]:
        return [Record(i, int(parse_time(e["occurred_at"]) - T0), orjson.dumps(e)) for i, e in enumerate(events)]

    def csat_after(seconds: float) -> dict[str, int]:
        survey = [ev("survey.responded", T0 + seconds, "c1", survey="csat", score=5)]
        fold = fold_records(settings, TOPICS, 0, sent_at_event_time([*life, *later]), sent_at_event_time(survey), [])
        return {k.split("|")[0] + "|" + k.split("|")[1]: b["c"]["csat_responses"]
                for k, b in fold.buckets.items() if b["c"].get("csat_responses")}

    assert csat_after(1800) == {"queue|q": 1, "agent|a1": 1, "agentq|a1\x1fq": 1, "channel|voice": 1}  # all events kept
    assert csat_after(2 * 3600) == {"queue|q": 1, "agent|a1": 1, "agentq|a1\x1fq": 1, "channel|voice": 1}  # from the summary
    assert csat_after(4 * 3600) == {}  # 3 h after the contact's last event the summary is gone too


def test_merged_buckets_sum_counters_and_keep_the_longest_waits() -> None:
    a = {"k": {"c": {"offered": 2, "answered": 1}, "tops": [[5000, "c1#1"]], "hwm": {}}}
    b = {"k": {"c": {"offered": 1}, "tops": [[9000, "c2#1"], [100, "c3#1"]], "hwm": {}}, "j": {"c": {}, "tops": [], "hwm": {}}}
    merged = merge_bucket_sets([a, b])
    assert merged["k"]["c"] == {"offered": 3, "answered": 1}
    assert merged["k"]["tops"] == [[9000, "c2#1"], [5000, "c1#1"], [100, "c3#1"]]
    assert merged["j"]["c"] == {} and a["k"]["c"] == {"offered": 2, "answered": 1}  # inputs untouched


# ---- the closed range and the generation ---------------------------------------------------------
def test_an_interval_is_closed_once_lateness_and_fcr_window_lie_behind_the_newest_event() -> None:
    settings = Settings(lateness_seconds=300, fcr_window_seconds=600)
    newest = parse_time("2026-03-02T09:00:27Z")
    assert iso(closed_until(newest, settings)) == "2026-03-02T08:45:00Z"  # 08:30 + 15 min + 15 min ≤ 09:00:27
    longer = Settings(lateness_seconds=3600, fcr_window_seconds=600)
    assert iso(closed_until(newest, settings, longer)) == "2026-03-02T07:45:00Z"  # the stricter definition rules


def test_scopes_cover_buckets_and_contain_generations() -> None:
    whole = Scope(900 * 10, 900 * 20)
    sales = Scope(900 * 10, 900 * 20, ("sales",))
    assert whole.covers("agent|a1|9000") and whole.covers("channel|voice|17100") and not whole.covers("queue|q|18000")
    assert sales.covers("queue|sales|9000") and not sales.covers("queue|support|9000") and not sales.covers("agent|a|9000")
    assert whole.contains(sales.marker()) and not sales.contains(whole.marker())
    assert not whole.contains(Scope(900 * 9, 900 * 12).marker())


def store_with(settings: Settings, *messages: tuple[bytes, bytes | None]) -> ReadModel:
    store = ReadModel(settings)
    for key, value in messages:
        store.apply(key, value)
    return store


def live_row(key: str, **c: int) -> tuple[bytes, bytes]:
    dimension, entity, start = key.split("|")
    return (f"interval|{key}".encode(),
            orjson.dumps({"kind": "interval", "dimension": dimension, "id": entity, "start": int(start), "c": c, "max_wait_ms": None}))


def test_generation_rows_come_before_their_marker_and_supersede_what_they_cover() -> None:
    scope = Scope(0, 1800)
    buckets = {"queue|q|0": {"c": {"offered": 2}, "tops": [[7000, "c1#1"]]}, "queue|q|900": {"c": {}, "tops": []},
               "queue|q|1800": {"c": {"offered": 9}, "tops": []}}  # 1800 is not closed: not in the scope
    messages = generation_messages("0002-b", scope, buckets, {"settings_hash": "h"})
    keys = [k.decode() for k, _ in messages]
    assert keys == ["recomputed|0002-b|interval|queue|q|0", "recomputed|0002-b|interval|queue|q|900", "generation|0002-b"]
    marker = orjson.loads(messages[-1][1])
    assert marker["rows"] == 2 and (marker["from"], marker["to"]) == (0, 1800) and marker["settings_hash"] == "h"

    older = generation_messages("0001-a", Scope(0, 900), {"queue|q|0": {"c": {"offered": 1}, "tops": []}}, {})
    orphan = generation_messages("0000-z", Scope(0, 900), {"queue|q|0": {"c": {"offered": 5}, "tops": []}}, {})[:-1]
    partial = generation_messages("0001-c", Scope(900, 2700), {"queue|q|900": {"c": {"offered": 1}, "tops": []}}, {})
    store = store_with(Settings(), *older, *orphan, *partial)
    assert [k.decode() for k in withdrawals(store, "0002-b", scope)] == [
        "recomputed|0000-z|interval|queue|q|0",  # rows that never got a marker
        "generation|0001-a", "recomputed|0001-a|interval|queue|q|0",  # covered entirely: marker first
    ]  # 0001-c reaches beyond 1800: kept (the newest generation wins where they overlap)


# ---- the diff --------------------------------------------------------------------------------------
def test_the_dry_run_diff_compares_served_rows_with_the_recomputed_ones() -> None:
    old = Settings()
    new = Settings(queues={"q": QueueSettings(sl_threshold_seconds=10)})
    existing = [live_row("queue|q|0", offered=2, offered_voice=2, answered=2, answered_within_sl=2),
                live_row("queue|q|900", offered=1, offered_voice=1),
                live_row("queue|q|1800", offered=4, offered_voice=4),  # outside the scope: never compared
                live_row("agent|a1|0", answered=1)]
    scope = Scope(0, 1800, ("q",))
    buckets = {"queue|q|0": {"c": {"offered": 2, "offered_voice": 2, "answered": 2, "answered_within_sl": 1}, "tops": []},
               "queue|q|1800": {"c": {"offered": 4, "offered_voice": 4}, "tops": []}}
    generation = generation_messages("0001-x", scope, buckets, {})
    diff = diff_rows(store_with(old, *existing), store_with(new, *existing, *generation), scope)
    assert [(r["dimension"], r["id"], r["interval_start"], r["status"]) for r in diff.rows] == [
        ("queue", "q", "1970-01-01T00:00:00Z", "changed"), ("queue", "q", "1970-01-01T00:15:00Z", "removed")]
    assert set(diff.rows[0]["changed"]) == {"answered_within_sl", "service_level", "sl_threshold_seconds"}
    out = io.StringIO()
    write_csv(diff, out)
    header, first, second = out.getvalue().splitlines()
    columns = header.split(",")
    assert columns[:6] == ["dimension", "id", "interval_start", "interval_end", "status", "changed_fields"]
    values = dict(zip(columns, first.split(",")))
    assert (values["current_answered_within_sl"], values["recomputed_answered_within_sl"]) == ("2", "1")
    assert (values["current_sl_threshold_seconds"], values["recomputed_sl_threshold_seconds"]) == ("20.0", "10.0")
    assert dict(zip(columns, second.split(",")))["recomputed_offered"] == ""  # removed: nothing recomputed


# ---- settings and the command line ---------------------------------------------------------------
def test_settings_files_are_checked_before_anything_else(tmp_path: Path) -> None:
    current = Settings()
    assert load_settings(None, current) is current
    good = tmp_path / "good.toml"
    good.write_text("[queues.sales]\nsl_threshold_seconds = 5\n")
    new = load_settings(good, current)
    assert new.queue("sales").sl_threshold_seconds == 5 and settings_hash(new) != settings_hash(current)
    assert settings_hash(Settings()) == settings_hash(current)
    cases = {"missing.toml": None, "bad.toml": "[queues\n", "value.toml": "lateness_seconds = -5\n",
             "topics.toml": '[topics]\nread_model = "elsewhere"\n'}
    messages = ["no such settings file", "is not valid TOML", "invalid setting lateness_seconds", "names other topics"]
    for (name, text), message in zip(cases.items(), messages):
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(SettingsProblem, match=message):
            load_settings(path, current)


@pytest.mark.parametrize("args,message", [
    (["--from", "2026-03-02T08:05:00Z", "--to", "2026-03-03"], "15-minute boundary"),
    (["--from", "2026-03-03", "--to", "2026-03-02"], "--to must be after --from"),
    (["--from", "2026-03-02", "--to", "2026-03-03", "--output", "x.csv"], "--output is for --dry-run"),
    (["--from", "2026-03-02", "--to", "2026-03-03", "--settings", "absent.toml"], "no such settings file"),
])
def test_usage_errors_exit_2_before_kafka_is_touched(args, message, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CCPULSE_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # would fail differently if contacted
    assert cli.main(["recompute", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "cannot reach Kafka" not in err


def test_unreachable_kafka_names_the_fix(capsys, monkeypatch) -> None:
    from ccpulse.broker import free_port

    monkeypatch.setenv("CCPULSE_BOOTSTRAP_SERVERS", f"127.0.0.1:{free_port()}")
    cli.get_settings.cache_clear()
    try:
        assert cli.main(["recompute", "--from", "2026-03-02", "--to", "2026-03-03"]) == 2
    finally:
        cli.get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "cannot reach Kafka" in err and "ccpulse broker" in err


def test_a_date_means_midnight_in_the_time_zone() -> None:
    from ccpulse.recompute import _resolve_time, _time

    zone = Settings(timezone="Asia/Ho_Chi_Minh").zone
    assert iso(_resolve_time(_time("2026-03-02"), zone)) == "2026-03-01T17:00:00Z"
    assert _resolve_time(_time("2026-03-02T08:00:00Z"), zone) == parse_time("2026-03-02T08:00:00Z")
    assert timedelta(seconds=_resolve_time(_time("2026-03-03"), zone) - _resolve_time(_time("2026-03-02"), zone)) == timedelta(days=1)


def test_the_whole_centre_diff_compares_agent_rows_and_per_queue_agent_rows() -> None:
    """A queue-limited token is served the sums of per-(agent, queue) rows: the diff compares them too."""
    existing = [live_row("agent|a1|0", answered=1), live_row("agentq|a1\x1fq|0", answered=1)]
    after = [live_row("agent|a1|0", answered=2), live_row("agentq|a1\x1fq|0", answered=2)]
    diff = diff_rows(store_with(Settings(), *existing), store_with(Settings(), *after), Scope(0, 900))
    assert [(r["dimension"], r["id"], r["status"]) for r in diff.rows] == [("agent", "a1", "changed"), ("agentq", "a1\x1fq", "changed")]
