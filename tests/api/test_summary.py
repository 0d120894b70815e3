"""GET /api/v1/summary: the centre = sums of all queues' counters, then the formulas; live counted once."""

from __future__ import annotations

import pytest

from ccpulse.readmodel.views import centre_live
from ccpulse.domain.live import queue_live

from .conftest import NOW


def test_summary_live_counts_each_agent_once(client, centre, frozen) -> None:
    body = client.get("/api/v1/summary").json()
    live = body["live"]
    assert live["waiting"] == 3 and live["waiting_by_channel"] == {"voice": 2, "chat": 1, "email": 0}
    assert live["longest_wait_seconds"] == 100.0 and live["oldest_queued_at"] == "2026-03-02T09:18:20Z"
    assert live["in_progress"] == 1 and live["in_acw"] == 1
    # a1 is on sales and support, a5 on support and vip: still one each; a4 is offline
    assert live["agents"] == {"available": 1, "on_contact": 1, "after_contact_work": 1, "away": 1}
    assert live["agents_staffed"] == 3
    per_queue = queue_live(["sales", "support", "vip"], centre.contacts.values(), centre.agents.values())
    assert sum(q["agents_staffed"] for q in per_queue.values()) == 4  # what a naive sum over queues would say


def test_summary_current_interval_sums_queues_then_applies_formulas(client, centre, frozen) -> None:
    body = client.get("/api/v1/summary").json()
    assert body["generated_at"] == "2026-03-02T09:20:00Z" and body["timezone"] == "UTC"
    cur = body["current_interval"]
    assert (cur["interval_start"], cur["interval_end"]) == ("2026-03-02T09:15:00Z", "2026-03-02T09:30:00Z")
    assert cur["offered"] == 16 and cur["answered"] == 13 and cur["abandoned"] == 3 and cur["short_abandoned"] == 1
    assert cur["answered_within_sl"] == 11
    # 11 / (13 + 3 - 1), not the mean of sales' 6/9 and support's 5/6
    assert cur["service_level"] == pytest.approx(11 / 15)
    assert cur["abandon_rate"] == pytest.approx(2 / 15)
    assert cur["asa_seconds"] == pytest.approx(10.0) and cur["avg_abandon_seconds"] == pytest.approx(40.0)
    assert cur["max_wait_seconds"] == 90.0
    assert cur["handled"] == 11 and cur["aht_seconds"] == pytest.approx(round(1_390_000 / 11 / 1000, 3))
    assert cur["csat"] == pytest.approx(3 / 6) and cur["csat_mean"] == pytest.approx(round(20 / 6, 3))
    assert cur["fcr_handled"] == 9 and cur["fcr_rate"] == pytest.approx(6 / 9) and cur["repeat_rate"] == pytest.approx(3 / 9)
    assert cur["sl_threshold_seconds"] == 20 and cur["sl_target"] == 0.8


def test_summary_today_excludes_yesterday(client, centre, frozen) -> None:
    today = client.get("/api/v1/summary").json()["today"]
    assert (today["interval_start"], today["interval_end"]) == ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")
    assert today["offered"] == 16 + 20 + 3 and today["answered"] == 13 + 18 + 3 and today["abandoned"] == 5
    assert today["service_level"] == pytest.approx((11 + 15 + 1) / (34 + 5 - 1))
    assert today["max_wait_seconds"] == 90.0


def test_summary_channels(client, centre, frozen) -> None:
    channels = {c["channel"]: c for c in client.get("/api/v1/summary").json()["channels"]}
    assert list(channels) == ["voice", "chat", "email"]
    assert [channels[c]["waiting"] for c in channels] == [2, 1, 0]
    voice, chat, email = (channels[c]["current_interval"] for c in ("voice", "chat", "email"))
    assert voice["offered"] == 10 and voice["service_level"] == pytest.approx(6 / 9) and voice["sl_threshold_seconds"] == 20
    assert chat["offered"] == 6 and chat["service_level"] == pytest.approx(5 / 6) and chat["sl_threshold_seconds"] == 60
    assert email["offered"] == 0 and email["service_level"] is None and email["sl_threshold_seconds"] == 4 * 3600


def test_summary_of_an_empty_centre(client, store, frozen) -> None:
    body = client.get("/api/v1/summary")
    assert body.status_code == 200
    data = body.json()
    assert data["live"]["waiting"] == 0 and data["live"]["longest_wait_seconds"] is None
    assert data["live"]["agents_staffed"] == 0
    assert data["current_interval"]["offered"] == 0 and data["current_interval"]["service_level"] is None


def test_centre_live_ignores_contacts_without_queue() -> None:
    live = centre_live([{"status": "waiting", "queue_id": None, "channel": "voice", "queued_at": NOW}], [])
    assert live["waiting"] == 0
