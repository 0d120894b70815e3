"""Turning read-model rows into figures and API responses (derivations only; rules live in ccpulse.domain).

Pure functions of a :class:`~ccpulse.readmodel.state.ReadModel` (or anything that reads like one:
the API's view limited to a token's queues), so the API and ``ccpulse recompute`` (which compares
the rows served now with the rows a recompute would serve) derive the same figures.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ccpulse.csv_safety import csv_cell
from ccpulse.domain.buckets import interval_figures, longest_wait, merge_buckets, rollup, sum_counters
from ccpulse.domain.intervals import (AGENT_QUEUE, BUCKET_SECONDS, bucket_start, bucket_starts, interval_end, interval_start, iso,
                                      split_agent_queue)
from ccpulse.domain.live import queue_live
from ccpulse.domain.profiles import profile_rows
from ccpulse.domain.staffing import staffing_for_interval
from ccpulse.settings import QueueSettings, Settings

if TYPE_CHECKING:  # the state module sums series with ``merged_series`` from here
    from ccpulse.readmodel.state import ReadModel

log = logging.getLogger("ccpulse.readmodel")

__all__ = [
    "SURVEY_FIELDS", "QueueFigures", "agent_view", "queue_figures", "mask", "centre_live", "open_cases", "csv_cell", "csv_text", "entity_profile", "entity_rows", "iter_queue_views",
    "entity_series", "interval_rows", "merged_series", "mixed_sla",
    "queue_views", "recent_contacts", "select_queues", "series_rows", "staffing_view", "summary_view", "survey_rows", "team_agents",
    "window_row",
]

Series = Mapping[int, Mapping[str, Any]]  # bucket start -> {"c": counters, "max_wait_ms": ...}

#: The survey and QA figures of ``GET /api/v1/surveys`` (a subset of the interval figures).
SURVEY_FIELDS: tuple[str, ...] = ("csat", "csat_mean", "csat_responses", "nps", "nps_responses",
                                  "ces", "ces_easy", "ces_responses", "qa_score", "qa_count")


# ---- SLA settings of a series -----------------------------------------------------------------
def mixed_sla(settings: Settings) -> QueueSettings:
    """SLA settings for rows that mix queues (agent, team, centre): the voice channel default.

    Their ``answered_within_sl`` was already counted with each contact's own queue threshold;
    only the formula and the target (and the threshold shown) come from these settings.
    """
    return settings.channels["voice"]


def queue_sla(store: ReadModel, queue_id: str) -> QueueSettings:
    return store.settings.queue(queue_id, store.queue_channel(queue_id))


# ---- series ------------------------------------------------------------------------------------
def merged_series(series: Iterable[Series]) -> dict[int, dict[str, Any]]:
    """Several series summed bucket by bucket (same start = same bucket): a team, the centre."""
    by_start: dict[int, list[Mapping[str, Any]]] = {}
    for one in series:
        for start, bucket in list(one.items()):  # a copy taken in C: see entity_series
            by_start.setdefault(start, []).append(bucket)
    out = {}
    for start, buckets in by_start.items():
        counters, max_wait = merge_buckets(buckets)
        out[start] = {"c": counters, "max_wait_ms": max_wait}
    return out


def _row(start: float, end: float, granularity: str, counters: Mapping[str, int], max_wait: int | None,
         sla: QueueSettings) -> dict[str, Any]:
    return {"interval_start": iso(start), "interval_end": iso(end), "granularity": granularity,
            **interval_figures(counters, max_wait, sla)}


def series_rows(series: Series, sla: QueueSettings, granularity: str, zone: Any, start: float, end: float) -> list[dict[str, Any]]:
    """The intervals of ``granularity`` overlapping [start, end) that have data."""
    return [_row(s, e, granularity, counters, max_wait, sla)
            for s, e, counters, max_wait in rollup(series, granularity, zone, start, end)]


def team_agents(store: ReadModel, team: str) -> list[str]:
    """Agents whose current row names ``team`` (a team is its agents now, not at the time)."""
    return sorted(agent_id for agent_id, row in list(store.agents.items()) if row.get("team") == team)


def entity_rows(store: ReadModel, dimension: str, entity: str, granularity: str, start: float, end: float) -> list[dict[str, Any]]:
    """Interval rows of a queue, agent, team or channel (the entity is known to exist)."""
    series, sla = entity_series(store, dimension, entity)
    return series_rows(series, sla, granularity, store.settings.zone, start, end)


def entity_profile(store: ReadModel, dimension: str, entity: str | None, by: str, start: float,
                   end: float) -> list[dict[str, Any]]:
    """Weekday or hour-of-day profile of a queue, agent, team, channel or (``centre``) all queues."""
    series, sla = entity_series(store, dimension, entity or "")
    return profile_rows(series, by, store.settings.zone, start, end, sla)


def entity_series(store: ReadModel, dimension: str, entity: str) -> tuple[Series, QueueSettings]:
    """The 15-minute series of a queue, agent, team, channel or the centre, and the SLA settings
    its figures use.

    The series is a copy, so that a worker thread may roll it up while the event loop goes on
    applying read-model rows: ``dict(live)`` and ``list(live.items())`` copy in C without letting
    go of the GIL, and the store replaces a bucket's row rather than changing it in place.
    """
    if dimension == "centre":
        return (store.centre_series(), mixed_sla(store.settings))
    if dimension == "team":
        return (merged_series(store.intervals.get(("agent", a), {}) for a in team_agents(store, entity)),
                mixed_sla(store.settings))
    if dimension == "queue":
        sla = queue_sla(store, entity)
    elif dimension == "channel":
        sla = store.settings.channels.get(entity, mixed_sla(store.settings))
    elif dimension == "agent":
        sla = mixed_sla(store.settings)
    elif dimension == AGENT_QUEUE:  # an agent's work on one queue (docs/metrics.md): that queue's SLA settings
        sla = queue_sla(store, split_agent_queue(entity)[1])
    else:
        raise ValueError(f"unknown dimension {dimension!r}")
    return dict(store.intervals.get((dimension, entity), {})), sla


def interval_rows(store: ReadModel, queue_id: str, granularity: str, start: float, end: float) -> list[dict[str, Any]]:
    """The queue's intervals of ``granularity`` overlapping [start, end) that have data."""
    return entity_rows(store, "queue", queue_id, granularity, start, end)


def window_row(store: ReadModel, keys: Sequence[tuple[str, str]], sla: QueueSettings, granularity: str,
               now: float) -> dict[str, Any]:
    """The row of the interval of ``granularity`` ("15m" or "1d") holding ``now``, for the series
    ``keys`` summed: a 15-minute bucket as it is, a day from the store's running sums
    (ccpulse/readmodel/totals.py), so that no read merges a series' whole history. A day's
    longest wait of queues comes from the store's per-queue cache (``day_longest_wait``)."""
    zone = store.settings.zone
    start = interval_start(now, granularity, zone)
    end = interval_end(start, granularity, zone)
    if granularity == "1d":
        counters = sum_counters(store.totals.day(key, int(start)) for key in keys)
        waits = [store.day_longest_wait(k, int(start)) if d == "queue" else
                 longest_wait(b for b in map(store.intervals.get((d, k), {}).get, bucket_starts(start, "1d", zone))
                              if b is not None) for d, k in keys]
        return _row(start, end, granularity, counters, max((w for w in waits if w is not None), default=None), sla)
    present = [b for key in keys for b in map(store.intervals.get(key, {}).get, bucket_starts(start, granularity, zone))
               if b is not None]
    return _row(start, end, granularity, sum_counters(b["c"] for b in present), longest_wait(present), sla)


# ---- queues --------------------------------------------------------------------------------------
def open_cases(counters: Mapping[str, int]) -> int:
    """Cases open now, from the counters of all retained intervals summed: those still open among
    the cases opened in them."""
    return max(0, counters.get("cases_open", 0))


def staffing_view(series: Series, sla: QueueSettings, agents_staffed_now: int, now: float) -> dict[str, Any] | None:
    """Erlang C staffing from the queue's last *completed* 15-minute interval, plus who is staffed now.

    None (not a 500) if the interval's counters are unusable (e.g. negative after a bad row)."""
    start = bucket_start(now) - BUCKET_SECONDS
    bucket = series.get(int(start))
    counters, max_wait = merge_buckets([bucket] if bucket is not None else [])
    figures = interval_figures(counters, max_wait, sla)
    try:
        model = staffing_for_interval(
            offered=figures["offered"],
            interval_seconds=BUCKET_SECONDS,
            handled=figures["handled"],
            handle_seconds_total=figures["handle_seconds_total"] or 0.0,
            threshold_seconds=sla.sl_threshold_seconds,
            target=sla.sl_target,
        )
    except ValueError as exc:
        log.warning("no staffing for the interval at %s: %s", iso(start), exc)
        return None
    return {"interval_start": iso(start), "interval_end": iso(start + BUCKET_SECONDS), **model,
            "agents_staffed_now": agents_staffed_now}


def select_queues(store: ReadModel, queue_ids: Iterable[str] = (), group: str | None = None,
                  team: str | None = None, site: str | None = None) -> frozenset[str] | None:
    """The queues matching every filter given (None when none is given: every queue).

    ``group`` is the queue's configured group; ``team`` and ``site`` select the queues staffed
    now by an agent of that team or site."""
    wanted = set(queue_ids)
    if not (wanted or group or team or site):
        return None
    selected = set(store.queue_ids())
    if wanted:
        selected &= wanted
    if group is not None:
        selected = {q for q in selected if store.settings.queue(q, store.queue_channel(q)).group == group}
    for field, value in (("team", team), ("site", site)):
        if value is not None:
            staffed = {q for row in store.agents.values() if row.get(field) == value for q in row.get("queue_ids") or ()}
            selected &= staffed
    return frozenset(selected)


@dataclass(frozen=True)
class QueueFigures:
    """What a queue's view derives from its interval rows at the 15-minute bucket of now (cached
    by ``ReadModel.queue_figures``; nothing here depends on the contacts and agents now)."""

    channel: str
    sla: QueueSettings
    current_interval: dict[str, Any]
    today: dict[str, Any]
    staffing: dict[str, Any] | None  # its ``agents_staffed_now`` is filled in at read time
    open_cases: int


def queue_figures(store: ReadModel, queue_id: str, channel: str, now: float) -> QueueFigures:
    """A queue's figures of the interval rows (those of ``queue_views`` but its live state)."""
    sla = store.settings.queue(queue_id, channel)
    key = ("queue", queue_id)
    return QueueFigures(channel, sla, window_row(store, [key], sla, "15m", now), window_row(store, [key], sla, "1d", now),
                        staffing_view(store.intervals.get(key, {}), sla, 0, now), open_cases(store.totals.total(key)))


def queue_views(store: ReadModel, now: float | None = None, only: str | None = None,
                among: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """Live state, current 15-minute interval, today's figures and staffing of every queue (or one,
    or those ``among`` a selection)."""
    return list(iter_queue_views(store, now, only, among))


def iter_queue_views(store: ReadModel, now: float | None = None, only: str | None = None,
                     among: frozenset[str] | None = None) -> Iterator[dict[str, Any]]:
    """:func:`queue_views` one queue at a time: the live state of all of them is counted first, in
    one pass, so a caller may hand the event loop back between two queues (``api.deps.paced``).

    The figures of the rows come from the store's per-queue cache (``ReadModel.queue_figures``)
    and the live state from its count of every queue (``ReadModel.queue_live``); only what
    depends on ``now`` (the wait so far) is worked out here."""
    now = store.event_now() if now is None else now
    ids = [only] if only else [q for q in store.queue_ids() if among is None or q in among]
    live = store.queue_live()
    for queue_id in ids:
        figures = store.queue_figures(queue_id, now)
        channel, sla = figures.channel, figures.sla
        counted = live.get(queue_id) or queue_live([queue_id], (), ())[queue_id]
        state = {**counted, "waiting_by_channel": dict(counted["waiting_by_channel"]), "agents": dict(counted["agents"])}
        oldest = state.pop("oldest_queued_at")
        state.pop("queue_id", None)
        yield {
            "queue_id": queue_id,
            "name": sla.name or queue_id,
            "group": sla.group,
            "channel": channel,
            "sl_threshold_seconds": sla.sl_threshold_seconds,
            "sl_target": sla.sl_target,
            "sl_formula": sla.sl_formula,
            "live": {**state, "oldest_queued_at": iso(oldest) if oldest is not None else None,
                     "longest_wait_seconds": round(max(0.0, now - oldest), 3) if oldest is not None else None,
                     "open_cases": figures.open_cases},
            "current_interval": dict(figures.current_interval),
            "today": dict(figures.today),
            "staffing": None if figures.staffing is None else {**figures.staffing,
                                                               "agents_staffed_now": state["agents_staffed"]},
        }


# ---- the centre ------------------------------------------------------------------------------------
_CENTRE = "\x00centre"


def centre_live(contacts: Iterable[Mapping[str, Any]], agents: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Live figures of the whole centre: each waiting contact and each logged-in agent counted once
    (an agent staffed on several queues counts once, not once per queue). Same rules as ``queue_live``."""
    everything = queue_live(
        [_CENTRE],
        ({**row, "queue_id": _CENTRE} for row in contacts if row.get("queue_id") is not None),
        ({**row, "queue_ids": [_CENTRE]} for row in agents),
    )[_CENTRE]
    everything.pop("queue_id", None)
    return everything


def summary_view(store: ReadModel, now: float | None = None) -> dict[str, Any]:
    """Centre-wide live figures, current 15-minute interval and today (sums of all queues' counters,
    then the formulas), and each channel's current interval."""
    now = store.event_now() if now is None else now
    live = dict(store.centre_live())
    live["waiting_by_channel"], live["agents"] = dict(live["waiting_by_channel"]), dict(live["agents"])
    oldest = live.pop("oldest_queued_at")
    queues = [key for key in store.intervals if key[0] == "queue"]
    sla = mixed_sla(store.settings)
    channels = [
        {"channel": channel, "waiting": live["waiting_by_channel"].get(channel, 0),
         "current_interval": window_row(store, [("channel", channel)], channel_sla, "15m", now)}
        for channel, channel_sla in store.settings.channels.items() if channel in ("voice", "chat", "email")
    ]
    return {
        "generated_at": iso(now),
        "timezone": store.settings.timezone,
        "live": {**live, "oldest_queued_at": iso(oldest) if oldest is not None else None,
                 "longest_wait_seconds": round(max(0.0, now - oldest), 3) if oldest is not None else None,
                 "open_cases": open_cases({"cases_open": sum(store.totals.total(key).get("cases_open", 0) for key in queues)})},
        "current_interval": window_row(store, queues, sla, "15m", now),
        "today": window_row(store, queues, sla, "1d", now),
        "channels": channels,
    }


def survey_rows(store: ReadModel, queue_id: str | None, agent_id: str | None, granularity: str,
                start: float, end: float) -> list[dict[str, Any]]:
    """Survey and QA figures per interval of a queue, an agent, or the whole centre (all queues)."""
    if queue_id is not None:
        series, _ = entity_series(store, "queue", queue_id)
    elif agent_id is not None:
        series, _ = entity_series(store, "agent", agent_id)
    else:
        series, _ = entity_series(store, "centre", "")
    rows = series_rows(series, mixed_sla(store.settings), granularity, store.settings.zone, start, end)
    keep = ("interval_start", "interval_end", "granularity", *SURVEY_FIELDS)
    return [{k: row[k] for k in keep} for row in rows]


# ---- contacts ------------------------------------------------------------------------------------
def mask(value: str | None) -> str | None:
    """``cust-47`` -> ``c***7``: first and last character only (``***`` when too short to keep any)."""
    if value is None:
        return None
    text = str(value)
    return "***" if len(text) < 3 else f"{text[0]}***{text[-1]}"


def _iso_or_none(t: float | None) -> str | None:
    return None if t is None else iso(t)


def recent_contacts(store: ReadModel, *, queue_id: str | None = None, agent_id: str | None = None,
                    channel: str | None = None, outcome: str | None = None, breached: bool | None = None,
                    max_csat: int | None = None, limit: int = 50,
                    customer_ids: bool = False) -> tuple[list[dict[str, Any]], int]:
    """The newest contacts (by ``updated_at``, then id) matching every filter given; (rows, matches).
    Customer ids are masked unless ``customer_ids``; for a queue-limited store, so are the ids of
    agents it cannot see (one re-staffed to another client since), and filtering by one finds nothing."""
    visible = getattr(store, "agent_visible", None)

    def shown_agent(agent: str | None) -> str | None:
        return agent if agent is None or visible is None or visible(agent) else mask(agent)

    if agent_id is not None and visible is not None and not visible(agent_id):
        return [], 0
    rows = [
        row for row in store.recent.values()
        if (queue_id is None or row.get("queue_id") == queue_id)
        and (agent_id is None or row.get("agent_id") == agent_id)
        and (channel is None or row.get("channel") == channel)
        and (outcome is None or row.get("outcome") == outcome)
        and (breached is None or bool(row.get("breached")) == breached)
        and (max_csat is None or (row.get("csat") is not None and row["csat"] <= max_csat))
    ]
    rows.sort(key=lambda r: (r.get("updated_at") or 0.0, r["contact_id"]), reverse=True)
    out = []
    for row in rows[:limit]:
        out.append({
            "contact_id": row["contact_id"],
            "customer_id": row.get("customer_id") if customer_ids else mask(row.get("customer_id")),
            "channel": row.get("channel") or "voice",
            "queue_id": row.get("queue_id"),
            "agent_id": shown_agent(row.get("agent_id")),
            "queued_at": _iso_or_none(row.get("queued_at")),
            "wait_seconds": row.get("wait_seconds"),
            "breached": bool(row.get("breached")),
            "outcome": row.get("outcome") or "waiting",
            "handled_at": _iso_or_none(row.get("handled_at")),
            "resolved": row.get("resolved"),
            "csat": row.get("csat"),
            "nps": row.get("nps"),
            "ces": row.get("ces"),
            "comment": row.get("comment"),
            "updated_at": iso(row.get("updated_at") or 0.0),
        })
    return out, len(rows)


# ---- agents --------------------------------------------------------------------------------------
def agent_view(row: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        "agent_id": row["agent_id"],
        "state": row["state"],
        "reason": row.get("reason"),
        "since": iso(row["since"]),
        "time_in_state_seconds": round(max(0.0, now - row["since"]), 3),
        "queue_ids": row.get("queue_ids") or [],
        "team": row.get("team"),
        "site": row.get("site"),
    }


# ---- exports -------------------------------------------------------------------------------------
def csv_text(id_column: str, entity_id: str | None, fields: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV of interval rows: a header (``id_column`` then ``fields``), one line per row; null is empty.
    Every text cell goes through :func:`csv_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(id_column), *map(csv_cell, fields)])
    for row in rows:
        writer.writerow([csv_cell(entity_id or ""), *(csv_cell(row[f]) for f in fields)])
    return out.getvalue()
