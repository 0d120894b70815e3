"""15-minute interval buckets: applying contributions, rolling up, deriving figures.

A bucket is a JSON-ready dict::

    {"c": {measure: int}, "tops": [[wait_ms, visit], ...], "hwm": {source: [offset, index]}}

``c`` holds additive integer counters (see ``ccpulse.domain.contact``), ``tops`` the
longest waits (for the max wait, which a sum cannot carry), ``hwm`` the highest
(source offset, index) already applied from each source partition, which makes
applying a redelivered delta a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo
from typing import Any

from ccpulse.domain import formulas
from ccpulse.domain.contact import TOP_PREFIX
from ccpulse.domain.intervals import interval_end, interval_start
from ccpulse.settings import QueueSettings

__all__ = ["ASA_BUSINESS_MEASURES", "MEASURES", "asa_business_seconds", "dominant_channel", "TOP_KEEP", "apply_delta", "interval_figures", "longest_wait", "merge_buckets", "new_bucket",
           "rollup", "sum_counters"]

#: Longest waits kept per bucket; only this many retractions of top waits stay exact.
TOP_KEEP = 16

#: Every additive counter a bucket can hold.
MEASURES: tuple[str, ...] = (
    "offered", "offered_voice", "offered_chat", "offered_email", "answered", "abandoned", "short_abandoned", "flowed_out", "expired",
    "answered_within_sl", "abandoned_within_sl", "wait_answered_ms", "wait_abandoned_ms",
    "handled", "talk_ms", "hold_ms", "acw_ms", "hold_count", "transfers",
    "csat_responses", "csat_satisfied", "csat_dissatisfied", "csat_score_milli",
    "nps_responses", "nps_promoters", "nps_detractors",
    "ces_responses", "ces_easy", "ces_difficult", "ces_score_milli",
    "qa_count", "qa_score_milli",
    "fcr_handled", "fcr_resolved", "fcr_repeat",
    "time_available_ms", "time_on_contact_ms", "time_after_contact_work_ms", "time_away_ms",
    "wait_answered_business_ms", "wait_abandoned_business_ms",
    "cases_opened", "cases_open", "cases_resolved", "case_contacts", "resolution_ms", "resolution_business_ms",
)


def new_bucket() -> dict[str, Any]:
    return {"c": {}, "tops": [], "hwm": {}}


def apply_delta(bucket: dict[str, Any] | None, delta: Mapping[str, Any], source: str, seq: tuple[int, int]) -> tuple[dict[str, Any], bool]:
    """Apply one delta from ``source`` at position ``seq``; returns (bucket, applied?).

    Deltas from one source partition arrive in order, so anything at or below the
    high-water mark was already applied (a redelivery after a restart) and is skipped.
    """
    bucket = bucket if bucket is not None else new_bucket()
    mark = bucket["hwm"].get(source)
    if mark is not None and tuple(mark) >= seq:
        return bucket, False
    counters: dict[str, int] = bucket["c"]
    tops: dict[str, int] | None = None  # built only when the delta carries waits
    for measure, value in delta.items():
        if measure.startswith(TOP_PREFIX):
            if tops is None:
                tops = {visit: wait for wait, visit in bucket["tops"]}
            visit = measure[len(TOP_PREFIX):]
            if value is None:
                tops.pop(visit, None)
            else:
                tops[visit] = value
        else:
            total = counters.get(measure, 0) + value
            if total:
                counters[measure] = total
            else:
                counters.pop(measure, None)
    if tops is not None:
        # Longest first, then by visit: sorting (-wait, visit) pairs needs no key function (visits are unique).
        bucket["tops"] = [[-w, v] for w, v in sorted([(-w, v) for v, w in tops.items()])[:TOP_KEEP]]
    bucket["hwm"][source] = list(seq)
    return bucket, True


def merge_buckets(buckets: Iterable[Mapping[str, Any]]) -> tuple[dict[str, int], int | None]:
    """Sum the counters of several buckets or interval rows; returns (counters, max wait ms)."""
    counters: dict[str, int] = {}
    max_wait: int | None = None
    for bucket in buckets:  # one pass: profiles and rollups merge many buckets
        for measure, value in bucket["c"].items():
            counters[measure] = counters.get(measure, 0) + value
        top = _top(bucket)
        if top is not None:
            max_wait = top if max_wait is None else max(max_wait, top)
    return counters, max_wait


def _top(bucket: Mapping[str, Any]) -> int | None:
    """A bucket's (or row's) longest wait in ms."""
    return bucket["max_wait_ms"] if "max_wait_ms" in bucket else (bucket["tops"][0][0] if bucket["tops"] else None)


def sum_counters(counters: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Several sets of counters added measure by measure."""
    return merge_buckets({"c": one, "max_wait_ms": None} for one in counters)[0]


def longest_wait(buckets: Iterable[Mapping[str, Any]]) -> int | None:
    """The longest wait (ms) of several buckets or interval rows: the largest of theirs (None: none)."""
    return max((top for top in map(_top, buckets) if top is not None), default=None)


def dominant_channel(counters: Mapping[str, int]) -> str | None:
    """The channel most offered in these counters (a queue's channel), None if nothing was offered."""
    offered = {ch: counters.get(f"offered_{ch}", 0) for ch in ("voice", "chat", "email")}
    best = max(offered, key=lambda ch: offered[ch])
    return best if offered[best] else None


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000.0, 3)


#: The counters ``asa_business_seconds`` reads.
ASA_BUSINESS_MEASURES: tuple[str, ...] = ("wait_answered_business_ms", "answered")


def asa_business_seconds(counters: Mapping[str, int]) -> float | None:
    """Mean wait of the answered contacts on the queue's SLA clock — the response time of a profile
    (for email: time to first response in business hours). Its own function so that the scrape's
    profiles derive it from their sums without every other figure of ``interval_figures``."""
    return _seconds(formulas.mean(counters.get("wait_answered_business_ms", 0), counters.get("answered", 0)))


def interval_figures(counters: Mapping[str, int], max_wait_ms: int | None, sla: QueueSettings) -> dict[str, Any]:
    """Every figure of an interval row, derived from its counters with the pure formulas."""
    c = {m: counters.get(m, 0) for m in MEASURES}
    answered, abandoned, short = c["answered"], c["abandoned"], c["short_abandoned"]
    handled = c["handled"]
    handle_ms = c["talk_ms"] + c["hold_ms"] + c["acw_ms"]
    return {
        "offered": c["offered"],
        "answered": answered,
        "abandoned": abandoned,
        "short_abandoned": short,
        "flowed_out": c["flowed_out"],
        "expired": c["expired"],
        "answered_within_sl": c["answered_within_sl"],
        "abandoned_within_sl": c["abandoned_within_sl"],
        "service_level": formulas.service_level(
            sla.sl_formula,
            answered=answered,
            abandoned=abandoned,
            short_abandoned=short,
            answered_within=c["answered_within_sl"],
            abandoned_within=c["abandoned_within_sl"],
        ),
        "sl_threshold_seconds": sla.sl_threshold_seconds,
        "sl_target": sla.sl_target,
        "abandon_rate": formulas.abandon_rate(answered=answered, abandoned=abandoned, short_abandoned=short),
        "asa_seconds": _seconds(formulas.mean(c["wait_answered_ms"], answered)),
        "avg_abandon_seconds": _seconds(formulas.mean(c["wait_abandoned_ms"], abandoned)),
        "asa_business_seconds": asa_business_seconds(c),
        "avg_abandon_business_seconds": _seconds(formulas.mean(c["wait_abandoned_business_ms"], abandoned)),
        "max_wait_seconds": _seconds(max_wait_ms),
        "handled": handled,
        "aht_seconds": _seconds(formulas.mean(handle_ms, handled)),
        "avg_talk_seconds": _seconds(formulas.mean(c["talk_ms"], handled)),
        "avg_hold_seconds": _seconds(formulas.mean(c["hold_ms"], handled)),
        "avg_acw_seconds": _seconds(formulas.mean(c["acw_ms"], handled)),
        "hold_count": c["hold_count"],
        "transfers": c["transfers"],
        "handle_seconds_total": _seconds(handle_ms),
        "wait_seconds_total": _seconds(c["wait_answered_ms"] + c["wait_abandoned_ms"]),
        "csat": formulas.ratio(c["csat_satisfied"], c["csat_responses"]),
        "csat_mean": _milli(formulas.mean(c["csat_score_milli"], c["csat_responses"])),
        "csat_responses": c["csat_responses"],
        "nps": formulas.nps_score(promoters=c["nps_promoters"], detractors=c["nps_detractors"], responses=c["nps_responses"]),
        "nps_responses": c["nps_responses"],
        "ces": _milli(formulas.mean(c["ces_score_milli"], c["ces_responses"])),
        "ces_easy": formulas.ratio(c["ces_easy"], c["ces_responses"]),
        "ces_responses": c["ces_responses"],
        "survey_responses": c["csat_responses"] + c["nps_responses"] + c["ces_responses"],
        "qa_score": _milli(formulas.mean(c["qa_score_milli"], c["qa_count"])),
        "qa_count": c["qa_count"],
        "fcr_rate": formulas.ratio(c["fcr_resolved"], c["fcr_handled"]),
        "repeat_rate": formulas.ratio(c["fcr_repeat"], c["fcr_handled"]),
        "fcr_handled": c["fcr_handled"],
        "cases_opened": c["cases_opened"],
        "cases_open": c["cases_open"],
        "cases_resolved": c["cases_resolved"],
        "avg_resolution_seconds": _seconds(formulas.mean(c["resolution_ms"], c["cases_resolved"])),
        "avg_resolution_business_seconds": _seconds(formulas.mean(c["resolution_business_ms"], c["cases_resolved"])),
        "contacts_per_case": formulas.mean(c["case_contacts"], c["cases_resolved"]),
        **agent_time_figures(c),
    }


def agent_time_figures(c: Mapping[str, int]) -> dict[str, Any]:
    """Time in state, occupancy and utilization (only agent buckets carry time)."""
    times = {state: c.get(f"time_{state}_ms", 0) for state in ("available", "on_contact", "after_contact_work", "away")}
    return {
        **{f"{state}_seconds": _seconds(ms) for state, ms in times.items()},
        "occupancy": formulas.occupancy(available=times["available"], on_contact=times["on_contact"],
                                        after_contact_work=times["after_contact_work"]),
        "utilization": formulas.utilization(**times),
    }


def _milli(value: float | None) -> float | None:
    return None if value is None else round(value / 1000.0, 3)


def rollup(
    buckets: Mapping[int, Mapping[str, Any]], granularity: str, zone: ZoneInfo, start: float, end: float
) -> list[tuple[float, float, dict[str, int], int | None]]:
    """Group 15-minute buckets (by start) into ``granularity`` intervals overlapping [start, end).

    Returns (interval start, interval end, summed counters, max wait ms) per interval
    that has data, in time order. Sums of counters, never averages of ratios.
    """
    groups: dict[float, list[Mapping[str, Any]]] = {}
    for bucket_start_, bucket in buckets.items():
        group = interval_start(bucket_start_, granularity, zone)
        if interval_end(group, granularity, zone) > start and group < end:
            groups.setdefault(group, []).append(bucket)
    out = []
    for group in sorted(groups):
        counters, max_wait = merge_buckets(groups[group])
        out.append((group, interval_end(group, granularity, zone), counters, max_wait))
    return out
