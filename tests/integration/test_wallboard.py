"""The wallboard in a real headless Chromium against a real stack: tiles render from the SSE stream,
update without a reload, and a queue in breach shows BREACH. Leaves a 1920×1080 screenshot in artifacts/."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _chromium() -> str:
    path = os.environ.get("CCPULSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is required for the wallboard test: run .ci/system-deps "
                    "(apt-get install chromium)", pytrace=False)
    return path


@pytest.fixture
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is required for the wallboard test: pip install -e '.[test]'", pytrace=False)
    executable = _chromium()
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


TOKEN = "ccp_wallboard-test-token"


@pytest.fixture
def wall_stack(stack_factory, tmp_path):
    config = tmp_path / "queues.toml"
    config.write_text('[queues.sales]\nsl_threshold_seconds = 20\ngroup = "retail"\nname = "Sales"\n'
                      '[queues.support]\nsl_threshold_seconds = 20\ngroup = "care"\n')
    return stack_factory({"CCPULSE_CONFIG_FILE": str(config)}, tokens={TOKEN: ["read"]}).start(workers=1)


def _produce(stack, events: list[dict]) -> None:
    """``stack.produce`` from a thread of its own: playwright's sync API keeps an event loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(stack.produce, events).result(timeout=60)


def _queued(n: str, queue: str, customer: str) -> dict:
    return {"event_id": f"w-{n}", "type": "contact.queued", "occurred_at": _now(), "contact_id": n,
            "channel": "voice", "queue_id": queue, "customer_id": customer}


def test_wallboard_renders_updates_and_shows_breach(wall_stack, browser) -> None:
    stack = wall_stack
    _produce(stack, [
        {"event_id": "w-a1", "type": "agent.state_changed", "occurred_at": _now(), "agent_id": "a1",
         "state": "available", "queue_ids": ["sales", "support"], "team": "team-a"},
        {"event_id": "w-a2", "type": "agent.state_changed", "occurred_at": _now(), "agent_id": "a2",
         "state": "away", "queue_ids": ["support"], "team": "team-b", "reason": "break"},
        _queued("s1", "sales", "cust-1001"), _queued("s2", "sales", "cust-1002"), _queued("p1", "support", "cust-2001"),
    ])
    stack.wait_for(lambda: {q["queue_id"]: q["live"]["waiting"] for q in stack.get("/api/v1/queues").json()["queues"]}
                   .items() >= {"sales": 2, "support": 1}.items(), timeout=60, what="the contacts to be waiting")

    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    try:
        # Without its token the page says why it shows nothing (in text, not only colour).
        page.goto(stack.url + "/wallboard")
        page.locator("#conn", has_text="TOKEN MISSING OR INVALID").wait_for(timeout=20_000)
        assert page.locator("#tiles .tile").count() == 0

        page.goto(stack.url + f"/wallboard?token={TOKEN}")
        tile = '#tiles .tile[data-queue-id="{}"] .waiting'
        page.wait_for_function(
            "([s, p]) => { const a = document.querySelector(s), b = document.querySelector(p);"
            " return a && b && a.textContent === '2' && b.textContent === '1'; }",
            arg=[tile.format("sales"), tile.format("support")], timeout=20_000)
        assert page.locator("#conn").inner_text() == "● LIVE"
        assert page.locator('.agent[data-agent-id="a2"]').inner_text().count("break") == 1
        page_loads = page.evaluate("performance.getEntriesByType('navigation').length")

        # Another contact: the open page follows the stream, no reload.
        _produce(stack, [_queued("p2", "support", "cust-2002")])
        page.wait_for_function("s => { const b = document.querySelector(s); return b && b.textContent === '2'; }",
                               arg=tile.format("support"), timeout=20_000)
        assert page.evaluate("performance.getEntriesByType('navigation').length") == page_loads
        assert page.evaluate("window.performance.navigation.type") == 0  # navigate, not reload

        # A contact waiting where nobody is staffed: critical no_agents_available -> BREACH.
        _produce(stack, [_queued("h1", "hot", "cust-3001")])
        hot = page.locator('#tiles .tile[data-queue-id="hot"]')
        hot.locator(".state", has_text="BREACH").wait_for(timeout=30_000)
        assert hot.get_attribute("data-status") == "bad"
        assert "hot" in page.locator("#alert-list").inner_text()
        assert "cust-" not in page.content()  # no customer ids on the wall

        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        shot = artifacts / "wallboard.png"
        page.wait_for_timeout(1200)  # let the waits tick once
        page.screenshot(path=str(shot))
        assert shot.exists() and shot.stat().st_size > 20_000, shot.stat().st_size

        # TV mode: no controls, no agent grid, one page per queue group (care, retail, then the rest).
        tv = browser.new_page(viewport={"width": 1920, "height": 1080})
        try:
            tv.goto(stack.url + f"/wallboard?token={TOKEN}&tv=1&rotate=2")
            tv.locator("#page", has_text="care · page 1 of 3").wait_for(timeout=20_000)
            assert [t.get_attribute("data-queue-id") for t in tv.locator("#tiles .tile").all()] == ["support"]
            assert not tv.locator("#controls").is_visible() and not tv.locator("#agents-section").is_visible()
            assert tv.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 28
            tv.locator("#page", has_text="retail · page 2 of 3").wait_for(timeout=10_000)
            assert [t.get_attribute("data-queue-id") for t in tv.locator("#tiles .tile").all()] == ["sales"]
            tv.locator("#page", has_text="Other queues · page 3 of 3").wait_for(timeout=10_000)
            tv.screenshot(path=str(artifacts / "wallboard-tv.png"))
        finally:
            tv.close()

        # The API goes away: the page says so (not only by colour) within ~5 s, then recovers by itself.
        stack.api.terminate()
        stack.api.wait(timeout=15)
        page.locator("#conn", has_text="STALE").wait_for(timeout=15_000)
        stack.start_api()
        page.locator("#conn", has_text="LIVE").wait_for(timeout=60_000)
        assert page.evaluate("performance.getEntriesByType('navigation').length") == page_loads
    finally:
        page.close()
