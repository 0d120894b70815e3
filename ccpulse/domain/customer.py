"""First-contact resolution: what a customer's contacts say about each other.

A handled contact (one with a ``customer_id``) is first-contact-resolved unless its
wrap-up said ``resolved: false`` or the same customer queued a new contact within the
FCR window after it was handled. Its FCR counts go to the interval in which it was
handled, so a later repeat contact *revises* that earlier interval – the driver sends
the difference, exactly like a contact's own revisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccpulse.domain.contact import Contributions, bucket_key

__all__ = ["fcr_contributions", "prune_customer"]


def fcr_contributions(contacts: Mapping[str, Mapping[str, Any]], window_seconds: float) -> Contributions:
    """FCR counters per bucket for a customer's contacts (``ContactFold.fcr`` records)."""
    out: Contributions = {}
    starts = sorted((rec["queued_at"], cid) for cid, rec in contacts.items() if rec.get("queued_at") is not None)
    for cid, rec in contacts.items():
        handled_at = rec.get("handled_at")
        if handled_at is None:
            continue
        repeat = any(handled_at < start <= handled_at + window_seconds and other != cid for start, other in starts)
        measures = {"fcr_handled": 1}
        if repeat:
            measures["fcr_repeat"] = 1
        if not repeat and rec.get("resolved") is not False:
            measures["fcr_resolved"] = 1
        keys = [bucket_key("queue", rec["queue_id"], handled_at), bucket_key("channel", rec["channel"], handled_at)]
        if rec.get("agent_id"):
            keys.append(bucket_key("agent", rec["agent_id"], handled_at))
        for key in keys:
            bucket = out.setdefault(key, {})
            for measure, value in measures.items():
                bucket[measure] = bucket.get(measure, 0) + value
    return out


def prune_customer(contacts: dict[str, dict[str, Any]], horizon: float) -> dict[str, dict[str, Any]]:
    """Drop contacts whose FCR can no longer change: handled (or queued) before ``horizon``.

    The driver passes ``watermark − window − lateness``: any repeat of such a contact
    would have had to arrive already.
    """
    return {
        cid: rec for cid, rec in contacts.items()
        if max(rec.get("handled_at") or 0.0, rec.get("queued_at") or 0.0) >= horizon
    }
