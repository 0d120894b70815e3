"""GET /api/v1/retention over read-model rows: the hand-computed month and year of
tests/retention_scenario.py, CSV, the token rule (no queue-limited tokens) and clear 4xx."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.auth import hash_token
from api.main import create_app
from api.store import ReadModelStore
from ccpulse.domain.batch import PartitionFold, fold_retention
from ccpulse.settings import ApiToken, RetentionSettings
from tests.api.conftest import make_settings, put
from tests.retention_scenario import CONTACT_EVENTS, CUSTOMER_EVENTS, EXPECTED_MARCH, EXPECTED_YEAR, raw

FULL, QUEUES, NO_READ = "ccp_full", "ccp_queues", "ccp_noread"
RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}


def scenario_rows() -> dict[str, dict[str, Any]]:
    settings = make_settings(retention=RetentionSettings(currency="USD", gross_margin=0.8))
    contacts = PartitionFold(settings)
    for offset, event in enumerate(CONTACT_EVENTS):
        contacts.message(raw(event), "c", offset, None)
    return fold_retention([raw(e) for e in CUSTOMER_EVENTS], contacts.fcr, settings).customers


@pytest.fixture
def client() -> TestClient:
    settings = make_settings(
        auth_enabled=True, retention=RetentionSettings(currency="USD", gross_margin=0.8),
        api_tokens=[ApiToken(name="full", sha256=hash_token(FULL), scopes=["read"]),
                    ApiToken(name="sales-only", sha256=hash_token(QUEUES), scopes=["read", "metrics"], queues=["sales"]),
                    ApiToken(name="metrics", sha256=hash_token(NO_READ), scopes=["metrics"])])
    app = create_app(settings)
    store = ReadModelStore(settings)
    store.ready = True
    for customer, contributions in scenario_rows().items():
        put(store, f"retention|{customer}", {"kind": "retention", "customer_id": customer, "p": contributions})
    app.state.store = store
    return TestClient(app, headers={"Authorization": f"Bearer {FULL}"})


def test_hand_computed_month_and_year(client: TestClient) -> None:
    body = client.get("/api/v1/retention", params={"granularity": "month", **RANGE}).json()
    assert (body["currency"], body["gross_margin"], body["timezone"]) == ("USD", 0.8, "UTC")
    [march] = body["periods"]
    assert {k: march[k] for k in EXPECTED_MARCH} == pytest.approx(EXPECTED_MARCH)
    [year] = client.get("/api/v1/retention", params={"granularity": "year", **RANGE}).json()["periods"]
    assert {k: year[k] for k in EXPECTED_YEAR} == pytest.approx(EXPECTED_YEAR)


def test_csv_export(client: TestClient) -> None:
    response = client.get("/api/v1/retention", params={"format": "csv", **RANGE})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(response.text)))
    assert row["scope"] == "centre" and row["period"] == "2026-03"
    assert float(row["churn_rate"]) == 0.4 and float(row["clv"]) == 130.0
    assert row["churn_rate_nps_no_answer"] == ""  # null: no such customers


def test_a_replaced_or_deleted_customer_row_updates_the_sums(client: TestClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    put(store, "retention|B", None)  # B gone: 4 at the start of March, 1 churned (D)
    [march] = client.get("/api/v1/retention", params=RANGE).json()["periods"]
    assert (march["customers_start"], march["churned_customers"], march["mrr_start"]) == (4, 1, 210.0)
    rows = scenario_rows()
    put(store, "retention|B", {"kind": "retention", "customer_id": "B", "p": rows["B"]})
    put(store, "retention|B", {"kind": "retention", "customer_id": "B", "p": rows["B"]})  # the same row again
    [march] = client.get("/api/v1/retention", params=RANGE).json()["periods"]
    assert {k: march[k] for k in EXPECTED_MARCH} == pytest.approx(EXPECTED_MARCH)


def test_only_tokens_without_a_queue_limit_read_retention(client: TestClient) -> None:
    limited = client.get("/api/v1/retention", headers={"Authorization": f"Bearer {QUEUES}"})
    assert limited.status_code == 403 and "queue" in limited.json()["detail"]
    assert client.get("/api/v1/retention", headers={"Authorization": f"Bearer {NO_READ}"}).status_code == 403
    assert client.get("/api/v1/retention", headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.mark.parametrize("params, detail", [
    ({"granularity": "week"}, "granularity"),
    ({"start": "2026-03-01T00:00:00"}, "UTC offset"),
    ({"start": "2026-04-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "after start"),
    ({"start": "1900-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "too long"),
    ({"format": "xml"}, "format"),
])
def test_bad_queries_are_422(client: TestClient, params: dict[str, str], detail: str) -> None:
    response = client.get("/api/v1/retention", params=params)
    assert response.status_code == 422 and detail in response.json()["detail"]


def test_default_range_is_the_last_twelve_months(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    monkeypatch.setattr(store, "event_now", lambda: 1774008000.0)  # 2026-03-20T12:00Z
    periods = [p["period"] for p in client.get("/api/v1/retention").json()["periods"]]
    assert periods[0] == "2025-04" and periods[-1] == "2026-03" and len(periods) == 12
    years = [p["period"] for p in client.get("/api/v1/retention", params={"granularity": "year"}).json()["periods"]]
    assert years == ["2025", "2026"]


def test_empty_read_model_has_no_periods(client: TestClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    for customer in list(store.retention_rows):
        put(store, f"retention|{customer}", None)
    assert store.retention_totals == {}
    assert client.get("/api/v1/retention", params=RANGE).json()["periods"] == []


def test_rows_round_trip_through_json() -> None:
    # The worker publishes orjson; month keys and integer measures survive unchanged.
    rows = scenario_rows()
    assert orjson.loads(orjson.dumps(rows)) == rows


def test_prometheus_metrics_for_centre_wide_tokens_only(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    monkeypatch.setattr(store, "event_now", lambda: 1775044800.0)  # 2026-04-01T12:00Z: March is the previous month
    settings = store.settings
    settings.api_tokens[0].scopes.append("metrics")
    client.app.state.tokens.__init__(settings)  # type: ignore[attr-defined]
    text = client.get("/metrics").text
    assert 'ccpulse_retention_churn_rate_ratio{period="previous_month"} 0.4' in text
    assert 'ccpulse_retention_clv{period="previous_month"} 130.0' in text
    assert 'ccpulse_retention_group_churn_rate_ratio{group="detractor",period="previous_month",split="nps"} 1.0' in text
    assert 'ccpulse_retention_group_churn_rate_ratio{group="breached",period="previous_month",split="sla_breach"} 0.5' in text
    assert "ccpulse_retention_subscribers 4.0" in text and "ccpulse_retention_mrr 260.0" in text
    assert 'ccpulse_retention_churn_rate_ratio{period="month"} 0.0' in text  # April: nobody left yet
    limited = client.get("/metrics", headers={"Authorization": f"Bearer {QUEUES}"}).text
    assert "ccpulse_retention" not in limited
