"""Real-time SLA breach rules and the alert lifecycle, as pure functions.

Per queue, :func:`evaluate_queue` turns a snapshot (who waits since when, staffed
agents, the current and rolling 30-minute counters) into conditions; :func:`step`
runs one rule's lifecycle: ``firing`` once the condition has held ``for_seconds``,
``resolved`` once it has been clear ``clear_seconds`` — so a value hovering around
a threshold does not flap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccpulse.domain import formulas
from ccpulse.domain.calendar import BusinessClock
from ccpulse.settings import QueueSettings

__all__ = ["Condition", "QueueSnapshot", "RULES", "breach_at", "evaluate_queue", "step", "wait_on_clock"]

#: rule -> (severity, what it means)
RULES: dict[str, tuple[str, str]] = {
    "contact_waiting_over_threshold": ("warning", "a contact has waited longer than the service-level threshold"),
    "longest_wait_warning": ("warning", "the longest wait is above the warning level"),
    "longest_wait_critical": ("critical", "the longest wait is above the critical level"),
    "sl_below_target": ("critical", "service level of the current interval is below target"),
    "sl_below_target_30m": ("warning", "service level of the last 30 minutes is below target"),
    "no_agents_available": ("critical", "contacts are waiting and no agent is staffed on the queue"),
    "abandon_rate_high": ("warning", "abandon rate of the current interval is above its limit"),
}


@dataclass(frozen=True)
class QueueSnapshot:
    queue_id: str
    waiting_since: tuple[float, ...]  # queue-entry times of the contacts waiting now
    agents_staffed: int
    current: Mapping[str, int] = field(default_factory=dict)  # counters of the current 15-minute interval
    rolling_30m: Mapping[str, int] = field(default_factory=dict)  # counters of the last 30 minutes


@dataclass(frozen=True)
class Condition:
    rule: str
    active: bool
    value: float | None
    threshold: float


def _sl(counters: Mapping[str, int], sla: QueueSettings) -> tuple[float | None, int]:
    answered, abandoned, short = counters.get("answered", 0), counters.get("abandoned", 0), counters.get("short_abandoned", 0)
    value = formulas.service_level(
        sla.sl_formula, answered=answered, abandoned=abandoned, short_abandoned=short,
        answered_within=counters.get("answered_within_sl", 0), abandoned_within=counters.get("abandoned_within_sl", 0),
    )
    return value, answered + abandoned - short


def wait_on_clock(since: float, now: float, clock: BusinessClock | None) -> float:
    """How long a contact waiting since ``since`` has waited at ``now`` on its queue's SLA clock
    (open hours only with a business-hours clock; so an email waits nothing overnight)."""
    return now - since if clock is None else clock.seconds(since, now)


def breach_at(since: float, threshold: float, clock: BusinessClock | None) -> float | None:
    """The instant a contact waiting since ``since`` reaches the threshold on its queue's clock: it
    is breached from just after that instant (None: never, a calendar that never opens)."""
    return since + threshold if clock is None else clock.deadline(since, threshold)


def evaluate_queue(snapshot: QueueSnapshot, sla: QueueSettings, now: float,
                   clock: BusinessClock | None = None) -> list[Condition]:
    """Every rule's condition for one queue at (event-)time ``now``.

    Waits (threshold, longest wait) are measured on the queue's SLA clock: ``clock`` is its
    business-hours clock, or None for wall time.
    """
    waits = [wait_on_clock(since, now, clock) for since in snapshot.waiting_since]
    longest = max(waits, default=0.0)
    over = sum(1 for w in waits if w > sla.sl_threshold_seconds)
    warning = sla.longest_wait_warning_seconds or 2 * sla.sl_threshold_seconds
    critical = sla.longest_wait_critical_seconds or 4 * sla.sl_threshold_seconds
    sl_now, counted_now = _sl(snapshot.current, sla)
    sl_30, counted_30 = _sl(snapshot.rolling_30m, sla)
    c = snapshot.current
    rate = formulas.abandon_rate(answered=c.get("answered", 0), abandoned=c.get("abandoned", 0),
                                 short_abandoned=c.get("short_abandoned", 0))
    enough = sla.alert_min_contacts
    return [
        Condition("contact_waiting_over_threshold", over > 0, float(over), sla.sl_threshold_seconds),
        Condition("longest_wait_warning", longest > warning, longest, warning),
        Condition("longest_wait_critical", longest > critical, longest, critical),
        Condition("sl_below_target", sl_now is not None and counted_now >= enough and sl_now < sla.sl_target, sl_now, sla.sl_target),
        Condition("sl_below_target_30m", sl_30 is not None and counted_30 >= enough and sl_30 < sla.sl_target, sl_30, sla.sl_target),
        Condition("no_agents_available", bool(waits) and snapshot.agents_staffed == 0, float(len(waits)), 0.0),
        Condition("abandon_rate_high", rate is not None and counted_now >= enough and rate > sla.abandon_rate_limit, rate, sla.abandon_rate_limit),
    ]


def step(track: dict[str, Any] | None, queue_id: str, condition: Condition, now: float,
         for_seconds: float, clear_seconds: float) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Advance one (queue, rule) lifecycle; returns (new track, alert record to publish or None).

    A record is returned only on a transition — firing once, resolved once.
    """
    track = dict(track or {"active_since": None, "clear_since": None, "alert": None})
    alert = track["alert"]
    if condition.active:
        track["clear_since"] = None
        track["active_since"] = track["active_since"] if track["active_since"] is not None else now
        if alert is not None:
            track["alert"] = {**alert, "value": condition.value}
            return track, None
        if now - track["active_since"] >= for_seconds:
            severity, meaning = RULES[condition.rule]
            started = track["active_since"]
            track["alert"] = {
                "id": f"{queue_id}:{condition.rule}:{int(started)}",
                "state": "firing",
                "severity": severity,
                "queue_id": queue_id,
                "rule": condition.rule,
                "summary": f"{queue_id}: {meaning}",
                "value": condition.value,
                "threshold": condition.threshold,
                "started_at": started,
                "resolved_at": None,
            }
            return track, track["alert"]
        return track, None
    track["active_since"] = None
    if alert is None:
        return track, None
    track["clear_since"] = track["clear_since"] if track["clear_since"] is not None else now
    if now - track["clear_since"] >= clear_seconds:
        resolved = {**alert, "state": "resolved", "resolved_at": now, "value": condition.value}
        track["alert"], track["clear_since"] = None, None
        return track, resolved
    return track, None
