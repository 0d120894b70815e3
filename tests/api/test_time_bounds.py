"""Time ranges bounded on both sides: RFC 3339 text only (no numbers), years 1 to 9999, and the
retention walk starting at max(start, first data) — the year-9000 query that took 11.9 s, and the
year-9999 one that was a 500."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.routes.retention import MAX_RANGE_YEARS
from ccpulse.domain import retention as retention_domain
from ccpulse.domain.retention import period_rows, sum_contributions
from ccpulse.settings import RetentionSettings
from tests.api.test_retention import FULL, client, scenario_rows  # noqa: F401  (the retention fixture)

INTERVAL_PATHS = ("/api/v1/queues/sales/intervals", "/api/v1/agents/a1/intervals", "/api/v1/teams/red/intervals",
                  "/api/v1/channels/voice/intervals", "/api/v1/surveys", "/api/v1/queues/sales/profile",
                  "/api/v1/summary/profile")


def test_a_retention_range_far_from_the_data_walks_its_own_months_only(client: TestClient,  # noqa: F811
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[int] = []
    real = retention_domain._months_between
    monkeypatch.setattr(retention_domain, "_months_between", lambda a, b: walked.append(len(real(a, b))) or real(a, b))
    response = client.get("/api/v1/retention", params={"granularity": "year", "start": "8971-01-01T00:00:00Z",
                                                       "end": "9000-01-01T00:00:00Z"})
    assert response.status_code == 200
    periods = response.json()["periods"]
    assert [p["period"] for p in periods] == [str(y) for y in range(8971, 9000)]
    # Far beyond the scenario (2026), every customer is where the data left them: levels, no flows.
    assert len({p["customers_start"] for p in periods}) == 1 and all(p["new_customers"] == 0 for p in periods)
    # December 8970 to December 8999: 349 months, not the 83,000 from the data on (11.9 s on the event loop).
    assert walked == [29 * 12 + 1]


def test_the_walk_from_start_gives_the_rows_of_the_walk_from_the_data() -> None:
    totals: dict = {}
    for contributions in scenario_rows().values():
        sum_contributions(totals, contributions)
    rules = RetentionSettings(currency="USD", gross_margin=0.8)
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    end = _t("2031-01-01T00:00:00+00:00")
    for granularity in ("month", "year"):
        whole = period_rows(totals, granularity, _t("2000-01-01T00:00:00+00:00"), end, rules, zone)
        assert len(whole) > 3
        for begin in ("2026-03-01T00:00:00+07:00", "2026-02-15T00:00:00+07:00", "2027-06-01T00:00:00+07:00"):
            part = period_rows(totals, granularity, _t(begin), end, rules, zone)
            expected = [row for row in whole if _t(row["period_end"]) > _t(begin)]
            assert part == expected and part, (granularity, begin)


def _t(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize("params", [
    {"start": "9990-01-01T00:00:00Z", "end": "9999-12-31T23:59:59Z"},
    {"end": "9999-12-31T00:00:01Z"},
    {"start": "0000-12-31T00:00:00Z"},
    {"start": "0001-01-01T00:00:00+14:00", "end": "0002-01-01T00:00:00Z"},
])
def test_retention_times_beyond_the_bounds_are_422(client: TestClient, params: dict[str, str]) -> None:  # noqa: F811
    response = client.get("/api/v1/retention", params={"granularity": "year", **params})
    assert response.status_code == 422, response.text
    assert "start" in response.json()["detail"] or "end" in response.json()["detail"]


def test_retention_at_the_edges_of_the_bounds_answers(client: TestClient) -> None:  # noqa: F811
    for params in ({"start": "9970-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"},
                   {"start": "9999-12-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"},
                   {"start": "0001-01-02T00:00:00Z", "end": "0030-01-01T00:00:00Z"},
                   {"end": "0001-03-01T00:00:00Z"}):
        for granularity in ("month", "year"):
            response = client.get("/api/v1/retention", params={"granularity": granularity, **params})
            assert response.status_code == 200, (params, response.text)
    too_long = client.get("/api/v1/retention", params={"start": "2000-01-01T00:00:00Z", "end": "2040-01-01T00:00:00Z"})
    assert too_long.status_code == 422 and f"{MAX_RANGE_YEARS} years" in too_long.json()["detail"]


@pytest.fixture
def centre_client(centre, frozen, app) -> TestClient:
    return TestClient(app)


@pytest.mark.parametrize("path", INTERVAL_PATHS)
def test_interval_times_are_rfc3339_text_within_bounds(centre_client: TestClient, path: str) -> None:
    def status(**params: str) -> int:
        return centre_client.get(path, params=params).status_code

    assert status(start="1772438400") == 422 and status(end="1772438400000") == 422  # numbers are not times
    assert status(start="2026-03-02") == 422 and status(start="2026-13-02T00:00:00Z") == 422
    for granularity in ("15m", "1h", "1d", "1mo", "1y"):
        params = {} if "profile" in path else {"granularity": granularity}
        assert status(start="9998-10-01T00:00:00Z", end="9998-12-31T00:00:00Z", **params) == 200
        assert status(start="0001-01-02T00:00:00Z", end="0001-04-01T00:00:00-12:00", **params) == 200
        assert status(end="9998-12-31T00:00:00Z", **params) == 200  # end without start: that day
        assert status(end="0001-01-02T00:00:00Z", **params) in (200, 422)
        assert status(start="9999-10-01T00:00:00Z", end="9999-12-31T00:00:00Z", **params) == 200
        assert status(start="9999-12-30T00:00:00-12:00", end="9999-12-31T13:00:00+14:00", **params) == 200
        assert status(end="9999-12-31T00:00:00Z", **params) == 200
        assert status(start="9999-12-30T00:00:00Z", end="9999-12-31T23:00:00Z", **params) == 422
        assert status(start="0001-01-01T00:00:00Z", **params) == 422


def test_15_minute_rows_answer_at_most_100_days_longer_granularities_400(centre_client: TestClient) -> None:
    def answer(granularity: str, start: str, end: str = "2026-03-03T00:00:00Z") -> tuple[int, str]:
        response = centre_client.get("/api/v1/queues/sales/intervals",
                                     params={"granularity": granularity, "start": start, "end": end})
        return response.status_code, response.text

    assert answer("15m", "2025-11-23T00:00:00Z")[0] == 200  # 100 days
    status, text = answer("15m", "2025-11-22T23:45:00Z")
    assert status == 422 and "at most 100 days" in text and "1h or 1d" in text
    for granularity in ("1h", "1d", "1mo", "1y"):
        assert answer(granularity, "2025-11-22T23:45:00Z")[0] == 200
        assert answer(granularity, "2025-01-27T00:00:00Z")[0] == 200  # 400 days
        assert answer(granularity, "2025-01-26T23:45:00Z")[0] == 422
    # A profile reads 15-minute rows but answers 7 or 24: its range is the 400 days.
    assert centre_client.get("/api/v1/queues/sales/profile", params={"start": "2025-01-27T00:00:00Z",
                                                                    "end": "2026-03-03T00:00:00Z"}).status_code == 200


def test_end_without_start_is_the_local_day_of_end(centre_client: TestClient) -> None:
    body = centre_client.get("/api/v1/queues/sales/intervals", params={"end": "2026-03-02T09:30:00Z"}).json()
    assert [row["interval_start"] for row in body["intervals"]] == ["2026-03-02T09:00:00Z", "2026-03-02T09:15:00Z"]
    yesterday = centre_client.get("/api/v1/queues/sales/intervals", params={"end": "2026-03-02T00:00:00Z"}).json()
    assert [row["interval_start"] for row in yesterday["intervals"]] == ["2026-03-01T09:00:00Z"]


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_periods_that_would_end_in_the_year_10000_end_at_the_last_instant(zone: str) -> None:
    from ccpulse.domain.intervals import LAST_INSTANT, interval_end, interval_start, iso

    tz = ZoneInfo(zone)
    late = datetime(9999, 12, 30, 23, 0, tzinfo=tz).timestamp()
    for granularity in ("15m", "1h", "1d", "1mo", "1y"):
        start = interval_start(late, granularity, tz)
        end = interval_end(start, granularity, tz)
        assert start <= late < end <= LAST_INSTANT, granularity
    last_day = interval_start(datetime(9999, 12, 31, 12, tzinfo=tz).timestamp(), "1d", tz)
    assert interval_end(last_day, "1d", tz) == LAST_INSTANT
    assert iso(LAST_INSTANT, tz) == iso(LAST_INSTANT) == "9999-12-31T23:59:59Z"
    # A year of 9999 in ccpulse's calendar lasts to its last second, whatever the zone.
    assert iso(interval_end(interval_start(late, "1y", tz), "1y", tz)) == "9999-12-31T23:59:59Z"
