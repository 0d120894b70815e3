"""GET /api/v1/surveys: survey and QA figures of a queue, an agent or the centre."""

from __future__ import annotations

import csv
import io

import pytest

from schemas.api import SurveyRow

RANGE = {"granularity": "1h", "start": "2026-03-02T08:00:00Z", "end": "2026-03-02T10:00:00Z"}
FIELDS = {"interval_start", "interval_end", "granularity", "csat", "csat_mean", "csat_responses", "nps", "nps_responses",
          "ces", "ces_easy", "ces_responses", "qa_score", "qa_count"}


def test_centre_surveys(client, centre) -> None:
    body = client.get("/api/v1/surveys", params=RANGE).json()
    assert body["scope"] == "centre" and body["id"] is None and body["granularity"] == "1h"
    rows = {r["interval_start"]: r for r in body["intervals"]}
    assert set(rows) == {"2026-03-02T08:00:00Z", "2026-03-02T09:00:00Z"}
    assert all(set(r) == FIELDS for r in rows.values())
    eight = rows["2026-03-02T08:00:00Z"]  # vip had contacts but no answers
    assert eight["csat"] is None and eight["csat_responses"] == 0 and eight["nps"] is None
    nine = rows["2026-03-02T09:00:00Z"]
    assert nine["csat_responses"] == 6 and nine["csat"] == pytest.approx(3 / 6)
    assert nine["csat_mean"] == pytest.approx(round(20 / 6, 3))
    assert nine["nps_responses"] == 4 and nine["nps"] == pytest.approx(100 * (3 - 1) / 4)
    assert nine["qa_count"] == 1 and nine["qa_score"] == 70.0
    assert nine["ces"] is None and nine["ces_responses"] == 0


def test_queue_surveys(client, centre) -> None:
    body = client.get("/api/v1/surveys", params={"queue_id": "support", **RANGE}).json()
    assert body["scope"] == "queue" and body["id"] == "support"
    [row] = body["intervals"]
    assert row["csat_responses"] == 2 and row["csat"] == 0.0 and row["csat_mean"] == 2.0  # 0 of 2 satisfied: 0, not null


def test_agent_surveys(client, centre) -> None:
    body = client.get("/api/v1/surveys", params={"agent_id": "a1", "granularity": "15m",
                                                 "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"}).json()
    assert body["scope"] == "agent" and body["id"] == "a1"
    [row] = body["intervals"]
    assert row["interval_start"] == "2026-03-02T09:15:00Z" and row["csat"] == 1.0 and row["csat_mean"] == 5.0


def test_surveys_csv(client, centre) -> None:
    response = client.get("/api/v1/surveys", params={"queue_id": "sales", "format": "csv", **RANGE})
    assert response.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.text)))
    assert lines[0] == ["queue_id", *SurveyRow.model_fields]
    assert len(lines) == 2 and lines[1][:2] == ["sales", "2026-03-02T09:00:00Z"]
    record = dict(zip(lines[0], lines[1]))
    assert record["csat"] == "0.75" and record["nps"] == "50.0" and record["ces"] == ""
    centre_csv = client.get("/api/v1/surveys", params={"format": "csv", **RANGE}).text.splitlines()
    assert centre_csv[0].startswith("scope,interval_start") and centre_csv[1].startswith("centre,")


@pytest.mark.parametrize("params, status, detail", [
    ({"queue_id": "nope"}, 404, "unknown queue 'nope'"),
    ({"agent_id": "nobody"}, 404, "unknown agent 'nobody'"),
    ({"queue_id": "sales", "agent_id": "a1"}, 422, "give queue_id or agent_id, not both"),
    ({"granularity": "2h"}, 422, None),
    ({"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T09:00:00Z"}, 422, "end must be after start"),
])
def test_survey_errors(client, centre, params, status, detail) -> None:
    response = client.get("/api/v1/surveys", params=params)
    assert response.status_code == status
    assert set(response.json()) == {"detail"}
    if detail:
        assert response.json()["detail"] == detail
