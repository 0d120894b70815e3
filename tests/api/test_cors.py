"""CORS is off unless origins are configured, and then allows exactly those origins."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app
from ccpulse.settings import Settings


def test_cors_allows_only_configured_origins() -> None:
    client = TestClient(create_app(Settings(cors_origins=["https://wall.example"])))
    allowed = client.get("/healthz", headers={"Origin": "https://wall.example"})
    assert allowed.headers.get("access-control-allow-origin") == "https://wall.example"
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_is_off_by_default() -> None:
    client = TestClient(create_app(Settings()))
    response = client.get("/healthz", headers={"Origin": "https://wall.example"})
    assert "access-control-allow-origin" not in response.headers
