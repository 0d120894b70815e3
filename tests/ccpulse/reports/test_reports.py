"""Report models from the API's own answers (the API app over a read model folded from a scenario),
CSV output, and the command's errors. Every figure on a report must be the API's value as it is."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ccpulse.cli import main
from ccpulse.reports.model import ReportProblem, build_report, parse_period
from ccpulse.reports.render import CSV_COLUMNS, csv_rows, to_csv, to_html
from ccpulse.settings import RetentionSettings, Settings
from tests.report_scenario import CASES_TEAM, PERIOD, scenario_store

MONTH = {"start": "2026-03-01T00:00:00+00:00", "end": "2026-04-01T00:00:00+00:00"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    settings = Settings(timezone="UTC", auth_enabled=False, retention=RetentionSettings(currency="USD", gross_margin=0.8))
    app = create_app(settings)
    app.state.store = scenario_store(settings)
    return TestClient(app)


@pytest.fixture(scope="module")
def fetch(client: TestClient):
    calls: list[tuple[str, dict[str, Any]]] = []

    def get(path: str, params: Any) -> Any:
        calls.append((path, dict(params)))
        response = client.get(path, params=dict(params))
        assert response.status_code == 200, (path, params, response.text)
        return response.json()

    get.calls = calls  # type: ignore[attr-defined]
    return get


def api(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def month_row(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    [row] = api(client, path, granularity="1mo", **MONTH, **params)["intervals"]
    return row


def same(values: dict[str, Any], row: dict[str, Any]) -> None:
    assert values == {k: row[k] for k in values}


def test_periods() -> None:
    march = parse_period("2026-03", "Asia/Ho_Chi_Minh")
    assert (march.start.isoformat(), march.end.isoformat()) == ("2026-03-01T00:00:00+07:00", "2026-04-01T00:00:00+07:00")
    assert parse_period("2026-12").end.isoformat() == "2027-01-01T00:00:00+00:00"
    assert parse_period("2026").granularity == "1y" and parse_period("2026-03").granularity == "1mo"
    assert parse_period("2026-03").months_back(11).isoformat() == "2025-04-01T00:00:00+00:00"
    for bad in ("2026-13", "2026-3", "March", "2026-03-01", ""):
        with pytest.raises(ReportProblem, match="YYYY-MM"):
            parse_period(bad)


def test_satisfaction_figures_are_the_apis(client, fetch) -> None:
    report = build_report("satisfaction", PERIOD, fetch)
    [kpi] = report.table("satisfaction_kpi").rows
    centre = month_row(client, "/api/v1/surveys")
    same(kpi.values, centre)
    assert kpi.values["csat_responses"] > 0 and kpi.values["nps_responses"] > 0
    # the trend: one row per day with answers, the API's daily rows
    days = api(client, "/api/v1/surveys", granularity="1d", **MONTH)["intervals"]
    trend = report.table("satisfaction_trend").rows
    assert [r.period for r in trend] == [d["interval_start"][:10] for d in days] and len(trend) >= 2
    for row, day in zip(trend, days):
        same(row.values, day)
    queues = {r.entity: r for r in report.table("satisfaction_by_queue").rows}
    assert set(queues) == {q["queue_id"] for q in api(client, "/api/v1/queues")["queues"]}
    for queue, row in queues.items():
        rows = api(client, "/api/v1/surveys", queue_id=queue, granularity="1mo", **MONTH)["intervals"]
        if rows:
            same(row.values, rows[0])
        else:  # a queue without any survey in the month: no row, so no figure
            assert set(row.values.values()) == {None}
    for row in report.table("satisfaction_by_channel").rows:
        same(row.values, month_row(client, f"/api/v1/channels/{row.entity}/intervals"))
    profile = api(client, "/api/v1/summary/profile", by="weekday", **MONTH)["rows"]
    weekday = report.table("response_by_weekday").rows
    assert [r.period for r in weekday] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    for row, want in zip(weekday, profile):
        same(row.values, want)
    assert weekday[0].values["response_time_seconds"] is not None


def test_satisfaction_of_one_queue(client, fetch) -> None:
    report = build_report("satisfaction", PERIOD, fetch, queue="billing")
    same(report.table("satisfaction_kpi").rows[0].values, month_row(client, "/api/v1/surveys", queue_id="billing"))
    assert [r.entity for r in report.table("satisfaction_by_queue").rows] == ["billing"]
    with pytest.raises(KeyError):
        report.table("satisfaction_by_channel")  # channels are cross-queue: not in a one-queue report
    profile = api(client, "/api/v1/queues/billing/profile", by="weekday", **MONTH)["rows"]
    for row, want in zip(report.table("response_by_weekday").rows, profile):
        same(row.values, want)


def test_retention_figures_are_the_apis(client, fetch) -> None:
    report = build_report("retention", PERIOD, fetch)
    assert report.currency == "USD"
    [kpi] = report.table("retention_kpi").rows
    months = api(client, "/api/v1/retention", granularity="month", start="2025-04-01T00:00:00+00:00",
                 end=MONTH["end"])["periods"]
    assert len(months) == 12 and months[-1]["period"] == "2026-03"
    march = months[-1]
    same({k: v for k, v in kpi.values.items() if k != "nps"}, march)
    assert kpi.values["nps"] == month_row(client, "/api/v1/surveys")["nps"]
    assert kpi.values["customers_end"] > 0 and kpi.values["clv"] is not None
    by_month = report.table("retention_by_month").rows
    assert [r.period for r in by_month] == [m["period"] for m in months]
    for row, want in zip(by_month, months):
        same(row.values, want)
    groups = {r.entity: r.values for r in report.table("churn_by_service").rows}
    assert groups["sla:breached"] == {"customers": march["customers_sla_breached"],
                                      "churned": march["churned_sla_breached"],
                                      "churn_rate": march["churn_rate_sla_breached"]}
    assert sum(groups[f"nps:{g}"]["customers"] for g in ("promoter", "passive", "detractor", "no_answer")) == \
        march["customers_start"]
    years = api(client, "/api/v1/retention", granularity="year", start="2024-01-01T00:00:00+00:00",
                end=MONTH["end"])["periods"]
    for row, want in zip(report.table("retention_by_year").rows, years, strict=True):
        same(row.values, want)


def test_retention_of_a_year(client, fetch) -> None:
    report = build_report("retention", "2026", fetch)
    [year] = api(client, "/api/v1/retention", granularity="year", start="2026-01-01T00:00:00+00:00",
                 end="2027-01-01T00:00:00+00:00")["periods"]
    same({k: v for k, v in report.table("retention_kpi").rows[0].values.items() if k != "nps"}, year)
    assert [r.period for r in report.table("retention_by_month").rows] == [f"2026-{m:02d}" for m in range(1, 13)]


def test_retention_cannot_be_limited_to_a_queue(fetch) -> None:
    with pytest.raises(ReportProblem, match="drop --queue"):
        build_report("retention", PERIOD, fetch, queue="billing")


def test_team_figures_are_the_apis(client, fetch) -> None:
    report = build_report("team", PERIOD, fetch)
    teams = {r.entity: r for r in report.table("team_kpi").rows}
    assert set(teams) == {"team-a", "team-b", "team-c", "team-cases"}
    same(CASES_TEAM, teams["team-cases"].values)  # the hand-computed cases of tests/case_scenario.py
    for team, row in teams.items():
        same(row.values, month_row(client, f"/api/v1/teams/{team}/intervals"))
    assert any(r.values["fcr_rate"] is not None for r in teams.values())
    assert any(r.values["qa_score"] is not None for r in teams.values())
    weekday = [r for r in report.table("team_response_by_weekday").rows if r.entity == "team-a"]
    for row, want in zip(weekday, api(client, "/api/v1/teams/team-a/profile", by="weekday", **MONTH)["rows"], strict=True):
        same(row.values, want)
    agents = {r.entity: r.values for r in report.table("agent_kpi").rows}
    assert agents["a2"]["team"] == "team-cases" and agents["a2"]["avg_resolution_business_seconds"] == 9_000.0  # case A
    for agent_id, values in agents.items():
        same({k: v for k, v in values.items() if k != "team"}, month_row(client, f"/api/v1/agents/{agent_id}/intervals"))


def test_csv_long_format_holds_every_figure(fetch) -> None:
    for template in ("satisfaction", "retention", "team"):
        report = build_report(template, PERIOD, fetch)
        text = to_csv(report)
        rows = list(csv.DictReader(io.StringIO(text)))
        assert tuple(rows[0]) == CSV_COLUMNS
        assert len(rows) == len(csv_rows(report)) == sum(len(t.rows) * len(t.columns) for _, t in report.tables())
        for section, table in report.tables():
            for row in table.rows:
                for column in table.columns:
                    value = row.values.get(column.metric)
                    [line] = [r for r in rows if (r["table"], r["entity"], r["metric"], r["period"]) ==
                              (table.id, row.entity, column.metric, row.period)]
                    assert line["section"] == section.id
                    assert line["value"] == ("" if value is None else str(value))
                    if isinstance(value, float):
                        assert float(line["value"]) == value  # exact: repr round-trips


def test_html_is_self_contained_and_carries_the_values(fetch) -> None:
    report = build_report("team", PERIOD, fetch)
    page = to_html(report)
    assert "http://" not in page.replace(report.api, "") or "https://www.chartjs.org" in page
    assert "<script src" not in page and "<link" not in page  # nothing fetched at view time
    assert "Chart.js v4.6.1" in page
    row = report.table("team_kpi").rows[0]
    assert f'data-entity="{row.entity}" data-period="{PERIOD}"' in page
    assert f'data-metric="fcr_rate" data-value="{row.values["fcr_rate"]}"' in page


def test_command_errors_name_the_fix(capsys, tmp_path) -> None:
    assert main(["report", "--template", "nope", "--period", PERIOD]) == 2
    assert "unknown template 'nope': choose one of satisfaction, retention, team" in capsys.readouterr().err
    assert main(["report", "--template", "team", "--period", "2026-13"]) == 2
    assert "give a month as YYYY-MM" in capsys.readouterr().err
    assert main(["report", "--template", "team", "--period", PERIOD, "--format", "pdf"]) == 2
    assert "choose html or csv" in capsys.readouterr().err
    assert main(["report", "--template", "retention", "--period", PERIOD, "--queue", "q"]) == 2
    assert "drop --queue" in capsys.readouterr().err
    assert main(["report", "--template", "team", "--period", PERIOD, "--output", str(tmp_path / "no" / "x.html")]) == 2
    assert "its directory does not exist" in capsys.readouterr().err
    from ccpulse.broker import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert main(["report", "--template", "team", "--period", PERIOD, "--api", url,
                 "--output", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err
    assert f"ccpulse: cannot reach the API at {url}; start it with ccpulse api" in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()
