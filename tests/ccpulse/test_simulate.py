"""The simulator: deterministic, contract-valid, internally consistent, and faithful to its models."""

from __future__ import annotations

import argparse
import math
import random
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from ccpulse.broker import free_port
from ccpulse.settings import Settings
from ccpulse.simulate import (
    REAL_WORLD,
    SOURCES,
    MmcConfig,
    SimConfig,
    _config,
    add_arguments,
    deliveries,
    generate,
    parse_duration,
    parse_mmc,
    run,
    sample_patience,
    simulate_to_file,
    weibull_through,
)
from schemas.events import entity_key, event_adapter

START = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc)
DAY = 86400.0


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["occurred_at"]).timestamp()


@pytest.fixture(scope="module")
def day() -> list[dict[str, Any]]:
    """One simulated day with the default set-up (all queues, 18 agents, breaks, surveys…)."""
    return list(generate(SimConfig(seed=7, start=START, duration_seconds=DAY)))


# ---- determinism and the contract ------------------------------------------------------------
def test_same_seed_gives_byte_identical_output() -> None:
    config = SimConfig(seed=42, start=START, duration_seconds=3 * 3600)
    first = [orjson.dumps(e) for e in generate(config)]
    assert first == [orjson.dumps(e) for e in generate(config)]
    assert len(first) > 500


def test_another_seed_gives_other_traffic() -> None:
    one = [orjson.dumps(e) for e in generate(SimConfig(seed=1, start=START, duration_seconds=3600))]
    two = [orjson.dumps(e) for e in generate(SimConfig(seed=2, start=START, duration_seconds=3600))]
    assert one != two
    assert not {e["event_id"] for e in map(orjson.loads, one)} & {e["event_id"] for e in map(orjson.loads, two)}


def test_every_event_is_valid_unique_and_in_time_order(day) -> None:
    for event in day:
        model = event_adapter.validate_python(event)
        dumped = model.model_dump(mode="json", exclude_none=True)
        assert {**dumped, "occurred_at": event["occurred_at"]} == event  # no field is lost or altered
        assert model.occurred_at == datetime.fromisoformat(event["occurred_at"])
    stamps = [e["occurred_at"] for e in day]
    assert all(s.endswith("+00:00") and len(s) == len("2026-11-23T10:00:00.250000+00:00") for s in stamps)
    times = [_at(e) for e in day]
    assert times == sorted(times)
    assert times[0] == START.timestamp()
    assert len({e["event_id"] for e in day}) == len(day)
    assert not any(v is None for e in day for v in e.values())


def test_a_day_has_every_kind_of_event_in_plausible_proportions(day) -> None:
    kinds = Counter(e["type"] for e in day)
    queued, answered, abandoned = kinds["contact.queued"], kinds["contact.answered"], kinds["contact.abandoned"]
    assert 1500 < queued < 4000
    assert 0.02 < abandoned / queued < 0.2
    assert 0.01 < kinds["contact.transferred"] / answered < 0.08
    assert 0.1 < kinds["contact.hold_started"] / kinds["contact.answered"] < 0.3
    assert kinds["survey.responded"] > 100 and kinds["qa.evaluated"] > 20
    away = [e for e in day if e["type"] == "agent.state_changed" and e["state"] == "away"]
    assert {e["reason"] for e in away} == {"break", "lunch"}
    channels = Counter(e["channel"] for e in day if e["type"] == "contact.queued")
    assert set(channels) == {"voice", "chat", "email"}
    customers = Counter(e["customer_id"] for e in day if e["type"] == "contact.queued")
    assert any(n > 1 for n in customers.values()), "repeat contacts"
    wrapped = [e for e in day if e["type"] == "contact.wrapped_up"]
    assert 0.7 < sum(e["resolved"] for e in wrapped) / len(wrapped) < 0.95
    csat = [e["score"] for e in day if e["type"] == "survey.responded" and e["survey"] == "csat"]
    assert statistics.mean(csat) > 3.5


def test_the_first_contacts_arrive_within_a_minute_or_two() -> None:
    """A demo must show traffic at once, whatever the time of day."""
    for hour in (3, 11):
        start = START.replace(hour=hour)
        events = generate(SimConfig(seed=3, start=start))
        first = next(e for e in events if e["type"] == "contact.queued")
        assert _at(first) - start.timestamp() < 120


def test_keys_follow_the_contract(day) -> None:
    for event in day[:2000]:
        assert entity_key(event_adapter.validate_python(event)) == (event.get("contact_id") or event["agent_id"])


# ---- consistency ----------------------------------------------------------------------------
def test_each_contact_goes_through_a_consistent_lifecycle(day) -> None:
    """Per queue visit: queued, then answered or abandoned or flowed out; an answered visit ends
    (or is transferred into a new visit) and an ended contact wraps up. A finite run completes
    every contact."""
    allowed = {
        None: {"contact.queued"},
        "contact.queued": {"contact.answered", "contact.abandoned", "contact.flowed_out"},
        "contact.answered": {"contact.hold_started", "contact.ended", "contact.transferred"},
        "contact.hold_started": {"contact.hold_ended"},
        "contact.hold_ended": {"contact.ended", "contact.transferred", "contact.hold_started"},
        "contact.transferred": {"contact.queued"},
        "contact.ended": {"contact.wrapped_up"},
    }
    last: dict[str, str | None] = defaultdict(lambda: None)
    for event in day:
        kind = event["type"]
        if kind.startswith("contact."):
            cid = event["contact_id"]
            assert kind in allowed.get(last[cid], set()), f"{cid}: {last[cid]} -> {kind}"
            last[cid] = kind
            if kind == "contact.transferred":
                assert event["to_queue_id"]
        elif kind in ("survey.responded", "qa.evaluated"):
            assert last[event["contact_id"]] == "contact.wrapped_up"
    assert set(last.values()) == {"contact.wrapped_up", "contact.abandoned", "contact.flowed_out"}


def test_agent_states_follow_the_contacts_they_handle(day) -> None:
    """on_contact from the answer, after_contact_work from the end, free after wrap-up or a
    transfer; breaks only while idle; agents only get contacts of queues they staff."""
    state: dict[str, str] = {}
    skills: dict[str, set[str]] = {}
    handling: dict[str, str] = {}  # agent -> contact
    agent_of: dict[str, str] = {}  # contact -> agent
    queue_of: dict[str, str] = {}
    expect: dict[str, set[str]] = {}
    for event in day:
        kind = event["type"]
        if kind == "agent.state_changed":
            agent, new = event["agent_id"], event["state"]
            skills[agent] = set(event["queue_ids"])
            assert event["team"] and event["site"]
            if agent in expect:
                assert new in expect.pop(agent), f"{agent}: {new}"
            else:  # not caused by a contact: logging in, breaks, logging off
                assert agent not in handling
                assert (state.get(agent), new) in {(None, "available"), ("available", "away"), ("away", "available"),
                                                   ("available", "offline"), ("away", "offline")}
            state[agent] = new
            continue
        cid = event.get("contact_id")
        if kind == "contact.queued":
            queue_of[cid] = event["queue_id"]
        elif kind == "contact.answered":
            agent = event["agent_id"]
            assert state[agent] == "available" and agent not in handling and agent not in expect
            assert queue_of[cid] in skills[agent]
            handling[agent], agent_of[cid] = cid, agent
            expect[agent] = {"on_contact"}
        elif kind in ("contact.hold_started", "contact.hold_ended"):
            assert state[agent_of[cid]] == "on_contact"
        elif kind == "contact.ended":
            assert state[agent_of[cid]] == "on_contact"
            expect[agent_of[cid]] = {"after_contact_work"}
        elif kind in ("contact.wrapped_up", "contact.transferred"):
            agent = agent_of.pop(cid)
            assert state[agent] == ("after_contact_work" if kind == "contact.wrapped_up" else "on_contact")
            del handling[agent]
            expect[agent] = {"available", "away"}
        elif kind in ("survey.responded", "qa.evaluated") and "agent_id" in event:
            assert event["agent_id"] in state
    assert not handling and not expect
    assert set(state.values()) == {"offline"}


def test_routing_serves_the_longest_waiting_contact_first_within_a_queue() -> None:
    """FIFO within one priority: in M/M/c, contacts are answered in the order they queued."""
    events = list(generate(SimConfig(seed=5, start=START, duration_seconds=4 * 3600,
                                     mmc=MmcConfig(arrival_rate_per_hour=110, mean_handle_seconds=300, agents=10))))
    queued = [e["contact_id"] for e in events if e["type"] == "contact.queued"]
    answered = [e["contact_id"] for e in events if e["type"] == "contact.answered"]
    assert answered == queued


# ---- patience and abandonment ---------------------------------------------------------------
def test_weibull_fit_goes_through_both_anchors() -> None:
    scale, shape = weibull_through(60, 1 / 3, 180, 2 / 3)
    cdf = lambda t: 1 - math.exp(-((t / scale) ** shape))  # noqa: E731
    assert cdf(60) == pytest.approx(1 / 3) and cdf(180) == pytest.approx(2 / 3)


def test_patience_sampler_matches_the_product_owner_figures() -> None:
    rng = random.Random(1)
    voice = [sample_patience(rng, "voice") for _ in range(20_000)]
    assert sum(p <= 60 for p in voice) / len(voice) == pytest.approx(1 / 3, abs=0.05)
    assert sum(p <= 180 for p in voice) / len(voice) == pytest.approx(2 / 3, abs=0.05)
    chat = [sample_patience(rng, "chat") for _ in range(20_000)]
    assert statistics.median(chat) > 2 * statistics.median(voice)
    assert sample_patience(rng, "email") == math.inf


def test_observed_voice_abandons_are_consistent_with_the_patience_model() -> None:
    """Kaplan–Meier over first queue visits (answers and callbacks censor patience) recovers
    about 1/3 gone by 60 s and 2/3 by 180 s. Double load makes long waits common enough."""
    queued: dict[str, float] = {}
    seen: set[str] = set()
    waits: list[tuple[float, bool]] = []
    for event in generate(SimConfig(seed=11, start=START, duration_seconds=2 * DAY, load=2.0)):
        kind, cid = event["type"], event.get("contact_id")
        if kind == "contact.queued":
            if cid not in seen and event["channel"] == "voice":
                queued[cid] = _at(event)
            seen.add(cid)
        elif cid in queued and kind in ("contact.answered", "contact.abandoned", "contact.flowed_out"):
            waits.append((_at(event) - queued.pop(cid), kind == "contact.abandoned"))
    waits.sort()
    at_risk, survival, still_waiting = len(waits), 1.0, {}
    for wait, abandoned in waits:
        for mark in (60, 180):
            if wait > mark:
                still_waiting.setdefault(mark, survival)
        survival *= 1 - abandoned / at_risk
        at_risk -= 1
    assert 1 - still_waiting[60] == pytest.approx(1 / 3, abs=0.05)
    assert 1 - still_waiting[180] == pytest.approx(2 / 3, abs=0.05)


# ---- M/M/c ----------------------------------------------------------------------------------
def test_mmc_mode_is_a_plain_m_m_c_queue() -> None:
    mmc = MmcConfig(arrival_rate_per_hour=360, mean_handle_seconds=240, agents=30)
    hours = 10
    events = list(generate(SimConfig(seed=9, start=START, duration_seconds=hours * 3600, mmc=mmc)))
    kinds = Counter(e["type"] for e in events)
    expected = 360 * hours
    assert abs(kinds["contact.queued"] - expected) < 4 * math.sqrt(expected)
    assert kinds["contact.abandoned"] == kinds["contact.flowed_out"] == kinds["contact.hold_started"] == 0
    assert kinds["contact.transferred"] == kinds["survey.responded"] == kinds["qa.evaluated"] == 0
    assert kinds["contact.answered"] == kinds["contact.ended"] == kinds["contact.wrapped_up"] == kinds["contact.queued"]
    answered: dict[str, float] = {}
    ended: dict[str, str] = {}
    handle: list[float] = []
    for event in events:
        if event["type"] == "contact.answered":
            answered[event["contact_id"]] = _at(event)
        elif event["type"] == "contact.ended":
            handle.append(_at(event) - answered[event["contact_id"]])
            ended[event["contact_id"]] = event["occurred_at"]
        elif event["type"] == "contact.wrapped_up":
            assert event["occurred_at"] == ended[event["contact_id"]]
            assert "resolved" not in event
        elif event["type"] == "contact.queued":
            assert event["queue_id"] == "mmc" and "priority" not in event and "customer_id" not in event
    assert statistics.mean(handle) == pytest.approx(240, rel=0.06)
    assert statistics.stdev(handle) == pytest.approx(240, rel=0.1)  # exponential: sd = mean
    agents = {e["agent_id"] for e in events if e["type"] == "agent.state_changed"}
    assert len(agents) == 30
    assert not any(e["type"] == "agent.state_changed" and e["state"] == "away" for e in events)


def test_mmc_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        MmcConfig(arrival_rate_per_hour=0, mean_handle_seconds=200, agents=3)


# ---- file output and CLI --------------------------------------------------------------------
def test_simulate_to_file_writes_the_contract_json_one_per_line(tmp_path: Path) -> None:
    config = SimConfig(seed=4, start=START, duration_seconds=1800)
    summary = simulate_to_file(config, tmp_path / "sim.jsonl")
    lines = (tmp_path / "sim.jsonl").read_bytes().splitlines()
    assert lines == [orjson.dumps(e) for e in generate(config)]
    assert summary.events == len(lines)
    assert summary.contacts == len({orjson.loads(x).get("contact_id") for x in lines} - {None})


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("3d", 259200), ("45", 45),
                                               ("1.5h", 5400)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "-3m", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_mmc_flag() -> None:
    assert parse_mmc("120,300,12") == MmcConfig(120.0, 300.0, 12)
    for bad in ("120,300", "a,b,c", "120,300,0"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_mmc(bad)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_writes_a_file_and_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.jsonl"
    args = _args("--seed", "3", "--duration", "10m", "--start", "2026-11-23T09:00:00", "--output", str(out))
    assert run(args, Settings(timezone="Europe/Lisbon")) == 0
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("ccpulse simulate: sent ")
    assert f"to {out}" in err
    first = orjson.loads(out.read_bytes().splitlines()[0])
    assert first["occurred_at"] == "2026-11-23T09:00:00.000000+00:00"  # Lisbon is UTC in November


def test_cli_reports_unreachable_kafka_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--duration", "1m", "--speed", "0")
    code = run(args, Settings(bootstrap_servers=f"127.0.0.1:{free_port()}"))
    err = capsys.readouterr().err
    assert code == 2
    assert "ccpulse: cannot reach Kafka at 127.0.0.1:" in err and "Traceback" not in err


def test_customer_events_follow_the_contacts_customers() -> None:
    """--customer-events: valid customer events for the same customer pool, the contact traffic unchanged,
    and the retention core folds them."""
    from datetime import datetime, timezone

    from ccpulse.domain.batch import fold_retention
    from ccpulse.domain.retention import period_rows
    from ccpulse.settings import Settings
    from ccpulse.simulate import SimConfig, generate
    from schemas.events import decode_event

    start = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    plain = list(generate(SimConfig(seed=3, start=start, duration_seconds=4 * 3600, customers=300)))
    both = list(generate(SimConfig(seed=3, start=start, duration_seconds=4 * 3600, customers=300, customer_events=True)))
    customer = [e for e in both if e["type"].startswith("customer.")]
    assert [e for e in both if not e["type"].startswith("customer.")] == plain
    assert customer and all(decode_event(__import__("orjson").dumps(e)).type == e["type"] for e in customer)
    pool = {e["customer_id"] for e in plain if e.get("customer_id")}
    live = [e for e in customer if e["occurred_at"] >= start.isoformat()]
    assert live and {e["customer_id"] for e in live} <= pool  # reactions to service: the contacts' customers
    assert {e["customer_id"] for e in customer} & pool
    assert any(e["type"] == "customer.subscription_cancelled" and e.get("reason") == "service" for e in live)
    messages = [__import__("orjson").dumps(e) for e in customer]
    result = fold_retention(messages, {}, Settings())
    assert result.rejected == []
    [march] = period_rows(result.totals, "month", start.timestamp(), start.timestamp() + 86400, Settings().retention,
                          Settings().zone)
    assert march["customers_start"] > 100 and march["mrr_start"] > 0


# ---- real-world streams ---------------------------------------------------------------------
FRIDAY = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)  # a Friday (UTC is the default zone)
_US = 1_000_000


def _us(event: dict[str, Any]) -> int:
    """Event time in whole microseconds (exact, unlike a float)."""
    moment = datetime.fromisoformat(event["occurred_at"])
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


@pytest.fixture(scope="module")
def plain_day() -> list[dict[str, Any]]:
    return list(generate(SimConfig(seed=11, start=FRIDAY, duration_seconds=6 * 3600)))


def test_whole_second_resolution_truncates_every_timestamp(plain_day) -> None:
    """--resolution 1s: the same events, each stamped with the whole second it happened in."""
    whole = list(generate(SimConfig(seed=11, start=FRIDAY, duration_seconds=6 * 3600, resolution=1.0)))
    assert [(e["event_id"], e["type"]) for e in whole] == [(e["event_id"], e["type"]) for e in plain_day]
    for fine, coarse in zip(plain_day, whole):
        assert _us(coarse) == _us(fine) // _US * _US
        assert len(coarse["occurred_at"]) == len("2026-11-27T08:00:01+00:00")  # no fraction written
        assert {k: v for k, v in coarse.items() if k != "occurred_at"} == {k: v for k, v in fine.items() if k != "occurred_at"}
    # Several events of one contact now share a second (e.g. ended and wrapped_up without ACW).
    per_contact = Counter((e["contact_id"], e["occurred_at"]) for e in whole if "contact_id" in e)
    assert sum(n > 1 for n in per_contact.values()) > 20


def test_per_source_skew_and_resolution(plain_day) -> None:
    """ACD whole seconds on its own clock, the desktop 400 ms behind in milliseconds, surveys 2 s ahead."""
    config = SimConfig(seed=11, start=FRIDAY, duration_seconds=6 * 3600,
                       resolution={"acd": 1.0, "desktop": 0.001}, skew={"desktop": -0.4, "surveys": 2.0})
    skewed = list(generate(config))
    assert [e["event_id"] for e in skewed] == [e["event_id"] for e in plain_day]
    expected = {"acd": lambda us: us // _US * _US, "desktop": lambda us: (us - 400_000) // 1000 * 1000,
                "surveys": lambda us: us + 2 * _US, "qa": lambda us: us}
    sources = {"contact.queued": "acd", "contact.answered": "acd", "contact.abandoned": "acd", "contact.flowed_out": "acd",
               "agent.state_changed": "acd", "contact.transferred": "desktop", "contact.hold_started": "desktop",
               "contact.hold_ended": "desktop", "contact.ended": "desktop", "contact.wrapped_up": "desktop",
               "survey.responded": "surveys", "qa.evaluated": "qa"}
    for fine, event in zip(plain_day, skewed):
        source = sources[event["type"]]
        assert event["source"] == f"ccpulse-simulate/{source}"
        assert _us(event) == expected[source](_us(fine)), event
    # A desktop event can be stamped before the ACD event that truly came first (an answer before its
    # transfer: by up to 400 ms), an ACD event before the desktop event that came first (a transfer
    # before the queued that follows it: floor(t) against t - 0.4, by under 600 ms).
    previous: dict[str, int] = {}
    inversions = []
    for event in skewed:
        if event["type"].startswith("contact."):
            cid = event["contact_id"]
            if cid in previous and _us(event) < previous[cid]:
                inversions.append(previous[cid] - _us(event))
            previous[cid] = _us(event)
    assert inversions and max(inversions) < 600_000


def test_disorder_and_duplicates_stay_within_the_lateness_bound(plain_day) -> None:
    """--disorder 30s --duplicates 5%: every event once (plus retries), each source in its own order per
    entity, nothing more than 30 s behind the newest timestamp already delivered."""
    config = SimConfig(seed=11, start=FRIDAY, duration_seconds=6 * 3600, disorder_seconds=30, duplicate_rate=0.05)
    delivered = list(deliveries(config))
    originals = [e for e, dup in delivered if not dup]
    assert sorted(e["event_id"] for e in originals) == sorted(e["event_id"] for e in plain_day)
    assert {e["event_id"]: e for e in originals} == {e["event_id"]: e for e in plain_day}
    seen: set[str] = set()
    newest = 0
    behind = []
    for event, duplicate in delivered:
        assert (event["event_id"] in seen) == duplicate  # a retry comes after the original
        seen.add(event["event_id"])
        newest = max(newest, _us(event))
        behind.append(newest - _us(event))
    assert max(behind) <= 30 * _US and sum(b > 0 for b in behind) > len(behind) // 4
    duplicates = sum(dup for _, dup in delivered)
    assert 0.04 < duplicates / len(plain_day) < 0.06
    # Each source keeps its order per contact / agent (what the producer-order rule relies on).
    position = {e["event_id"]: n for n, e in enumerate(plain_day)}
    order: dict[tuple[str, str], list[int]] = defaultdict(list)
    for event in originals:
        entity = event.get("contact_id") or event["agent_id"]
        order[(entity, SOURCES[event["type"]])].append(position[event["event_id"]])
    assert all(seq == sorted(seq) for seq in order.values())
    assert [e["event_id"] for e in originals] != [e["event_id"] for e in plain_day]  # some did arrive out of order


def test_a_disordered_duplicated_stream_folds_with_only_duplicates_rejected() -> None:
    """The whole --real-world stream through the pure core with a lateness bound of 30 s: the
    disorder never makes an event late, every retry is told apart as a duplicate, every contact
    finishes (weekend emails included), and each queue offered what was queued into it."""
    from ccpulse.domain.batch import fold_messages

    settings = Settings(lateness_seconds=30)
    config = _config(_args("--real-world", "--duration", "6h", "--start", FRIDAY.isoformat(), "--seed", "11"), settings)
    assert config.disorder_seconds == REAL_WORLD["disorder"] == 30
    events = list(deliveries(config))
    result = fold_messages([orjson.dumps(e) for e, _ in events], settings)
    assert Counter(reason for _, reason in result.rejected) == Counter({"duplicate": sum(d for _, d in events)})
    assert result.contacts == {}
    offered: Counter[str] = Counter()
    for key, bucket in result.buckets.items():
        if key.startswith("queue|"):
            offered[key.split("|")[1]] += bucket["c"].get("offered", 0)
    queued = Counter(e["queue_id"] for e, dup in events if e["type"] == "contact.queued" and not dup)
    assert set(offered) == set(queued) >= {"ivr", "callbacks", "email_support", "sales"}
    assert offered["ivr"] == queued["ivr"]  # one visit each: the bot hands every caller over


def test_email_waits_over_the_weekend() -> None:
    """--email-hours: email is worked Mon-Fri 08:00-18:00 only. Emails that arrive on Friday evening are
    answered on Monday morning; voice and chat go on meanwhile."""
    from ccpulse.domain.calendar import BusinessClock
    from ccpulse.settings import BusinessHours

    clock = BusinessClock(BusinessHours().calendar(), "UTC")
    start = FRIDAY.replace(hour=16)
    events = list(generate(SimConfig(seed=2, start=start, duration_seconds=4 * 3600, email_hours=clock)))
    queued = {e["contact_id"]: _at(e) for e in events if e["type"] == "contact.queued" and e["queue_id"] == "email_support"}
    answered = {e["contact_id"]: _at(e) for e in events if e["type"] == "contact.answered" and e["contact_id"] in queued}
    assert set(answered) == set(queued)  # none abandons, all are answered in the end
    closes, opens = FRIDAY.replace(hour=18).timestamp(), datetime(2026, 11, 30, 8, tzinfo=timezone.utc).timestamp()
    for cid, at in answered.items():
        assert not closes <= at < opens, f"{cid} answered while email is closed"
    evening = [cid for cid, at in queued.items() if at >= closes]
    assert len(evening) > 5 and all(answered[cid] >= opens for cid in evening)
    assert any(e["type"] == "contact.answered" and closes < _at(e) < opens and e["contact_id"] not in queued for e in events)


def test_qa_scored_days_later_after_the_agents_logged_off() -> None:
    events = list(generate(SimConfig(seed=4, start=FRIDAY, duration_seconds=4 * 3600, qa_delay_seconds=5 * 86400)))
    wrapped = {e["contact_id"]: _at(e) for e in events if e["type"] == "contact.wrapped_up"}
    qa = [e for e in events if e["type"] == "qa.evaluated"]
    assert len(qa) > 5
    for event in qa:
        assert 2.5 * 86400 <= _at(event) - wrapped[event["contact_id"]] <= 5 * 86400
    offline = [n for n, e in enumerate(events) if e["type"] == "agent.state_changed" and e["state"] == "offline"]
    first_qa = next(n for n, e in enumerate(events) if e["type"] == "qa.evaluated")
    assert len(offline) == 18 and max(offline) < first_qa
    times = [_at(e) for e in events]
    assert times == sorted(times)


def _lifecycles(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event["type"].startswith("contact."):
            out[event["contact_id"]].append(event)
    return out


@pytest.fixture(scope="module")
def structured() -> list[dict[str, Any]]:
    """Callbacks, re-queues, the bot and agent-to-agent transfers, whole-second ACD timestamps."""
    return list(generate(SimConfig(seed=8, start=FRIDAY, duration_seconds=8 * 3600, callbacks=True, requeue_rate=0.1,
                                   bot=True, agent_transfer_rate=0.1, resolution={"acd": 1.0})))


def test_callbacks_wait_in_the_callback_queue_from_the_same_second(structured) -> None:
    from_flow = from_abandon = 0
    for cid, steps in _lifecycles(structured).items():
        for before, after in zip(steps, steps[1:]):
            requeue = before["type"] == "contact.queued" and before["queue_id"] == after.get("queue_id")
            if after["type"] == "contact.queued" and after["queue_id"] == "callbacks" and not requeue:
                assert before["type"] in ("contact.flowed_out", "contact.abandoned")
                assert before["occurred_at"] == after["occurred_at"]
                from_flow += before["type"] == "contact.flowed_out"
                from_abandon += before["type"] == "contact.abandoned"
            if before["type"] == "contact.flowed_out" and before.get("reason") == "callback":
                assert after["type"] == "contact.queued" and after["queue_id"] == "callbacks"
        callbacks = [n for n, s in enumerate(steps) if s["type"] == "contact.queued" and s["queue_id"] == "callbacks"]
        for n in callbacks:  # called back: answered, never abandoned
            assert next(s for s in steps[n + 1:] if s["type"] != "contact.queued")["type"] == "contact.answered"
    assert from_flow > 5 and from_abandon > 5


def test_requeues_go_back_into_the_same_queue_and_the_agent_is_away(structured) -> None:
    requeues = 0
    for cid, steps in _lifecycles(structured).items():
        for before, after in zip(steps, steps[1:]):
            if after["type"] == "contact.queued" and before["type"] == "contact.queued" and before["queue_id"] == after["queue_id"]:
                requeues += 1
    missed = [e for e in structured if e["type"] == "agent.state_changed" and e.get("reason") == "missed"]
    assert requeues > 20 and len(missed) == requeues


def test_the_bot_hands_every_caller_over(structured) -> None:
    same_second = 0
    for cid, steps in _lifecycles(structured).items():
        if not cid.startswith("call-"):
            continue
        first = steps[:4]
        assert [s["type"] for s in first] == ["contact.queued", "contact.answered", "contact.transferred", "contact.queued"]
        assert first[0]["queue_id"] == "ivr" and first[1]["agent_id"] == "bot-ivr"
        assert first[2]["to_queue_id"] == first[3]["queue_id"] != "ivr"
        assert first[0]["occurred_at"] == first[1]["occurred_at"]
        same_second += first[1]["occurred_at"][:19] == first[2]["occurred_at"][:19] == first[3]["occurred_at"][:19]
    calls = sum(cid.startswith("call-") for cid in _lifecycles(structured))
    # A third hand over within 0.9 s; about half of those within the same whole second.
    assert 0.1 < same_second / calls < 0.3


def test_agent_to_agent_transfers_hand_the_contact_to_a_free_colleague(structured) -> None:
    holder: dict[str, str] = {}  # contact -> agent handling it
    state: dict[str, str] = {}
    transfers = 0
    last_agent: dict[str, str] = {}
    for event in structured:
        kind = event["type"]
        if kind == "agent.state_changed":
            state[event["agent_id"]] = event["state"]
        elif kind == "contact.answered" and event["agent_id"] != "bot-ivr":
            holder[event["contact_id"]] = event["agent_id"]
        elif kind == "contact.transferred" and "to_agent_id" in event:
            transfers += 1
            before, after = holder[event["contact_id"]], event["to_agent_id"]
            assert before != after and state[after] == "available"
            holder[event["contact_id"]] = after
        elif kind == "contact.wrapped_up":
            last_agent[event["contact_id"]] = holder[event["contact_id"]]
        elif kind == "survey.responded":
            assert event["agent_id"] == last_agent[event["contact_id"]]  # the last agent gets the credit
    assert transfers > 20


def test_real_world_lifecycles_stay_consistent(structured) -> None:
    """In true order (no --disorder): every step is a valid lifecycle step, every contact finishes."""
    for cid, steps in _lifecycles(structured).items():
        waiting = handling = acw = False
        queue = None
        for step in steps:
            kind = step["type"]
            if kind == "contact.queued":
                assert not handling and not acw
                assert not waiting or step["queue_id"] == queue, f"{cid}: moved without leaving {queue}"
                waiting, queue = True, step["queue_id"]
            elif kind in ("contact.answered", "contact.abandoned", "contact.flowed_out"):
                assert waiting, f"{cid}: {kind} while not waiting"
                waiting, handling = False, kind == "contact.answered"
            elif kind == "contact.transferred":
                assert handling
                handling = "to_agent_id" in step
            elif kind in ("contact.hold_started", "contact.hold_ended"):
                assert handling
            elif kind == "contact.ended":
                assert handling
                handling, acw = False, True
            elif kind == "contact.wrapped_up":
                assert acw
                acw = False
        assert not (waiting or handling or acw), f"{cid} did not finish"


def test_real_world_options_are_deterministic() -> None:
    config = SimConfig(seed=5, start=FRIDAY, duration_seconds=2 * 3600, resolution=1.0, skew={"desktop": -0.3},
                       disorder_seconds=20, duplicate_rate=0.02, callbacks=True, requeue_rate=0.05, bot=True,
                       agent_transfer_rate=0.05)
    assert [orjson.dumps(e) for e in generate(config)] == [orjson.dumps(e) for e in generate(config)]


@pytest.mark.parametrize(("argv", "message"), [
    (("--skew", "phone=1s"), "SOURCE=VALUE with SOURCE one of acd, desktop"),
    (("--skew", "desktop"), "SOURCE=VALUE"),
    (("--resolution", "1x"), "invalid --resolution '1x'"),
    (("--duplicates", "1.5"), "between 0 and 1"),
    (("--requeues", "many"), "invalid rate 'many'"),
])
def test_bad_real_world_options_are_usage_errors(argv, message, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _args(*argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_real_world_option_values() -> None:
    from ccpulse.simulate import parse_rate, parse_resolution, parse_skew

    assert parse_resolution("1s") == 1.0 and parse_resolution("1ms") == 0.001
    assert parse_resolution("acd=1s, desktop=1ms") == {"acd": 1.0, "desktop": 0.001}
    assert parse_skew("desktop=-300ms,surveys=+2") == {"desktop": -0.3, "surveys": 2.0}
    assert parse_rate("2%") == pytest.approx(0.02) and parse_rate("0.1") == 0.1


def test_disorder_beyond_the_lateness_bound_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--duration", "10m", "--disorder", "2h", "--output", str(tmp_path / "x.jsonl"))
    assert run(args, Settings(lateness_seconds=3600)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ccpulse: --disorder 7200s is beyond the lateness bound (CCPULSE_LATENESS_SECONDS=3600)")
    assert "\n" not in err and not (tmp_path / "x.jsonl").exists()


def test_cli_real_world_writes_a_file_and_counts_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "real.jsonl"
    args = _args("--real-world", "--qa-delay", "1d", "--duration", "1h", "--start", "2026-11-27T09:00:00Z",
                 "--output", str(out))
    assert run(args, Settings()) == 0
    line = capsys.readouterr().err.strip().splitlines()[-1]
    events = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    dups = len(events) - len({e["event_id"] for e in events})
    contacts = len({e["contact_id"] for e in events if "contact_id" in e})
    assert dups > 0 and f"({contacts:,} contacts, {dups:,} of them duplicates)" in line
    acd = [e["occurred_at"] for e in events if e["type"] == "contact.queued"]
    assert all(len(t) == len("2026-11-27T09:00:00+00:00") for t in acd)  # whole seconds
    assert all(event_adapter.validate_python(e) for e in events)


def test_help_documents_the_real_world_options() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = parser.format_help()
    for option in ("--resolution", "--skew", "--disorder", "--duplicates", "--email-hours", "--qa-delay",
                   "--callbacks", "--requeues", "--bot", "--agent-transfers", "--real-world"):
        assert option in text


def test_real_world_stamps_and_delivery_change_no_count() -> None:
    """The same traffic written cleanly (microseconds, one clock, in order, once) and as a real platform
    writes it (whole-second ACD, desktop 400 ms behind, QA 30 s behind, 30 s disorder, 2 % duplicates),
    both folded by the core: every count of every queue and agent is the same. (Waits and handle
    times differ by the truncation, so short abandons and within-threshold counts may too.)"""
    from ccpulse.domain.batch import fold_messages
    from ccpulse.domain.calendar import BusinessClock
    from ccpulse.settings import BusinessHours

    structure = dict(seed=11, start=FRIDAY, duration_seconds=12 * 3600, callbacks=True, requeue_rate=0.1, bot=True,
                     agent_transfer_rate=0.1, email_hours=BusinessClock(BusinessHours().calendar(), "UTC"),
                     qa_delay_seconds=2 * 86400)
    clean = SimConfig(**structure)
    real = SimConfig(**structure, resolution={"acd": 1.0, "desktop": 0.001, "surveys": 1.0, "qa": 1.0},
                     skew={"desktop": -0.4, "surveys": 2.0, "qa": -30.0}, disorder_seconds=30, duplicate_rate=0.02)
    settings = Settings(lateness_seconds=30)
    counts = ("offered", "answered", "abandoned", "flowed_out", "handled", "transfers", "csat_responses",
              "csat_satisfied", "qa_count")

    def totals(config: SimConfig) -> dict[tuple[str, str], Counter[str]]:
        sent = list(deliveries(config))
        result = fold_messages([orjson.dumps(e) for e, _ in sent], settings)
        assert [reason for _, reason in result.rejected] == ["duplicate"] * sum(d for _, d in sent)
        assert result.contacts == {}
        out: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for key, bucket in result.buckets.items():
            dimension, entity, _ = key.split("|")
            if dimension in ("queue", "agent"):
                out[(dimension, entity)].update({m: bucket["c"].get(m, 0) for m in counts})
        return out

    expected, got = totals(clean), totals(real)
    assert sum(expected[("queue", "ivr")].values()) > 100 and expected[("queue", "callbacks")]["answered"] > 5
    for key in sorted(expected.keys() | got.keys()):
        assert +got[key] == +expected[key], key
