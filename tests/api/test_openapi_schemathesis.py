"""Property-based check of the read API against its own OpenAPI document (schemathesis).

Every operation except the endless SSE stream and the signed rating callback is called, with an admin
token (read, metrics, ingest, customer_ids), with generated parameters over a
populated read model (queues, agents, intervals, recent contacts, alerts; no Kafka): no answer
may be a 5xx and every documented answer must conform to its response schema. ``POST /api/v1/events``
runs against a recording producer here, and against a real broker in tests/integration.
"""

from __future__ import annotations

from typing import Any

import orjson
import schemathesis
from hypothesis import HealthCheck, settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.auth import hash_token
from api.main import create_app
from api.store import ReadModelStore
from tests.api import conftest as api_fixtures
from ccpulse.settings import ApiToken
from tests.api.conftest import NOW, recent
from tests.api.test_callbacks import FakeIngest


TOKEN = "ccp_schemathesis-token"


def _alert(store: ReadModelStore, queue_id: str, rule: str, state: str) -> None:
    ident = f"{queue_id}:{rule}:1"
    store.apply_alert(ident.encode(), orjson.dumps({
        "id": ident, "state": state, "severity": "critical" if state == "firing" else "warning", "queue_id": queue_id,
        "rule": rule, "summary": f"{rule} on {queue_id}", "value": 0.5, "threshold": 0.8,
        "started_at": NOW - 600, "resolved_at": None if state == "firing" else NOW - 60}))


def _populated_app() -> Any:
    # The same read model as the ``centre`` fixture (pytest fixtures cannot feed a module-level
    # schemathesis schema, so their plain functions are called), plus recent contacts and alerts.
    settings = api_fixtures.settings.__wrapped__().model_copy(update={
        "auth_enabled": True, "api_tokens": [ApiToken(name="schemathesis", sha256=hash_token(TOKEN),
                                                     scopes=["read", "metrics", "ingest", "customer_ids"])]})
    store = ReadModelStore(settings)
    store.ready = True
    api_fixtures.centre.__wrapped__(store)
    recent(store, "r1", NOW - 500, breached=True, csat=2, wait_seconds=45.0)
    recent(store, "r2", NOW - 400, queue_id="support", channel="chat", csat=5, agent_id="a3")
    recent(store, "r3", NOW - 300, breached=True, outcome="abandoned")
    recent(store, "r4", NOW - 200, csat=1, comment="rude", resolved=False, handled_at=NOW - 250)
    _alert(store, "sales", "sl_below_target", "firing")
    _alert(store, "vip", "no_agents_available", "resolved")
    store.event_now = lambda: NOW  # frozen event clock
    app = create_app(settings)
    app.state.store = store
    app.state.ingest = FakeIngest()  # POST /api/v1/events answers without a broker (what is produced is not checked here)
    return app


def _without_lifespan(app: Any) -> Any:
    """The app with its lifespan answered here: schemathesis' ASGI transport runs the lifespan,
    which would start the Kafka consumer."""

    async def wrapped(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return wrapped


APP = _populated_app()
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = _without_lifespan(APP)
# The stream never ends; the rating callback is signed, not token-authenticated (tests/api/test_callbacks.py).
schema = schema.exclude(path="/api/v1/stream").exclude(path="/api/v1/callbacks/rating")


@schema.parametrize()
@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi(case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                           checks=[not_a_server_error, response_schema_conformance])
