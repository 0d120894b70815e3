"""End to end: TaskRouter event callbacks, signed and unsigned, through the API into a worker and back out as figures."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from twilio.request_validator import RequestValidator

from ccpulse.connectors import iso
from tests.ccpulse.connectors import twilio_day as day

pytestmark = pytest.mark.integration

TOKEN = "0123456789abcdef0123456789abcdef"
PATH = "/api/v1/connectors/twilio/taskrouter"
RANGE = {"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z"}


def _post(stack, params: dict[str, str], signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return httpx.post(stack.url + PATH, content=urlencode(params).encode(), headers=headers, timeout=20)


def test_taskrouter_callbacks_signed_and_unsigned(stack_factory) -> None:
    stack = stack_factory(extra_env={"CCPULSE_CONNECTORS": orjson.dumps({"twilio_auth_token": TOKEN}).decode()},
                          tokens={"reader-token": ["read", "metrics"]}).start(workers=1)
    url = stack.url + PATH
    validator = RequestValidator(TOKEN)

    # Unsigned, wrongly signed and tampered callbacks change nothing.
    first = day.CALLBACKS[3]
    assert _post(stack, first, None).status_code == 403
    assert _post(stack, first, "bm90IGEgc2lnbmF0dXJl").status_code == 403
    other = RequestValidator("another-accounts-token").compute_signature(url, first)
    assert _post(stack, first, other).status_code == 403
    signed = validator.compute_signature(url, first)
    assert _post(stack, {**first, "TaskQueueSid": day.WEBCHAT}, signed).status_code == 403
    # A bearer token is not how TaskRouter authenticates: still 403 without the signature.
    response = httpx.post(url, content=urlencode(first).encode(), timeout=20,
                          headers={"Authorization": "Bearer reader-token",
                                   "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 403 and "X-Twilio-Signature" in response.json()["detail"]

    big = {**first, "TaskAttributes": "x" * 70_000}
    assert _post(stack, big, validator.compute_signature(url, big)).status_code == 413

    bad = {index for index, _ in day.BAD}
    for index, params in enumerate(day.CALLBACKS):
        response = _post(stack, params, validator.compute_signature(url, params))
        if index in bad:
            assert response.status_code == 422, (index, response.text)
        else:
            assert response.status_code == 204, (index, response.text)
            assert response.content == b""
    # TaskRouter retries a callback it thinks failed: a second delivery is harmless.
    again = day.CALLBACKS[6]
    assert _post(stack, again, validator.compute_signature(url, again)).status_code == 204

    def interval(queue: str) -> dict:
        rows = stack.get(f"/api/v1/queues/{queue}/intervals", **RANGE).json()["intervals"]
        row = {r["interval_start"]: r for r in rows}["2026-03-02T09:00:00Z"]
        want = day.EXPECTED_INTERVALS[queue]
        assert {k: row[k] for k in want} == pytest.approx(want, abs=5e-4)
        return row

    for queue in day.EXPECTED_INTERVALS:
        stack.wait_for(lambda: interval(queue), timeout=90, what=f"{queue} to show the hand-computed figures")

    def agents() -> bool:
        rows = {a["agent_id"]: a for a in stack.get("/api/v1/agents", include_offline="true").json()["agents"]}
        got = {a: (rows[a]["state"], rows[a]["since"], rows[a]["reason"]) for a in day.FINAL_AGENTS}
        assert got == {a: (s, iso(day.T0 + t), r) for a, (s, t, r) in day.FINAL_AGENTS.items()}
        return True

    stack.wait_for(agents, timeout=60, what="the workers' final states")

    dead = [orjson.loads(m.value) for m in stack.topic_messages(stack.settings.topics.deadletter)]
    mine = sorted((d["reason"], base64.b64decode(d["value_b64"]).decode()) for d in dead
                  if d["topic"] == "api:" + PATH)
    assert mine == sorted((reason, urlencode(day.CALLBACKS[i])) for i, reason in day.BAD)


def test_taskrouter_endpoint_is_off_without_an_auth_token(stack_factory) -> None:
    stack = stack_factory().start(workers=0)
    response = _post(stack, day.CALLBACKS[3], "x")
    assert response.status_code == 404 and "CCPULSE_CONNECTORS__TWILIO_AUTH_TOKEN" in response.json()["detail"]
