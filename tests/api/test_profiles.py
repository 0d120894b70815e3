"""Weekday and hour-of-day profiles: hand-computed ratios of sums, local time, CSV, scoping, errors."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings as hypothesis_settings
from hypothesis import strategies as st

from api.auth import hash_token
from api.main import create_app
from api.store import ReadModelStore
from ccpulse.domain.buckets import merge_buckets
from ccpulse.domain.profiles import profile, profile_rows, slot_of
from ccpulse.settings import ApiToken, QueueSettings, Settings
from schemas.api import ProfileRow

from .conftest import agent, interval

HCM = ZoneInfo("Asia/Ho_Chi_Minh")  # UTC+7, no DST


def local(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=HCM).timestamp())


# Two Mondays and a Tuesday, 09:00 and 10:00 local (02:00 and 03:00 UTC).
MON1_09 = dict(offered=10, offered_email=10, answered=10, answered_within_sl=9, wait_answered_ms=100_000,
               wait_answered_business_ms=60_000, handled=10, talk_ms=1_000_000, csat_responses=4, csat_satisfied=4,
               nps_responses=2, nps_promoters=2, cases_resolved=2, resolution_ms=7_200_000)
MON2_09 = dict(offered=2, offered_email=2, answered=2, answered_within_sl=0, wait_answered_ms=500_000,
               wait_answered_business_ms=300_000, handled=2, talk_ms=600_000, csat_responses=1, csat_satisfied=0,
               nps_responses=2, nps_detractors=2, cases_resolved=1, resolution_ms=1_800_000)
MON1_10 = dict(offered=4, offered_email=4, answered=3, abandoned=1, answered_within_sl=3, wait_answered_ms=30_000,
               wait_answered_business_ms=30_000, handled=3, talk_ms=300_000)
TUE_09 = dict(offered=1, offered_email=1, answered=1, answered_within_sl=1, wait_answered_ms=5_000,
              wait_answered_business_ms=5_000, handled=1, talk_ms=100_000)
OTHER = dict(offered=50, offered_voice=50, answered=50, answered_within_sl=50, handled=50, talk_ms=50_000)

FULL, MAIL_ONLY = "ccp_profile-full", "ccp_profile-mail"


@pytest.fixture
def settings():
    return Settings(
        timezone="Asia/Ho_Chi_Minh", auth_enabled=True,
        queues={"mail": QueueSettings(sl_threshold_seconds=3600, sl_formula="answered_within_over_answered_abandoned")},
        api_tokens=[ApiToken(name="full", sha256=hash_token(FULL), scopes=["read", "metrics"]),
                    ApiToken(name="mail", sha256=hash_token(MAIL_ONLY), scopes=["read"], queues=["mail"])])


@pytest.fixture
def client(settings) -> TestClient:
    store = ReadModelStore(settings)
    store.ready = True
    for start, counters in ((local("2026-03-02 09:00"), MON1_09), (local("2026-03-09 09:15"), MON2_09),
                            (local("2026-03-02 10:30"), MON1_10), (local("2026-03-03 09:45"), TUE_09)):
        interval(store, "queue", "mail", start, None, **counters)
        interval(store, "channel", "email", start, None, **counters)
        interval(store, "agent", "m1", start, None, **counters)
    interval(store, "queue", "hotline", local("2026-03-02 09:00"), None, **OTHER)
    agent(store, "m1", "available", ["mail"], "post", "hcm")
    agent(store, "v1", "available", ["hotline"], "phones", "hcm")
    store.event_now = lambda: float(local("2026-03-10 12:00"))  # type: ignore[method-assign]
    app = create_app(settings)
    app.state.store = store
    return TestClient(app, headers={"Authorization": f"Bearer {FULL}"})


RANGE = {"start": "2026-03-01T00:00:00+07:00", "end": "2026-03-11T00:00:00+07:00"}


def test_weekday_profile_is_a_ratio_of_sums_in_local_time(client) -> None:
    response = client.get("/api/v1/queues/mail/profile", params={"by": "weekday", **RANGE})
    assert response.status_code == 200
    body = response.json()
    assert (body["dimension"], body["id"], body["by"], body["timezone"]) == ("queue", "mail", "weekday", "Asia/Ho_Chi_Minh")
    rows = {r["label"]: r for r in body["rows"]}
    assert list(rows) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    mon = rows["mon"]
    # Both Mondays and both hours summed: offered 10 + 2 + 4, answered 10 + 2 + 3.
    assert (mon["offered"], mon["answered"], mon["abandoned"], mon["handled"]) == (16, 15, 1, 15)
    # Service level (within / (answered + abandoned)): (9 + 0 + 3) / (15 + 1) = 0.75 — not the mean
    # of the days' levels ((9+3)/14 and 0/2 → 0.43).
    assert mon["service_level"] == pytest.approx(12 / 16)
    assert mon["asa_seconds"] == pytest.approx((100 + 500 + 30) / 15)
    assert mon["response_time_seconds"] == pytest.approx((60 + 300 + 30) / 15)  # on the SLA clock
    assert mon["aht_seconds"] == pytest.approx((1000 + 600 + 300) / 15, abs=1e-3)  # durations in whole ms
    assert mon["csat"] == pytest.approx(4 / 5) and mon["csat_responses"] == 5
    assert mon["nps"] == pytest.approx(100 * (2 - 2) / 4) and mon["nps_responses"] == 4
    assert mon["cases_resolved"] == 3 and mon["avg_resolution_seconds"] == pytest.approx((7200 + 1800) / 3)
    assert rows["tue"]["offered"] == 1 and rows["tue"]["service_level"] == 1.0
    assert rows["wed"]["offered"] == 0 and rows["wed"]["service_level"] is None  # nothing to divide: null


def test_hour_profile(client) -> None:
    rows = client.get("/api/v1/queues/mail/profile", params={"by": "hour", **RANGE}).json()["rows"]
    assert len(rows) == 24 and rows[9]["label"] == "09:00"
    assert rows[9]["offered"] == 10 + 2 + 1 and rows[10]["offered"] == 4  # local hours, not UTC (02:00/03:00)
    assert rows[9]["service_level"] == pytest.approx((9 + 0 + 1) / 13)
    assert sum(r["offered"] for r in rows) == 17


def test_range_limits_the_intervals(client) -> None:
    rows = client.get("/api/v1/queues/mail/profile",
                      params={"start": "2026-03-09T00:00:00+07:00", "end": "2026-03-10T00:00:00+07:00"}).json()["rows"]
    assert rows[0]["offered"] == 2  # only the second Monday


def test_agents_teams_channels_and_the_centre(client) -> None:
    for path in ("/api/v1/agents/m1/profile", "/api/v1/teams/post/profile", "/api/v1/channels/email/profile"):
        body = client.get(path, params=RANGE).json()
        assert body["rows"][0]["offered"] == 16, path
    centre = client.get("/api/v1/summary/profile", params=RANGE).json()
    assert centre["dimension"] == "centre" and centre["id"] is None
    assert centre["rows"][0]["offered"] == 16 + 50  # mail and hotline summed


def test_csv_by_format_or_accept_header(client) -> None:
    for kwargs in ({"params": {"format": "csv", **RANGE}}, {"params": RANGE, "headers": {"Accept": "text/csv"}}):
        response = client.get("/api/v1/queues/mail/profile", **kwargs)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        lines = list(csv.DictReader(io.StringIO(response.text)))
        assert len(lines) == 7 and lines[0]["queue_id"] == "mail" and lines[0]["label"] == "mon"
        assert lines[0]["offered"] == "16" and float(lines[0]["service_level"]) == pytest.approx(0.75)
        assert lines[2]["service_level"] == ""  # null is an empty cell


def test_a_queue_scoped_token_sees_only_its_queues(client) -> None:
    mail = {"Authorization": f"Bearer {MAIL_ONLY}"}
    assert client.get("/api/v1/queues/hotline/profile", params=RANGE, headers=mail).status_code == 404
    assert client.get("/api/v1/teams/phones/profile", params=RANGE, headers=mail).status_code == 404
    centre = client.get("/api/v1/summary/profile", params=RANGE, headers=mail).json()
    assert centre["rows"][0]["offered"] == 16  # hotline's 50 are not the mail client's business


@pytest.mark.parametrize("params", [
    {"by": "minute"}, {"format": "xml"}, {"start": "2026-03-02T00:00:00"},  # no offset
    {"start": "2026-03-05T00:00:00Z", "end": "2026-03-04T00:00:00Z"}, {"start": "2020-01-01T00:00:00Z"},
])
def test_bad_parameters_are_422(client, params) -> None:
    response = client.get("/api/v1/queues/mail/profile", params=params)
    assert response.status_code == 422 and response.json()["detail"]


def test_unknown_entities_are_404(client) -> None:
    for path in ("/api/v1/queues/nope/profile", "/api/v1/agents/nope/profile", "/api/v1/teams/nope/profile",
                 "/api/v1/channels/fax/profile"):
        assert client.get(path).status_code == 404, path


def test_metrics_export_the_response_time_profile_of_the_last_7_days(client) -> None:
    text = client.get("/metrics").text
    # Now is Tuesday 10 March: today and the 7 days before = from Tuesday 3 March (the 2 March Monday is out).
    assert 'ccpulse_queue_profile_response_time_seconds{by="weekday",queue="mail",slot="1-mon"} 150.0' in text
    assert 'ccpulse_queue_profile_response_time_seconds{by="weekday",queue="mail",slot="2-tue"} 5.0' in text
    assert 'ccpulse_queue_profile_response_time_seconds{by="hour",queue="mail",slot="09:00"} 101.667' in text
    assert 'slot="3-wed"' not in text  # no answers: no series


def test_profile_row_model_matches_the_domain_rows() -> None:
    rows = profile_rows({}, "weekday", HCM, 0, 1, QueueSettings(sl_threshold_seconds=20))
    assert set(ProfileRow.model_fields) == set(rows[0])


# ---- property: a profile redistributes the counters, never loses or duplicates them --------------------
buckets = st.dictionaries(st.integers(0, 4 * 7 * 96 - 1).map(lambda i: 1_772_323_200 + i * 900),
                          st.fixed_dictionaries({"c": st.fixed_dictionaries({"offered": st.integers(0, 50)}),
                                                 "tops": st.just([])}), max_size=40)


@hypothesis_settings(max_examples=100, deadline=None)
@given(buckets, st.sampled_from(["weekday", "hour"]),
       st.sampled_from([ZoneInfo("UTC"), HCM, ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kolkata")]))
def test_profile_slots_sum_to_the_whole_range(series, by, zone) -> None:
    start, end = 1_772_323_200, 1_772_323_200 + 4 * 7 * 86400
    slots = profile(series, by, zone, start, end)
    assert len(slots) == (7 if by == "weekday" else 24)
    total, _ = merge_buckets(series.values())
    assert sum(c.get("offered", 0) for _, c, _ in slots) == total.get("offered", 0)
    for slot, counters, _ in slots:
        expected = sum(b["c"]["offered"] for s, b in series.items() if slot_of(s, by, zone) == slot)
        assert counters.get("offered", 0) == expected
