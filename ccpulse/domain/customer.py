"""What a customer's contacts say about each other: first-contact resolution and cases.

**First-contact resolution.** A handled contact (one with a ``customer_id``) is
first-contact-resolved unless its wrap-up said ``resolved: false`` or the same customer queued a
new contact within the FCR window after it was handled. Its FCR counts go to the interval in which
it was handled, so a later repeat contact *revises* that earlier interval – the driver sends the
difference, exactly like a contact's own revisions.

**Cases (resolution time).** A case is a customer's issue: it opens when its first contact enters
a queue; every further contact of the customer that enters a queue while the case is open joins
it. It is open while one of its contacts waits or is being handled, and for the FCR window after
its last activity (a wrap-up, or the queue entry of a contact that was never handled). It resolves

* at the first wrap-up that says ``resolved: true`` (a contact queued later starts a new case), or
* when the FCR window passes with no repeat contact: then it resolved at its last wrap-up.

The second rule is applied the way FCR is: as soon as none of the case's contacts is waiting or
being handled, the case counts as resolved at its last wrap-up; a repeat within the window joins
it and revises the figures (the resolution moves to the repeat's wrap-up). A case none of whose
contacts was ever handled (all abandoned or flowed out) never resolves and is not counted once
closed. Resolution times count in the interval in which the case resolved, under the queue,
channel and agent of the resolving contact; business time is on that queue's SLA clock.

One implementation for the live worker (``streams.processing.CustomerProcessor``) and the batch
recompute (``ccpulse.domain.batch.apply_fcr``): :func:`customer_contributions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ccpulse.domain.calendar import BusinessClock
from ccpulse.domain.contact import Contributions, bucket_key
from ccpulse.domain.intervals import AGENT_QUEUE, agent_queue

__all__ = ["Case", "ClockLookup", "case_contributions", "customer_cases", "customer_contributions",
           "fcr_contributions", "prune_customer"]

#: (queue_id, channel) -> the queue's business-hours clock, or None for wall time.
ClockLookup = Callable[[str, str], "BusinessClock | None"]

Record = Mapping[str, Any]  # a ``ContactFold.fcr`` record


def _ms(seconds: float) -> int:
    """Whole milliseconds, as every duration counter (sums stay exact in any order)."""
    return max(0, round(seconds * 1000))


def fcr_contributions(contacts: Mapping[str, Mapping[str, Any]], window_seconds: float) -> Contributions:
    """FCR counters per bucket for a customer's contacts (``ContactFold.fcr`` records)."""
    out: Contributions = {}
    starts = sorted((rec["queued_at"], cid) for cid, rec in contacts.items() if rec.get("queued_at") is not None)
    for cid, rec in contacts.items():
        handled_at = rec.get("handled_at")
        if handled_at is None:
            continue
        # The window opens when the conversation ended, not at wrap-up: a customer whose call dropped
        # and who calls back while the agent is still in ACW is a repeat.
        opened = min(handled_at, rec.get("talk_ended_at") or handled_at)
        repeat = any(opened < start <= handled_at + window_seconds and other != cid for start, other in starts)
        measures = {"fcr_handled": 1}
        if repeat:
            measures["fcr_repeat"] = 1
        if not repeat and rec.get("resolved") is not False:
            measures["fcr_resolved"] = 1
        keys = [bucket_key("queue", rec["queue_id"], handled_at), bucket_key("channel", rec["channel"], handled_at)]
        if rec.get("agent_id"):
            keys.append(bucket_key("agent", rec["agent_id"], handled_at))
            keys.append(bucket_key(AGENT_QUEUE, agent_queue(rec["agent_id"], rec["queue_id"]), handled_at))
        for key in keys:
            bucket = out.setdefault(key, {})
            for measure, value in measures.items():
                bucket[measure] = bucket.get(measure, 0) + value
    return out


# ---- cases --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One customer issue: its contacts (in queue-entry order), when it opened and how it ended."""

    contact_ids: tuple[str, ...]
    opened_at: float
    first: Record  # the contact that opened it (its queue and channel count the opening)
    resolver: Record | None  # the contact whose wrap-up resolved it; None while open / never served
    resolved_at: float | None
    open: bool  # one of its contacts is still waiting or being handled


def _activity(rec: Record) -> float:
    """A contact's last activity: its handling, else its queue entry."""
    handled = rec.get("handled_at")
    return handled if handled is not None else rec["queued_at"]


def _joins(members: list[Record], queued_at: float, window_seconds: float) -> bool:
    """Does a contact entering a queue at ``queued_at`` join the case made of ``members``?"""
    for rec in members:
        if rec.get("resolved") is True and rec.get("handled_at") is not None and rec["handled_at"] < queued_at:
            return False  # resolved before this contact came
    if any(rec.get("open") for rec in members):
        return True
    return queued_at <= max(_activity(rec) for rec in members) + window_seconds


def _close(ids: list[str], members: list[Record]) -> Case:
    resolving = [rec for rec in members if rec.get("resolved") is True and rec.get("handled_at") is not None]
    is_open = any(rec.get("open") for rec in members)
    resolver: Record | None = None
    if resolving:
        resolver = min(resolving, key=lambda r: (r["handled_at"], r["contact_id"]))
    elif not is_open:
        handled = [rec for rec in members if rec.get("handled_at") is not None]
        if handled:
            resolver = max(handled, key=lambda r: (r["handled_at"], r["contact_id"]))
    return Case(tuple(ids), members[0]["queued_at"], members[0], resolver,
                resolver["handled_at"] if resolver is not None else None, is_open and resolver is None)


def customer_cases(contacts: Mapping[str, Record], window_seconds: float) -> list[Case]:
    """A customer's contacts grouped into cases, oldest first (see the module docstring)."""
    ordered = sorted((rec["queued_at"], cid) for cid, rec in contacts.items() if rec.get("queued_at") is not None)
    cases: list[Case] = []
    ids: list[str] = []
    members: list[Record] = []
    for queued_at, cid in ordered:
        rec = {**contacts[cid], "contact_id": cid}
        if members and not _joins(members, queued_at, window_seconds):
            cases.append(_close(ids, members))
            ids, members = [], []
        ids.append(cid)
        members.append(rec)
    if members:
        cases.append(_close(ids, members))
    return cases


def _add(out: Contributions, keys: list[str], measures: Mapping[str, float]) -> None:
    for key in keys:
        bucket = out.setdefault(key, {})
        for measure, value in measures.items():
            bucket[measure] = bucket.get(measure, 0) + value


def case_contributions(contacts: Mapping[str, Record], window_seconds: float,
                       clock: ClockLookup | None = None) -> Contributions:
    """Case counters per bucket for a customer's contacts.

    In the bucket where a case opened (queue and channel of its first contact): ``cases_opened``,
    and ``cases_open`` while it is open. In the bucket where it resolved (queue, channel and
    agent of the resolving contact): ``cases_resolved``, ``case_contacts`` (its contacts),
    ``resolution_ms`` (wall) and ``resolution_business_ms`` (on that queue's SLA clock).
    """
    out: Contributions = {}
    for case in customer_cases(contacts, window_seconds):
        first = case.first
        opened_keys = [bucket_key("queue", first["queue_id"], case.opened_at),
                       bucket_key("channel", first["channel"], case.opened_at)]
        _add(out, opened_keys, {"cases_opened": 1, **({"cases_open": 1} if case.open else {})})
        resolver, resolved_at = case.resolver, case.resolved_at
        if resolver is None or resolved_at is None:
            continue
        queue, channel = resolver["queue_id"], resolver["channel"]
        business = clock(queue, channel) if clock is not None else None
        wall_ms = _ms(resolved_at - case.opened_at)
        business_ms = wall_ms if business is None else _ms(business.seconds(case.opened_at, resolved_at))
        keys = [bucket_key("queue", queue, resolved_at), bucket_key("channel", channel, resolved_at)]
        if resolver.get("agent_id"):
            keys.append(bucket_key("agent", resolver["agent_id"], resolved_at))
            keys.append(bucket_key(AGENT_QUEUE, agent_queue(resolver["agent_id"], queue), resolved_at))
        _add(out, keys, {"cases_resolved": 1, "case_contacts": len(case.contact_ids), "resolution_ms": wall_ms,
                         "resolution_business_ms": business_ms})
    return out


def customer_contributions(contacts: Mapping[str, Record], window_seconds: float,
                           clock: ClockLookup | None = None) -> Contributions:
    """Everything a customer's contacts contribute together: FCR and case counters."""
    out = fcr_contributions(contacts, window_seconds)
    for key, measures in case_contributions(contacts, window_seconds, clock).items():
        _add(out, [key], measures)
    return out


def prune_customer(contacts: dict[str, dict[str, Any]], horizon: float,
                   window_seconds: float | None = None) -> dict[str, dict[str, Any]]:
    """Drop contacts whose figures can no longer change: handled (or queued) before ``horizon``.

    The driver passes ``watermark − window − lateness``: any repeat of such a contact would have
    had to arrive already. With ``window_seconds`` whole cases are kept or dropped together (a
    case cut in two would be counted as two), so a case with one recent or open contact keeps
    all of its contacts.
    """
    def recent(rec: Mapping[str, Any]) -> bool:
        return max(rec.get("handled_at") or 0.0, rec.get("queued_at") or 0.0) >= horizon

    if window_seconds is None:
        return {cid: rec for cid, rec in contacts.items() if recent(rec)}
    keep: set[str] = {cid for cid, rec in contacts.items() if rec.get("queued_at") is None and recent(rec)}
    for case in customer_cases(contacts, window_seconds):
        # A case with a contact still open is kept whole even when another member resolved it: the open
        # contact's next record (answered days later, or expired) must find its case, not open a new one.
        if case.open or any(recent(contacts[cid]) or contacts[cid].get("open") for cid in case.contact_ids):
            keep.update(case.contact_ids)
    return {cid: rec for cid, rec in contacts.items() if cid in keep}
