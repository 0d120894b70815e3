"""Queue views: staffing from the last completed interval, and the unchanged live/current figures."""

from __future__ import annotations

from typing import Any

import pytest

import ccpulse.readmodel.views


@pytest.fixture
def fake_staffing(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def staffing_for_interval(offered, interval_seconds, handled, handle_seconds_total, threshold_seconds, target):
        calls.append(dict(offered=offered, interval_seconds=interval_seconds, handled=handled,
                          handle_seconds_total=handle_seconds_total, threshold_seconds=threshold_seconds, target=target))
        aht = handle_seconds_total / handled if handled else None
        rate = offered * 3600 / interval_seconds
        return {"arrival_rate_per_hour": rate, "aht_seconds": aht,
                "traffic_erlangs": rate * aht / 3600 if aht else 0.0, "agents_required": 7 if offered else 0,
                "predicted_service_level": 0.85 if offered else None, "predicted_asa_seconds": 4.2 if offered else None}

    monkeypatch.setattr(ccpulse.readmodel.views, "staffing_for_interval", staffing_for_interval)
    return calls


def test_staffing_uses_the_last_completed_interval(client, centre, frozen, fake_staffing) -> None:
    view = client.get("/api/v1/queues/sales").json()
    assert fake_staffing == [dict(offered=20, interval_seconds=900, handled=18, handle_seconds_total=4320.0,
                                  threshold_seconds=20.0, target=0.8)]
    staffing = view["staffing"]
    assert (staffing["interval_start"], staffing["interval_end"]) == ("2026-03-02T09:00:00Z", "2026-03-02T09:15:00Z")
    assert staffing["arrival_rate_per_hour"] == 80.0 and staffing["aht_seconds"] == 240.0
    assert staffing["agents_required"] == 7
    assert staffing["agents_staffed_now"] == 2  # a1 available + a2 on contact; a4 offline


def test_staffing_of_a_quiet_queue(client, centre, frozen, fake_staffing) -> None:
    queues = {q["queue_id"]: q for q in client.get("/api/v1/queues").json()["queues"]}
    vip = queues["vip"]["staffing"]
    assert vip["agents_staffed_now"] == 0 and vip["predicted_service_level"] is None
    calls = {c["threshold_seconds"]: c for c in fake_staffing}
    assert calls[10.0]["offered"] == 0 and calls[10.0]["handle_seconds_total"] == 0.0  # vip's own threshold
    assert queues["support"]["staffing"]["agents_staffed_now"] == 2 and calls[60.0]["offered"] == 0


def test_queue_views_with_the_real_staffing_model(client, centre, frozen) -> None:
    view = client.get("/api/v1/queues/sales")
    assert view.status_code == 200
    staffing = view.json()["staffing"]
    assert staffing["agents_staffed_now"] == 2
    assert staffing["arrival_rate_per_hour"] == pytest.approx(80.0)
    assert staffing["aht_seconds"] == pytest.approx(240.0)
    assert staffing["traffic_erlangs"] == pytest.approx(80.0 * 240.0 / 3600)
    assert staffing["agents_required"] >= 6  # > 5.33 Erlang
    assert 0.8 <= staffing["predicted_service_level"] <= 1.0
    quiet = client.get("/api/v1/queues/vip").json()["staffing"]  # nothing offered in the last interval
    assert quiet["agents_required"] == 0 and quiet["traffic_erlangs"] == 0.0 and quiet["aht_seconds"] is None


def test_unusable_counters_give_null_staffing_not_500(client, centre, frozen) -> None:
    from .conftest import T1, interval
    interval(centre, "queue", "sales", T1, None, offered=-1, offered_voice=1)  # a corrupt row
    response = client.get("/api/v1/queues/sales")
    assert response.status_code == 200 and response.json()["staffing"] is None


def test_queue_view_live_and_current(client, centre, frozen, fake_staffing) -> None:
    view = client.get("/api/v1/queues/support").json()
    assert view["channel"] == "chat" and view["sl_threshold_seconds"] == 60
    assert view["live"]["waiting"] == 1 and view["live"]["longest_wait_seconds"] == 100.0
    assert view["live"]["agents"] == {"available": 1, "on_contact": 0, "after_contact_work": 1, "away": 1}
    assert view["current_interval"]["fcr_rate"] == pytest.approx(0.5)
    assert client.get("/api/v1/queues/nope").json() == {"detail": "unknown queue 'nope'"}
