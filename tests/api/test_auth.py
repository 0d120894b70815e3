"""API tokens: 401 without a valid token, 403 without the scope, and a queue-scoped token that never
sees another queue's data through any endpoint (lists, details, intervals, surveys, contacts, alerts,
the stream and metrics)."""

from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.auth import TokenRegistry, hash_token, new_token
from api.main import create_app
from api.store import ReadModelStore
from ccpulse.settings import ApiToken, QueueSettings, Settings
from tests.api.conftest import NOW, T0, make_settings, recent
from tests.api.test_stream import _read_sse

FULL, SALES, CARE, INGEST_ONLY, NO_METRICS = (f"ccp_test-{name}" for name in ("full", "sales", "care", "ingest", "nometrics"))

TOKENS = [
    ApiToken(name="full", sha256=hash_token(FULL), scopes=["read", "metrics", "customer_ids"]),
    ApiToken(name="sales-client", sha256=hash_token(SALES), scopes=["read", "metrics", "ingest"], queues=["sales"]),
    ApiToken(name="care-client", sha256=hash_token(CARE), scopes=["read"], queue_groups=["care"]),
    ApiToken(name="ingest-only", sha256=hash_token(INGEST_ONLY), scopes=["ingest"]),
    ApiToken(name="no-metrics", sha256=hash_token(NO_METRICS), scopes=["read"]),
]

#: Every trace of the queues the sales token must not see: their ids and the agents staffed only on
#: them (a1 works sales too: the sales token sees a1, with its sales work only).
FOREIGN = re.compile(r'"(support|vip|a3|a5)"|support|vip')


@pytest.fixture
def settings() -> Settings:
    return make_settings(auth_enabled=True, api_tokens=TOKENS, queues={
        "vip": QueueSettings(sl_threshold_seconds=10, sl_formula="answered_within_over_answered", group="care"),
        "support": QueueSettings(sl_threshold_seconds=60, group="care"),
        "sales": QueueSettings(sl_threshold_seconds=20, group="retail"),
    })


def _alert(store: ReadModelStore, queue_id: str) -> None:
    ident = f"{queue_id}:sl_below_target:1"
    store.apply_alert(ident.encode(), orjson.dumps({
        "id": ident, "state": "firing", "severity": "critical", "queue_id": queue_id, "rule": "sl_below_target",
        "summary": f"service level low on {queue_id}", "value": 0.5, "threshold": 0.8, "started_at": NOW - 60,
        "resolved_at": None}))


@pytest.fixture
def world(centre: ReadModelStore, frozen: float) -> ReadModelStore:
    recent(centre, "r-sales", NOW - 100, queue_id="sales", customer_id="cust-47", agent_id="a2")
    recent(centre, "r-support", NOW - 90, queue_id="support", customer_id="cust-99", agent_id="a3", channel="chat")
    _alert(centre, "sales")
    _alert(centre, "support")
    centre.rejected[("cc.contact-events", "not_json")] += 3
    return centre


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _get_routes(app) -> list[str]:
    """Every documented GET path with its parameters filled in (queue sales, agent a2, team red, channel voice)."""
    fill = {"queue_id": "sales", "agent_id": "a2", "team": "red", "channel": "voice"}
    return [re.sub(r"\{(\w+)\}", lambda m: fill[m.group(1)], path)
            for path, operations in app.openapi()["paths"].items() if "get" in operations]


def test_every_protected_endpoint_answers_401_without_a_valid_token(client: TestClient, world) -> None:
    protected = [p for p in _get_routes(client.app) if p not in ("/healthz", "/readyz") and p != "/api/v1/stream"]
    assert "/metrics" in protected and "/api/v1/queues/{queue_id}/contacts".replace("{queue_id}", "sales") in protected
    for path in protected:
        for headers in ({}, bearer("ccp_wrong"), {"Authorization": "Basic Zm9vOmJhcg=="}):
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            assert "API token" in response.json()["detail"]
        assert client.get(path, params={"access_token": "nope"}).status_code == 401
    assert client.post("/api/v1/events", json=[]).status_code == 401
    status, _, frames = asyncio.run(_read_sse(client.app, "", events=0))
    assert status == 401
    # Probes and the (data-free) wallboard page stay open.
    for open_path in ("/healthz", "/readyz", "/wallboard"):
        assert client.get(open_path).status_code == 200


def test_a_valid_token_reads_by_header_and_by_query_parameter_on_the_stream_only(client: TestClient, world) -> None:
    by_header = client.get("/api/v1/queues", headers=bearer(FULL))
    assert by_header.status_code == 200
    assert [q["queue_id"] for q in by_header.json()["queues"]] == ["sales", "support", "vip"]
    # A token in a URL leaks to logs and Referer headers: only the stream (EventSource) takes one.
    by_query = client.get("/api/v1/queues", params={"access_token": FULL})
    assert by_query.status_code == 401 and "accepted only by /api/v1/stream" in by_query.json()["detail"]
    assert client.get("/metrics", params={"access_token": FULL}).status_code == 401
    assert client.post("/api/v1/events", params={"access_token": FULL}, json=[]).status_code == 401
    status, _, frames = asyncio.run(_read_sse(client.app, f"access_token={FULL}"))
    assert status == 200 and any(event == "snapshot" for event, _ in frames)
    documented = {path for path, ops in client.app.openapi()["paths"].items()
                  for op in ops.values() if any("APIKeyQuery" in scheme for scheme in op.get("security", []))}
    assert documented == {"/api/v1/stream"}


def test_scopes_are_enforced(client: TestClient, world) -> None:
    assert client.get("/api/v1/queues", headers=bearer(INGEST_ONLY)).status_code == 403
    assert "lacks the 'read' scope" in client.get("/api/v1/summary", headers=bearer(INGEST_ONLY)).json()["detail"]
    assert client.get("/metrics", headers=bearer(NO_METRICS)).status_code == 403
    assert client.get("/metrics", headers=bearer(FULL)).status_code == 200
    assert client.post("/api/v1/events", json=[], headers=bearer(NO_METRICS)).status_code == 403
    status, _, _ = asyncio.run(_read_sse(client.app, f"access_token={INGEST_ONLY}", events=0))
    assert status == 403


def test_a_queue_scoped_token_never_sees_other_queues(client: TestClient, world) -> None:
    seen = {}
    for path in _get_routes(client.app):
        if path == "/api/v1/stream":
            continue
        for params in ({}, {"format": "csv"} if path.endswith("/intervals") else None,
                       {"start": "2026-03-01T00:00:00Z"} if path.endswith("/intervals") or "surveys" in path else None):
            if params is None:
                continue
            response = client.get(path, params=params, headers=bearer(SALES))
            # Retention is centre-wide customer data: refused to every queue-limited token.
            allowed = (403,) if path == "/api/v1/retention" else (200, 404)
            assert response.status_code in allowed, (path, response.text)
            seen[(path, str(params))] = response.text
            assert not FOREIGN.search(response.text), (path, params, FOREIGN.search(response.text), response.text[:2000])
    assert len(seen) > 20
    status, _, frames = asyncio.run(_read_sse(client.app, f"access_token={SALES}"))
    assert status == 200
    snapshot = next(data for event, data in frames if event == "snapshot")
    assert not FOREIGN.search(snapshot)
    # Direct questions about another client's queue, agent or team get 404, as if it did not exist.
    for path in ("/api/v1/queues/support", "/api/v1/queues/vip/intervals", "/api/v1/queues/support/contacts",
                 "/api/v1/agents/a3", "/api/v1/agents/a5", "/api/v1/agents/a3/intervals"):
        assert client.get(path, headers=bearer(SALES)).status_code == 404, path
    # ... and filters naming them find nothing.
    assert client.get("/api/v1/alerts", params={"queue_id": "support"}, headers=bearer(SALES)).json()["alerts"] == []
    assert client.get("/api/v1/surveys", params={"queue_id": "support"}, headers=bearer(SALES)).status_code in (200, 404)


def test_the_scoped_view_has_the_same_figures_for_its_own_queue(client: TestClient, world) -> None:
    full = client.get("/api/v1/queues/sales", headers=bearer(FULL)).json()
    scoped = client.get("/api/v1/queues/sales", headers=bearer(SALES)).json()
    assert scoped == full  # a1, shared with support, counts on sales for both
    summary = client.get("/api/v1/summary", headers=bearer(SALES)).json()
    assert summary["live"]["waiting"] == 1  # c1 only; c2 (support) and c5 (vip) are not the client's
    assert summary["current_interval"]["offered"] == 10  # sales' 09:15 interval only
    voice = client.get("/api/v1/channels/voice/intervals", params={"start": "2026-03-02T08:00:00Z"},
                       headers=bearer(SALES)).json()["intervals"]
    assert [row["offered"] for row in voice] == [20, 10]  # sales only: vip's 08:45 interval is not there
    team = client.get("/api/v1/teams/red/intervals", headers=bearer(SALES)).json()["intervals"]
    # a2 at 09:00 (A2_T1: 4); at 09:15 a2's 2 and a1's 2 on sales (a1's support answer is not the client's)
    assert [row["answered"] for row in team] == [4, 4]
    agents = client.get("/api/v1/agents", params={"include_offline": "true"}, headers=bearer(SALES)).json()
    assert [a["agent_id"] for a in agents["agents"]] == ["a1", "a2", "a4"]
    assert agents["agents"][0]["queue_ids"] == ["sales"]  # not support


def test_a_shared_agent_shows_its_work_on_the_tokens_queues_only(client: TestClient, world) -> None:
    def a1(token: str) -> dict:
        return client.get("/api/v1/agents/a1/intervals", headers=bearer(token)).json()["intervals"][0]

    full, sales = a1(FULL), a1(SALES)
    care = client.get("/api/v1/agents/a1/intervals", headers=bearer(CARE)).json()["intervals"][0]
    # By hand: a1 answered 3 at 09:15, 2 on sales and 1 on support; the CSAT answer was support's.
    assert (full["answered"], sales["answered"], care["answered"]) == (3, 2, 1)
    assert (sales["handled"], sales["csat_responses"], care["csat_responses"]) == (2, 0, 1)
    # Per-queue figures sum to the agent's totals for an unrestricted token.
    for measure in ("answered", "handled", "answered_within_sl", "handle_seconds_total", "wait_seconds_total",
                    "csat_responses"):
        assert sales[measure] + care[measure] == pytest.approx(full[measure]), measure
    assert (sales["handle_seconds_total"], care["handle_seconds_total"]) == (240.0, 120.0)  # talk + hold + ACW
    # Time in state belongs to the agent, not to a queue: not shown to a queue-limited token.
    assert full["occupancy"] is not None and sales["occupancy"] is None and care["occupancy"] is None
    assert sales["available_seconds"] in (None, 0) and care["on_contact_seconds"] in (None, 0)
    surveys = client.get("/api/v1/surveys", params={"agent_id": "a1"}, headers=bearer(SALES)).json()["intervals"]
    assert all(row["csat_responses"] == 0 for row in surveys)


def test_metrics_of_a_scoped_token_cover_its_queues_only(client: TestClient, world) -> None:
    text = client.get("/metrics", headers=bearer(SALES)).text
    assert 'ccpulse_queue_contacts_offered_total{queue="sales"}' in text
    assert not FOREIGN.search(text)
    assert "ccpulse_events_rejected_total{" not in text  # dead letters are centre-wide, not the client's
    full = client.get("/metrics", headers=bearer(FULL)).text
    assert 'queue="support"' in full and 'ccpulse_events_rejected_total{reason="not_json"' in full


def test_queue_groups_scope_a_token(client: TestClient, world) -> None:
    body = client.get("/api/v1/queues", headers=bearer(CARE)).json()
    assert [q["queue_id"] for q in body["queues"]] == ["support", "vip"]
    assert [a["queue_id"] for a in client.get("/api/v1/alerts", headers=bearer(CARE)).json()["alerts"]] == ["support"]
    assert client.get("/api/v1/queues/sales", headers=bearer(CARE)).status_code == 404


def test_customer_ids_are_masked_unless_granted(client: TestClient, world) -> None:
    masked = client.get("/api/v1/contacts/recent", params={"queue_id": "sales"}, headers=bearer(SALES)).json()
    assert masked["contacts"][0]["customer_id"] == "c***7"
    clear = client.get("/api/v1/contacts/recent", params={"queue_id": "sales"}, headers=bearer(FULL)).json()
    assert clear["contacts"][0]["customer_id"] == "cust-47"


def test_list_filters_by_group_team_and_site(client: TestClient, world) -> None:
    def queues(**params: str) -> list[str]:
        return [q["queue_id"] for q in client.get("/api/v1/queues", params=params, headers=bearer(FULL)).json()["queues"]]

    assert queues(group="care") == ["support", "vip"]
    assert queues(team="blue") == ["sales", "support"]  # a3: support, a4: sales
    assert queues(site="hn") == ["sales"]
    assert queues(group="care", site="hcm") == ["support", "vip"]
    assert queues(queue_id="sales,vip", group="care") == ["vip"]
    assert queues(group="nothing") == []
    alerts = client.get("/api/v1/alerts", params={"group": "retail"}, headers=bearer(FULL)).json()["alerts"]
    assert [a["queue_id"] for a in alerts] == ["sales"]
    agents = client.get("/api/v1/agents", params={"group": "care"}, headers=bearer(FULL)).json()["agents"]
    assert [a["agent_id"] for a in agents] == ["a1", "a3", "a5"]
    status, _, frames = asyncio.run(_read_sse(client.app, f"access_token={FULL}&group=care"))
    snapshot = orjson.loads(next(data for event, data in frames if event == "snapshot"))
    assert [q["queue_id"] for q in snapshot["queues"]] == ["support", "vip"]
    assert [a["queue_id"] for a in snapshot["alerts"]] == ["support"]
    assert [q["group"] for q in snapshot["queues"]] == ["care", "care"]


def test_tokens_are_configured_as_hashes_only(tmp_path: Path) -> None:
    token = new_token()
    assert token.startswith("ccp_") and len(token) > 40 and new_token() != token
    with pytest.raises(ValidationError, match="sha256"):
        ApiToken(name="oops", sha256=token)  # a token pasted where its hash belongs is refused
    file = tmp_path / "tokens.toml"
    file.write_text(f'[[tokens]]\nname = "wall"\nsha256 = "{hash_token(token)}"\nqueues = ["sales"]\n')
    assert tomllib.loads(file.read_text())["tokens"][0]["sha256"] != token
    registry = TokenRegistry(Settings(api_tokens_file=file))
    principal = registry.lookup(token)
    assert principal is not None and principal.name == "wall" and principal.queues == frozenset({"sales"})
    assert principal.scopes == frozenset({"read"})
    assert registry.lookup(token + "x") is None and registry.lookup(None) is None and registry.lookup("") is None
    assert TokenRegistry(Settings(auth_enabled=False)).lookup(None).queues is None


def test_auth_disabled_serves_everyone_but_still_masks_customer_ids(world) -> None:
    app = create_app(make_settings())
    app.state.store = world
    client = TestClient(app)
    assert client.get("/api/v1/queues").status_code == 200
    assert client.get("/api/v1/contacts/recent", params={"queue_id": "sales"}).json()["contacts"][0]["customer_id"] == "c***7"
    status, _, frames = asyncio.run(_read_sse(app))
    assert orjson.loads(next(d for e, d in frames if e == "snapshot"))["auth_disabled"] is True


def test_recent_contacts_mask_agents_the_token_cannot_see(client: TestClient, world) -> None:
    # A sales contact handled by a3, who works support only now (re-staffed since).
    recent(world, "r-sales-2", NOW - 50, queue_id="sales", agent_id="a3")
    sales = client.get("/api/v1/contacts/recent", headers=bearer(SALES)).json()["contacts"]
    assert {c["contact_id"]: c["agent_id"] for c in sales} == {"r-sales-2": "***", "r-sales": "a2"}  # too short to keep a letter
    full = client.get("/api/v1/contacts/recent", headers=bearer(FULL)).json()["contacts"]
    assert {c["contact_id"]: c["agent_id"] for c in full}["r-sales-2"] == "a3"
    # Filtering by the hidden agent finds nothing (not even that the agent handled the client's contacts).
    probe = client.get("/api/v1/contacts/recent", params={"agent_id": "a3"}, headers=bearer(SALES)).json()
    assert probe == {"contacts": [], "total": 0}


def test_process_wide_metrics_go_to_unrestricted_tokens_only(client: TestClient, world) -> None:
    limited = client.get("/metrics", headers=bearer(SALES)).text
    full = client.get("/metrics", headers=bearer(FULL)).text
    for family in ("ccpulse_read_model_rows_total", "ccpulse_events_rejected_total", "ccpulse_workers",
                   "ccpulse_consumer_lag_messages", "ccpulse_read_model_ready", "ccpulse_processing_latency_seconds"):
        assert family in full and family not in limited, family
