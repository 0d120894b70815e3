"""/metrics counts the open contacts closed as expired, from their ``expired_open`` dead letters."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.store import ReadModelStore
from schemas.deadletter import deadletter_record


def dead_letter(store: ReadModelStore, reason: str) -> None:
    store._count_rejection(deadletter_record(raw=b"{}", key=b"c1", topic="cc.contact-events", partition=0,
                                             offset=1, reason=reason, message="m", event_id="e1"))


def test_expired_open_contacts_are_counted(client: TestClient, store: ReadModelStore) -> None:
    assert "ccpulse_contacts_expired_total 0.0" in client.get("/metrics").text
    for reason in ("expired_open", "late", "expired_open"):
        dead_letter(store, reason)
    text = client.get("/metrics").text
    assert "ccpulse_contacts_expired_total 2.0" in text  # the late event is a rejection, not an expiry
    assert 'ccpulse_events_rejected_total{reason="expired_open",topic="cc.contact-events"} 2.0' in text
