"""GET /api/v1/contacts/recent: newest first, filtered, bounded."""

from __future__ import annotations

import pytest

from .conftest import NOW, recent


@pytest.fixture
def recents(store):
    recent(store, "r1", NOW - 500, breached=True, csat=2, wait_seconds=45.0)
    recent(store, "r2", NOW - 400, queue_id="support", channel="chat", breached=False, csat=5, agent_id="a3")
    recent(store, "r3", NOW - 300, breached=True, outcome="abandoned")
    recent(store, "r4", NOW - 200, csat=1, comment="rude", resolved=False, handled_at=NOW - 250)
    recent(store, "r5", NOW - 100, breached=True, csat=1, agent_id="a2")
    recent(store, "r6", NOW - 100, queue_id="support", channel="chat", breached=True, csat=2)
    return store


def ids(response) -> list[str]:
    return [c["contact_id"] for c in response.json()["contacts"]]


def test_newest_first(client, recents) -> None:
    response = client.get("/api/v1/contacts/recent")
    assert response.status_code == 200
    assert ids(response) == ["r6", "r5", "r4", "r3", "r2", "r1"]  # same updated_at: by id, descending
    assert response.json()["total"] == 6


def test_filters(client, recents) -> None:
    get = lambda **p: client.get("/api/v1/contacts/recent", params=p)  # noqa: E731
    assert ids(get(queue_id="sales", breached="true")) == ["r5", "r3", "r1"]
    assert ids(get(queue_id="sales", breached="true", max_csat=2)) == ["r5", "r1"]
    assert ids(get(breached="false")) == ["r4", "r2"]
    assert ids(get(max_csat=1)) == ["r5", "r4"]  # contacts without a CSAT answer are not "poor CSAT"
    assert ids(get(channel="chat")) == ["r6", "r2"]
    assert ids(get(agent_id="a2")) == ["r5"]
    assert ids(get(outcome="abandoned")) == ["r3"]
    assert ids(get(queue_id="nope")) == []


def test_limit_keeps_total(client, recents) -> None:
    body = client.get("/api/v1/contacts/recent", params={"queue_id": "sales", "breached": "true", "max_csat": 2,
                                                          "limit": 1}).json()
    assert [c["contact_id"] for c in body["contacts"]] == ["r5"] and body["total"] == 2


def test_row_shape(client, recents) -> None:
    [row] = client.get("/api/v1/contacts/recent", params={"max_csat": 1, "limit": 2, "breached": "false"}).json()["contacts"]
    assert row == {"contact_id": "r4", "customer_id": None, "channel": "voice", "queue_id": "sales", "agent_id": None,
                   "queued_at": "2026-03-02T09:15:40Z", "wait_seconds": 10.0, "breached": False, "outcome": "answered",
                   "handled_at": "2026-03-02T09:15:50Z", "resolved": False, "csat": 1, "nps": None, "ces": None,
                   "comment": "rude", "updated_at": "2026-03-02T09:16:40Z"}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"limit": "many"}, {"max_csat": -1},
                                    {"breached": "maybe"}, {"channel": "fax"}, {"outcome": "lost"}])
def test_bad_parameters_are_422(client, recents, params) -> None:
    response = client.get("/api/v1/contacts/recent", params=params)
    assert response.status_code == 422 and set(response.json()) == {"detail"}


def test_limit_bounds_are_inclusive(client, store) -> None:
    for i in range(600):
        recent(store, f"x{i:03d}", NOW - i)
    body = client.get("/api/v1/contacts/recent", params={"limit": 500}).json()
    assert len(body["contacts"]) == 500 and body["total"] == 600
    assert body["contacts"][0]["contact_id"] == "x000" and body["contacts"][-1]["contact_id"] == "x499"
    assert len(client.get("/api/v1/contacts/recent", params={"limit": 1}).json()["contacts"]) == 1
    assert len(client.get("/api/v1/contacts/recent").json()["contacts"]) == 50  # default


def test_tombstone_removes_a_recent_contact(client, recents) -> None:
    recents.apply(b"recent|r5", None)
    assert "r5" not in ids(client.get("/api/v1/contacts/recent"))
