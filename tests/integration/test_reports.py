"""``ccpulse report`` against a real stack: the report scenario (tests/report_scenario.py: surveys, QA,
teams, cases, customer events) streamed through Kafka and a worker; every template written as HTML and
CSV by the command over HTTP; each HTML opened in a real headless Chromium from a file:// URL — no
console error, no failed request, every chart drawn — with a full-page screenshot in artifacts/; and the
figures on the page (and in the CSV) equal the API's for the same period."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ccpulse.settings import RetentionSettings, Settings
from tests.conftest import ROOT
from tests.integration.test_wallboard import browser  # noqa: F401  (the headless Chromium fixture)
from tests.report_scenario import CASES_TEAM, CONTACT_EVENTS, CUSTOMER_EVENTS, PERIOD, REPORT_ENV, scenario_store

pytestmark = pytest.mark.integration

MONTH = {"granularity": "1mo", "start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}
RETENTION = {"granularity": "month", "start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}
TOKEN = "ccp_reports-test-token"


def _expected() -> dict[str, Any]:
    """What the API must answer once everything is in: the API app over the scenario folded by the worker's rules."""
    settings = Settings(timezone="UTC", auth_enabled=False, retention=RetentionSettings(currency="USD", gross_margin=0.8))
    app = create_app(settings)
    app.state.store = scenario_store(settings)
    return _answers(lambda path, **params: TestClient(app).get(path, params=params).json())


def _answers(get) -> dict[str, Any]:
    return {
        "surveys": get("/api/v1/surveys", **MONTH)["intervals"],
        "teams": {t: get(f"/api/v1/teams/{t}/intervals", **MONTH)["intervals"]
                  for t in ("team-a", "team-b", "team-c", "team-cases")},
        "retention": get("/api/v1/retention", **RETENTION)["periods"],
        "profile": get("/api/v1/summary/profile", by="weekday", start=MONTH["start"], end=MONTH["end"])["rows"],
    }


def _value(text: str) -> Any:
    return None if text == "" else float(text)


def _api_value(value: Any) -> Any:
    return None if value is None else float(value)


def _page_figures(page) -> dict[tuple[str, str, str, str], str]:
    """(table, entity, period, metric) -> data-value of every table cell and headline tile on the page."""
    cells = page.evaluate("""() => {
        const out = [];
        document.querySelectorAll('table[data-table] tbody tr[data-entity]').forEach(tr => {
            const table = tr.closest('table').dataset.table;
            tr.querySelectorAll('td[data-metric]').forEach(td => out.push(
                [table, tr.dataset.entity, tr.dataset.period, td.dataset.metric, td.dataset.value]));
        });
        document.querySelectorAll('.kpis .kpi').forEach(k => out.push(
            [k.parentElement.id + ':tile', k.dataset.entity, k.dataset.period, k.dataset.metric, k.dataset.value]));
        return out;
    }""")
    return {(t, e, p, m): v for t, e, p, m, v in cells}


@pytest.fixture
def report_stack(stack_factory):
    stack = stack_factory({**REPORT_ENV, "CCPULSE_RETENTION__CURRENCY": "USD", "CCPULSE_RETENTION__GROSS_MARGIN": "0.8"},
                          tokens={TOKEN: ["read"]}).start(workers=1)
    topics = stack.settings.topics
    stack.produce([(topics.customer_events, e["customer_id"].encode(), orjson.dumps(e)) for e in CUSTOMER_EVENTS])
    stack.produce(CONTACT_EVENTS)
    expected = _expected()
    assert expected["surveys"][0]["csat_responses"] > 0 and expected["retention"][0]["customers_start"] > 0
    assert {k: expected["teams"]["team-cases"][0][k] for k in CASES_TEAM} == CASES_TEAM

    def settled() -> bool:
        got = _answers(lambda path, **params: stack.get(path, **params).json())
        assert got == expected, "not yet"
        return True

    stack.wait_for(settled, timeout=180, what="the API's March figures to equal the scenario's")
    return stack, expected


def _report(stack, template: str, fmt: str, output) -> str:
    done = subprocess.run([sys.executable, "-m", "ccpulse", "report", "--template", template, "--period", PERIOD,
                           "--format", fmt, "--output", str(output), "--api", stack.url, "--token", TOKEN],
                          env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = done.stderr.strip().splitlines()[-1]
    assert summary.startswith("ccpulse report: ") and f"written to {output}" in summary, done.stderr
    assert "Traceback" not in done.stderr
    return summary


def test_reports_render_in_chromium_and_show_the_apis_figures(report_stack, browser, tmp_path) -> None:  # noqa: F811
    stack, expected = report_stack
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    for template in ("satisfaction", "retention", "team"):
        html_file, csv_file = tmp_path / f"{template}.html", tmp_path / f"{template}.csv"
        assert "charts" in _report(stack, template, "html", html_file)
        _report(stack, template, "csv", csv_file)

        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        errors: list[str] = []
        failed: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(r.url))
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        try:
            page.goto(html_file.as_uri())
            page.wait_for_selector("body[data-charts-ready]", timeout=20_000)
            canvases = page.locator("canvas[data-chart]")
            assert canvases.count() >= 2
            for i in range(canvases.count()):
                canvas = canvases.nth(i)
                box = canvas.bounding_box()
                assert box and box["width"] > 100 and box["height"] > 100, (canvas.get_attribute("id"), box)
                assert page.evaluate("id => !!Chart.getChart(id)", canvas.get_attribute("id"))
            # something was drawn: the canvas is not blank
            first = canvases.first.get_attribute("id")
            assert page.evaluate("""id => { const c = document.getElementById(id);
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false; }""", first)
            assert errors == [] and failed == []
            assert all(u.startswith("file://") for u in requests), requests  # nothing from the network
            page.screenshot(path=str(artifacts / f"report-{template}.png"), full_page=True)
            figures = _page_figures(page)
        finally:
            page.close()
        assert (artifacts / f"report-{template}.png").stat().st_size > 20_000

        # The CSV holds the same figures as the page's tables, one line per figure.
        rows = list(csv.DictReader(io.StringIO(csv_file.read_text())))
        assert rows and tuple(rows[0]) == ("section", "table", "entity", "metric", "period", "value")
        table_cells = {k: v for k, v in figures.items() if not k[0].endswith(":tile")}
        assert {(r["table"], r["entity"], r["period"], r["metric"]): r["value"] for r in rows} == table_cells

        # ... and they are the API's.
        if template == "satisfaction":
            [centre] = expected["surveys"]
            for metric in ("csat", "csat_responses", "nps", "nps_responses", "ces", "ces_responses"):
                shown = figures[("satisfaction_kpi:tile", "centre", PERIOD, metric)]
                assert _value(shown) == _api_value(centre[metric]), metric
            for want in expected["profile"]:
                shown = figures[("response_by_weekday", "centre", want["label"], "response_time_seconds")]
                assert _value(shown) == _api_value(want["response_time_seconds"])
        elif template == "retention":
            [march] = expected["retention"]
            for metric in ("loyal_rate", "premium_rate", "clv", "churn_rate", "customers_end", "mrr_end"):
                assert _value(figures[("retention_kpi:tile", "centre", PERIOD, metric)]) == _api_value(march[metric])
            assert _value(figures[("retention_kpi:tile", "centre", PERIOD, "nps")]) == _api_value(expected["surveys"][0]["nps"])
            assert _value(figures[("retention_by_month", "centre", PERIOD, "mrr_growth_rate")]) == \
                _api_value(march["mrr_growth_rate"])
            assert _value(figures[("churn_by_service", "sla:breached", PERIOD, "churn_rate")]) == \
                _api_value(march["churn_rate_sla_breached"])
        else:
            for team, [row] in expected["teams"].items():
                for metric in ("fcr_rate", "avg_resolution_seconds", "avg_resolution_business_seconds", "aht_seconds",
                               "handled", "qa_score"):
                    assert _value(figures[("team_kpi", team, PERIOD, metric)]) == _api_value(row[metric]), (team, metric)
            assert _value(figures[("team_kpi", "team-cases", PERIOD, "avg_resolution_business_seconds")]) == 10_200.0

    # Without its token the command says what to do, without a traceback.
    done = subprocess.run([sys.executable, "-m", "ccpulse", "report", "--template", "team", "--period", PERIOD,
                           "--api", stack.url, "--output", str(tmp_path / "x.html")],
                          env={**stack.env, "CCPULSE_API_TOKEN": ""}, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "--token" in done.stderr and "Traceback" not in done.stderr
