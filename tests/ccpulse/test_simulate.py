"""The simulator: deterministic, contract-valid, internally consistent, and faithful to its models."""

from __future__ import annotations

import argparse
import math
import random
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from ccpulse.broker import free_port
from ccpulse.settings import Settings
from ccpulse.simulate import (
    MmcConfig,
    SimConfig,
    add_arguments,
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
