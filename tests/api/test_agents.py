"""GET /api/v1/agents: filters (site added) and pagination."""

from __future__ import annotations


def test_site_filter(client, centre) -> None:
    body = client.get("/api/v1/agents", params={"site": "hcm"}).json()
    assert [a["agent_id"] for a in body["agents"]] == ["a1", "a3", "a5"] and body["total"] == 3
    body = client.get("/api/v1/agents", params={"site": "hn", "include_offline": "true"}).json()
    assert [a["agent_id"] for a in body["agents"]] == ["a2", "a4"]
    assert client.get("/api/v1/agents", params={"site": "hcm", "team": "blue"}).json()["total"] == 1
    assert client.get("/api/v1/agents", params={"site": "nowhere"}).json() == {"agents": [], "total": 0}


def test_pagination(client, centre) -> None:
    page = client.get("/api/v1/agents", params={"include_offline": "true", "limit": 2, "offset": 2}).json()
    assert [a["agent_id"] for a in page["agents"]] == ["a3", "a4"] and page["total"] == 5
    assert client.get("/api/v1/agents", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/agents", params={"offset": -1}).status_code == 422


def test_unknown_agent(client, centre) -> None:
    response = client.get("/api/v1/agents/nobody")
    assert response.status_code == 404 and response.json() == {"detail": "unknown agent 'nobody'"}
