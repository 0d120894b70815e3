"""Tenant isolation, generated from the OpenAPI document: every route (a new one is covered by
being documented) × {admin, queue-limited, group-limited, no scope, no token}.

For each, the status is asserted, and for the two limited tokens no trace of the other tenant
appears in the JSON, CSV, Prometheus text or SSE answer: no foreign queue id, agent id or team,
and no foreign figure. Figures are told apart by magnitude: the tenant's own data (queues
``sales`` and ``outlet``, group ``retail``) counts in units, the foreign queues (``support``,
``vip``) and the foreign part of the shared agent ``x1`` in millions, so any number of a million
or more in a limited answer is a foreign figure that leaked, alone or inside a sum or an average.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.auth import hash_token
from ccpulse.domain.intervals import agent_queue
from ccpulse.settings import ApiToken, QueueSettings, Settings
from api.store import ReadModelStore
from tests.api.conftest import NOW, T0, T1, agent, contact, interval, make_settings, recent
from tests.api.test_callbacks import FakeIngest
from tests.api.test_stream import _read_sse

ADMIN, QUEUE, GROUP, NOSCOPE = (f"ccp_iso-{n}" for n in ("admin", "queue", "group", "noscope"))
ROLES: dict[str, str | None] = {"admin": ADMIN, "queue-limited": QUEUE, "group-limited": GROUP,
                                "no-scope": NOSCOPE, "no token": None}
LIMITED = ("queue-limited", "group-limited")
MINE_QUEUES = {"queue-limited": {"sales"}, "group-limited": {"sales", "outlet"}}
FOREIGN_IDS = re.compile(r"\b(support|vip|f1|f2|blue|k-foreign)\b")
FOREIGN_FIGURE = 1_000_000

#: Candidate values of each path parameter: the tenant's and the other tenant's.
CANDIDATES = {"queue_id": ["sales", "outlet", "support", "vip"], "agent_id": ["s1", "x1", "f1", "f2"],
              "team": ["red", "blue"], "channel": ["voice", "chat"]}
#: Entities each limited role may see (else 404), per path parameter.
VISIBLE = {"queue-limited": {"queue_id": {"sales"}, "agent_id": {"s1", "x1"}, "team": {"red"},
                             "channel": {"voice", "chat"}},
           "group-limited": {"queue_id": {"sales", "outlet"}, "agent_id": {"s1", "x1"}, "team": {"red"},
                             "channel": {"voice", "chat"}}}
#: Routes authenticated otherwise than by an API token (probes; the signed rating callback).
NOT_TOKEN_ROUTES = {("get", "/healthz"), ("get", "/readyz"), ("post", "/api/v1/callbacks/rating"),
                    ("post", "/api/v1/connectors/twilio/taskrouter")}  # signed by Twilio (X-Twilio-Signature), no token
#: Centre-wide customer data: refused to every queue-limited token.
CENTRE_WIDE = {("get", "/api/v1/retention")}
#: The scope each route needs.
SCOPE_OF = {("get", "/metrics"): "metrics", ("post", "/api/v1/events"): "ingest"}

SMALL = dict(offered=4, offered_voice=4, answered=3, abandoned=1, answered_within_sl=2, wait_answered_ms=30_000,
             wait_abandoned_ms=5_000, handled=3, talk_ms=300_000, acw_ms=30_000, csat_responses=2,
             csat_satisfied=1, csat_score_milli=8_000, qa_count=1, qa_score_milli=80_000, fcr_handled=3,
             fcr_resolved=2, nps_responses=1, nps_promoters=1)
HUGE = {k: v * 1_000_000 for k, v in SMALL.items()}
HUGE_CHAT = {**{k: v for k, v in HUGE.items() if k != "offered_voice"}, "offered_chat": HUGE["offered"]}
SMALL_AGENT = dict(answered=2, answered_within_sl=1, wait_answered_ms=20_000, handled=2, talk_ms=200_000,
                   acw_ms=20_000, csat_responses=1, csat_satisfied=1, csat_score_milli=5_000, qa_count=1,
                   qa_score_milli=90_000)
HUGE_AGENT = {k: v * 1_000_000 for k, v in SMALL_AGENT.items()}
TIME_IN_STATE = dict(time_available_ms=5_000_000_000, time_on_contact_ms=9_000_000_000,
                     time_after_contact_work_ms=1_000_000_000, time_away_ms=2_000_000_000)


def _plus(*parts: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, 0) + v
    return out


@pytest.fixture
def settings() -> Settings:
    return make_settings(auth_enabled=True, api_tokens=[
        ApiToken(name="admin", sha256=hash_token(ADMIN), scopes=["read", "metrics", "ingest", "customer_ids"]),
        ApiToken(name="sales-client", sha256=hash_token(QUEUE), scopes=["read", "metrics", "ingest"], queues=["sales"]),
        ApiToken(name="retail-client", sha256=hash_token(GROUP), scopes=["read", "metrics", "ingest"],
                 queue_groups=["retail"]),
        ApiToken(name="no-scope", sha256=hash_token(NOSCOPE), scopes=[]),
    ], queues={"sales": QueueSettings(sl_threshold_seconds=20, group="retail"),
               "outlet": QueueSettings(sl_threshold_seconds=20, group="retail"),
               "support": QueueSettings(sl_threshold_seconds=60, group="care"),
               "vip": QueueSettings(sl_threshold_seconds=10, group="care")})


@pytest.fixture
def world(store: ReadModelStore, frozen: float, app) -> ReadModelStore:
    for queue, channel, counters in (("sales", "voice", SMALL), ("outlet", "voice", SMALL),
                                     ("support", "chat", HUGE_CHAT), ("vip", "voice", HUGE)):
        for start in (T0, T1):
            interval(store, "queue", queue, start, 40_000 if counters is SMALL else 9_000_000_000, **counters)
    for start in (T0, T1):
        interval(store, "channel", "voice", start, 9_000_000_000, **_plus(SMALL, SMALL, HUGE))
        interval(store, "channel", "chat", start, 9_000_000_000, **HUGE_CHAT)
    # s1: sales only; x1: sales and support (shared); f1: support; f2: vip.
    interval(store, "agent", "s1", T0, None, **SMALL_AGENT, **TIME_IN_STATE)
    interval(store, "agent", "x1", T0, None, **_plus(SMALL_AGENT, HUGE_AGENT), **TIME_IN_STATE)
    interval(store, "agent", "f1", T0, None, **HUGE_AGENT, **TIME_IN_STATE)
    interval(store, "agent", "f2", T1, None, **HUGE_AGENT, **TIME_IN_STATE)
    interval(store, "agentq", agent_queue("s1", "sales"), T0, None, **SMALL_AGENT)
    interval(store, "agentq", agent_queue("x1", "sales"), T0, None, **SMALL_AGENT)
    interval(store, "agentq", agent_queue("x1", "support"), T0, None, **HUGE_AGENT)
    interval(store, "agentq", agent_queue("f1", "support"), T0, None, **HUGE_AGENT)
    interval(store, "agentq", agent_queue("f2", "vip"), T1, None, **HUGE_AGENT)
    agent(store, "s1", "available", ["sales"], "red", "hcm")
    agent(store, "x1", "on_contact", ["sales", "support"], "red", "hcm")
    agent(store, "f1", "available", ["support"], "blue", "hn")
    agent(store, "f2", "away", ["vip"], "blue", "hn")
    contact(store, "c-s", "waiting", "sales", "voice", NOW - 30)
    contact(store, "c-o", "waiting", "outlet", "voice", NOW - 20)
    contact(store, "c-f", "waiting", "support", "chat", NOW - 100)
    contact(store, "c-v", "in_progress", "vip", "voice", NOW - 200, agent_id="f2")
    recent(store, "r-s", NOW - 100, queue_id="sales", agent_id="x1", customer_id="k-mine")
    recent(store, "r-f", NOW - 90, queue_id="support", agent_id="f1", customer_id="k-foreign", channel="chat")
    recent(store, "r-v", NOW - 80, queue_id="vip", agent_id="f2", customer_id="k-foreign")
    for queue in ("sales", "support", "vip"):
        ident = f"{queue}:sl_below_target:1"
        store.apply_alert(ident.encode(), orjson.dumps({
            "id": ident, "state": "firing", "severity": "critical", "queue_id": queue, "rule": "sl_below_target",
            "summary": f"service level low on {queue}", "value": 0.5, "threshold": 0.8, "started_at": NOW - 60,
            "resolved_at": None}))
    app.state.ingest = FakeIngest()
    return store


def _operations(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in app.openapi()["paths"].items() for method, op in ops.items()]


def _fillings(path: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Every path with its parameters filled in from ``CANDIDATES``, and the values used."""
    names = re.findall(r"\{(\w+)\}", path)
    if not names:
        yield path, {}
        return
    (name,) = names  # every templated route has one parameter
    for value in CANDIDATES[name]:
        yield path.replace("{" + name + "}", value), {name: value}


def _expected(role: str, method: str, path: str, op: dict[str, Any], values: dict[str, str]) -> int:
    if role == "no token":
        return 401
    scope = SCOPE_OF.get((method, path), "read")
    if role == "no-scope":
        return 403
    if role in LIMITED:
        if (method, path) in CENTRE_WIDE:
            return 403
        if any(value not in VISIBLE[role][name] for name, value in values.items()):
            return 404
    assert scope
    return 422 if method == "post" else 200  # POST: an empty batch


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


def _assert_nothing_foreign(role: str, where: str, text: str, kind: str) -> None:
    found = FOREIGN_IDS.search(text)
    assert not found, (role, where, found.group(0), text[:1500])
    if kind == "json":
        numbers = list(_numbers(orjson.loads(text)))
    elif kind == "csv":
        numbers = [float(cell) for row in csv.reader(io.StringIO(text)) for cell in row
                   if re.fullmatch(r"-?\d+(\.\d+)?", cell)]
    else:  # Prometheus text: the sample values
        numbers = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line and not line.startswith("#")]
    big = [n for n in numbers if abs(n) >= FOREIGN_FIGURE]
    assert not big, (role, where, big[:5], text[:1500])


def test_every_route_for_every_role(client: TestClient, world: ReadModelStore) -> None:
    operations = _operations(client.app)
    assert len(operations) >= 20
    checked = 0
    for method, path, op in operations:
        if (method, path) in NOT_TOKEN_ROUTES:
            assert "security" not in op, path
            continue
        assert "security" in op, f"{method.upper()} {path} is neither token-protected nor a known open route"
        if path == "/api/v1/stream":
            continue  # below
        params = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
        queries: list[dict[str, str]] = [{}]
        if "format" in params:
            queries.append({"format": "csv"})
        if "start" in params:
            queries.append({"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"})
        for name in ("queue_id", "agent_id", "team", "group"):
            if name in params:  # filters naming the other tenant find nothing of it
                queries += [{name: v} for v in {"queue_id": ["support"], "agent_id": ["f1", "x1"], "team": ["blue"],
                                                "group": ["care"]}[name]]
        for url, values in _fillings(path):
            for role, token in ROLES.items():
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                for query in queries if method == "get" else [{}]:
                    if method == "get":
                        response = client.get(url, params=query, headers=headers)
                    else:
                        response = client.request(method.upper(), url, content=b"[]", headers=headers)
                    expected = _expected(role, method, path, op, values)
                    # A filter naming the other tenant may be a 404 (unknown to this token) or an empty answer.
                    allowed = {expected, 404} if role in LIMITED and expected == 200 and query and \
                        not {"format", "start"} & set(query) else {expected}
                    assert response.status_code in allowed, (role, method, url, query, response.text[:300])
                    checked += 1
                    if role in LIMITED and response.status_code == 200:
                        kind = ("csv" if "text/csv" in response.headers["content-type"] else
                                "prometheus" if path == "/metrics" else "json")
                        _assert_nothing_foreign(role, f"{url}?{query}", response.text, kind)
    assert checked > 500, checked


@pytest.mark.parametrize("role", list(ROLES))
def test_the_stream_for_every_role(client: TestClient, world: ReadModelStore, role: str) -> None:
    token = ROLES[role]
    query = f"access_token={token}" if token else ""
    status, _, frames = asyncio.run(_read_sse(client.app, query, events=0 if role in ("no token", "no-scope") else 1))
    assert status == {"no token": 401, "no-scope": 403}.get(role, 200)
    if role in LIMITED:
        snapshot = next(data for event, data in frames if event == "snapshot")
        _assert_nothing_foreign(role, "/api/v1/stream", snapshot, "json")
        body = orjson.loads(snapshot)
        assert {q["queue_id"] for q in body["queues"]} == MINE_QUEUES[role]
        assert {a["agent_id"] for a in body["agents"]} == {"s1", "x1"}


def test_the_admin_sees_both_tenants_and_the_sums(client: TestClient, world: ReadModelStore) -> None:
    """The magnitudes above are real: the admin does see the millions, so their absence for a limited
    token is isolation, not an empty world."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    x1 = client.get("/api/v1/agents/x1/intervals", headers=admin).json()["intervals"][0]
    assert x1["answered"] == 2 + 2_000_000 and x1["occupancy"] is not None
    limited = client.get("/api/v1/agents/x1/intervals", headers={"Authorization": f"Bearer {QUEUE}"}).json()
    assert limited["intervals"][0]["answered"] == 2 and limited["intervals"][0]["occupancy"] is None
    summary = client.get("/api/v1/summary", headers=admin).json()
    assert summary["today"]["offered"] == 2 * (4 + 4 + 4_000_000 + 4_000_000)
    mine = client.get("/api/v1/summary", headers={"Authorization": f"Bearer {GROUP}"}).json()
    assert mine["today"]["offered"] == 2 * (4 + 4)
