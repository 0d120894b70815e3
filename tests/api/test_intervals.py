"""Interval endpoints of queues, agents, teams and channels: figures, CSV export, errors."""

from __future__ import annotations

import csv
import io

import pytest

from ccpulse.domain.buckets import interval_figures
from schemas.api import IntervalRow

from .conftest import A1_T0, A2_T0, A2_T1, SALES_T0, SALES_T1

DAY = {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}


def test_interval_row_model_matches_interval_figures(settings) -> None:
    figures = interval_figures({}, None, settings.channels["voice"])
    assert set(IntervalRow.model_fields) == {"interval_start", "interval_end", "granularity", *figures}


def test_queue_intervals_carry_fcr_and_agent_time_fields(client, centre) -> None:
    response = client.get("/api/v1/queues/sales/intervals", params={"granularity": "15m", **DAY})
    assert response.status_code == 200
    body = response.json()
    assert body["dimension"] == "queue" and body["id"] == body["queue_id"] == "sales"
    rows = {r["interval_start"]: r for r in body["intervals"]}
    assert list(rows) == ["2026-03-02T09:00:00Z", "2026-03-02T09:15:00Z"]  # yesterday's bucket is out of range
    now = rows["2026-03-02T09:15:00Z"]
    assert now["fcr_handled"] == 5 and now["fcr_rate"] == pytest.approx(4 / 5) and now["repeat_rate"] == pytest.approx(1 / 5)
    assert now["service_level"] == pytest.approx(6 / (8 + 2 - 1))
    assert now["available_seconds"] == 0.0 and now["occupancy"] is None and now["utilization"] is None
    assert rows["2026-03-02T09:00:00Z"]["fcr_rate"] is None  # nothing to divide by: null, not 0


def test_queue_with_own_sla_uses_it(client, centre) -> None:
    rows = client.get("/api/v1/queues/vip/intervals", params=DAY).json()["intervals"]
    assert len(rows) == 1
    assert rows[0]["sl_threshold_seconds"] == 10 and rows[0]["service_level"] == pytest.approx(1 / 3)  # answered-only


def test_agent_intervals(client, centre) -> None:
    body = client.get("/api/v1/agents/a1/intervals", params=DAY).json()
    assert body["agent_id"] == "a1" and body["dimension"] == "agent"
    [row] = body["intervals"]
    assert row["interval_start"] == "2026-03-02T09:15:00Z"
    assert row["answered"] == 3 and row["handled"] == 3
    assert row["service_level"] == pytest.approx(2 / 3)  # voice default formula: within / answered (no abandons)
    assert row["sl_threshold_seconds"] == 20 and row["sl_target"] == 0.8
    assert row["aht_seconds"] == pytest.approx(120.0)  # (300 + 60) / 3
    assert row["available_seconds"] == 200 and row["on_contact_seconds"] == 500
    assert row["after_contact_work_seconds"] == 100 and row["away_seconds"] == 100
    assert row["occupancy"] == pytest.approx(600 / 800) and row["utilization"] == pytest.approx(600 / 900)
    assert row["csat"] == 1.0


def test_agent_intervals_hourly(client, centre) -> None:
    [row] = client.get("/api/v1/agents/a2/intervals", params={"granularity": "1h", **DAY}).json()["intervals"]
    assert (row["interval_start"], row["interval_end"]) == ("2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z")
    assert row["answered"] == A2_T0["answered"] + A2_T1["answered"]
    assert row["service_level"] == pytest.approx(5 / 6)
    assert row["on_contact_seconds"] == 1600.0


def test_team_is_the_sum_of_its_agents(client, centre) -> None:
    body = client.get("/api/v1/teams/red/intervals", params=DAY).json()
    assert body["team"] == "red" and body["agent_ids"] == ["a1", "a2"]
    rows = {r["interval_start"]: r for r in body["intervals"]}
    now = rows["2026-03-02T09:15:00Z"]
    assert now["answered"] == A1_T0["answered"] + A2_T0["answered"] == 5
    assert now["answered_within_sl"] == 4 and now["service_level"] == pytest.approx(4 / 5)
    assert now["handled"] == 5 and now["aht_seconds"] == pytest.approx((300 + 60 + 100) / 5)
    # summed time, then the formula (not the mean of the two agents' occupancies)
    assert now["available_seconds"] == 300 and now["on_contact_seconds"] == 1200
    assert now["after_contact_work_seconds"] == 200 and now["away_seconds"] == 100
    assert now["occupancy"] == pytest.approx(1400 / 1700) and now["utilization"] == pytest.approx(1400 / 1800)
    assert rows["2026-03-02T09:00:00Z"]["answered"] == A2_T1["answered"]  # only a2 worked then
    hour = client.get("/api/v1/teams/red/intervals", params={"granularity": "1h", **DAY}).json()["intervals"]
    assert [r["answered"] for r in hour] == [9]


def test_team_follows_the_agents_current_team(client, centre) -> None:
    from .conftest import agent
    agent(centre, "a2", "available", ["sales"], "blue", "hn")  # a2 moves to blue, with its history
    red = client.get("/api/v1/teams/red/intervals", params=DAY).json()
    blue = client.get("/api/v1/teams/blue/intervals", params=DAY).json()
    assert red["agent_ids"] == ["a1"] and blue["agent_ids"] == ["a2", "a3", "a4"]
    assert sum(r["answered"] for r in red["intervals"]) == 3
    assert sum(r["answered"] for r in blue["intervals"]) == 2 + 4 + 5


def test_channel_intervals_use_channel_defaults(client, centre) -> None:
    voice = client.get("/api/v1/channels/voice/intervals", params={"granularity": "1h", **DAY}).json()
    assert voice["channel"] == "voice"
    rows = {r["interval_start"]: r for r in voice["intervals"]}
    nine = rows["2026-03-02T09:00:00Z"]
    assert nine["offered"] == SALES_T0["offered"] + SALES_T1["offered"]
    assert nine["service_level"] == pytest.approx((6 + 15) / (8 + 18 + 2 + 2 - 1))
    assert nine["sl_threshold_seconds"] == 20
    assert rows["2026-03-02T08:00:00Z"]["offered"] == 3
    [chat] = client.get("/api/v1/channels/chat/intervals", params=DAY).json()["intervals"]
    assert chat["sl_threshold_seconds"] == 60 and chat["service_level"] == pytest.approx(5 / 6)
    email = client.get("/api/v1/channels/email/intervals", params=DAY)
    assert email.status_code == 200 and email.json()["intervals"] == []


def test_default_range_is_today_until_now(client, centre, frozen) -> None:
    rows = client.get("/api/v1/queues/sales/intervals").json()["intervals"]
    assert [r["interval_start"] for r in rows] == ["2026-03-02T09:00:00Z", "2026-03-02T09:15:00Z"]


@pytest.mark.parametrize("path, id_column, entity", [
    ("/api/v1/queues/sales/intervals", "queue_id", "sales"),
    ("/api/v1/agents/a2/intervals", "agent_id", "a2"),
    ("/api/v1/teams/red/intervals", "team", "red"),
    ("/api/v1/channels/voice/intervals", "channel", "voice"),
])
def test_csv_export(client, centre, path, id_column, entity) -> None:
    json_rows = client.get(path, params=DAY).json()["intervals"]
    response = client.get(path, params={"format": "csv", **DAY})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0] == [id_column, *IntervalRow.model_fields]
    assert len(lines) == 1 + len(json_rows) >= 2
    for line, row in zip(lines[1:], json_rows):
        record = dict(zip(lines[0], line))
        assert record[id_column] == entity
        assert record["interval_start"] == row["interval_start"]
        assert int(record["offered"]) == row["offered"] and int(record["answered"]) == row["answered"]
        for field in ("service_level", "fcr_rate", "occupancy"):
            assert record[field] == ("" if row[field] is None else record[field])
            if row[field] is not None:
                assert float(record[field]) == pytest.approx(row[field])


def test_csv_of_no_intervals_is_just_the_header(client, centre) -> None:
    response = client.get("/api/v1/channels/email/intervals", params={"format": "csv", **DAY})
    assert response.text == ",".join(["channel", *IntervalRow.model_fields]) + "\r\n"


@pytest.mark.parametrize("path, detail", [
    ("/api/v1/queues/nope/intervals", "unknown queue 'nope'"),
    ("/api/v1/agents/nobody/intervals", "unknown agent 'nobody'"),
    ("/api/v1/teams/green/intervals", "unknown team 'green'"),
    ("/api/v1/channels/fax/intervals", "unknown channel 'fax'; channels are voice, chat and email"),
])
def test_unknown_entity_is_404_with_detail(client, centre, path, detail) -> None:
    for params in ({}, {"format": "csv"}):
        response = client.get(path, params=params)
        assert response.status_code == 404
        assert response.json() == {"detail": detail}


PATHS = ["/api/v1/queues/sales/intervals", "/api/v1/agents/a1/intervals", "/api/v1/teams/red/intervals",
         "/api/v1/channels/chat/intervals"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("params, fragment", [
    ({"granularity": "5m"}, "granularity"),
    ({"format": "xml"}, "format"),
    ({"start": "2026-03-02T09:00:00"}, "start needs a UTC offset"),
    ({"end": "2026-03-02T09:00:00"}, "end needs a UTC offset"),
    ({"start": "yesterday"}, "start"),
    ({"start": "2026-03-03T00:00:00Z", "end": "2026-03-02T00:00:00Z"}, "end must be after start"),
    ({"start": "2026-03-02T00:00:00Z", "end": "2026-03-02T00:00:00Z"}, "end must be after start"),
    ({"start": "2025-01-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"}, "range too long"),
])
def test_bad_query_is_422_with_detail(client, centre, path, params, fragment) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert set(response.json()) == {"detail"} and fragment in response.json()["detail"]


def test_extreme_times_are_not_500(client, centre) -> None:
    for params in ({"start": "0001-01-01T00:00:00Z", "end": "0001-01-02T00:00:00Z"},
                   {"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T00:00:00Z"},
                   {"start": "9999-12-31T23:00:00Z"}):
        response = client.get("/api/v1/queues/sales/intervals", params={"granularity": "1d", **params})
        assert response.status_code in (200, 422), response.text


def test_month_and_year_granularity_sum_the_whole_calendar_period(client, centre) -> None:
    """``1mo`` / ``1y``: one row per local calendar month / year, counters summed, then the formulas."""
    for granularity, start, end in (("1mo", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"),
                                    ("1y", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")):
        [row] = client.get("/api/v1/queues/sales/intervals",
                           params={"granularity": granularity, "start": start, "end": end}).json()["intervals"]
        assert (row["interval_start"], row["interval_end"], row["granularity"]) == (start, end, granularity)
        # yesterday (100 offered, all within) + 09:00 (20) + 09:15 (10): ratios of the sums
        assert row["offered"] == 130 and row["answered"] == 126
        assert row["service_level"] == pytest.approx((100 + 15 + 6) / (126 + 4 - 1))
    from zoneinfo import ZoneInfo

    from ccpulse.domain.intervals import interval_end, interval_start, iso

    from .conftest import at

    utc = ZoneInfo("UTC")
    dec = interval_start(at("2026-12-28T10:00:00Z"), "1mo", utc)
    assert (iso(dec), iso(interval_end(dec, "1mo", utc))) == ("2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")
    hcm = ZoneInfo("Asia/Ho_Chi_Minh")  # a local month: 2026-03-01T00:00+07:00 = 2026-02-28T17:00Z
    assert iso(interval_start(at("2026-02-28T18:00:00Z"), "1mo", hcm)) == "2026-02-28T17:00:00Z"
