"""Response models of the read API (snake_case, RFC 3339 times, ``_seconds`` durations, 0–1 ratios)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from ccpulse.domain.retention import RETENTION_FIELDS

__all__ = [
    "AgentIntervals", "AgentList", "AgentRow", "CentreLive", "ChannelIntervals", "ChannelSummary", "ErrorResponse",
    "Health", "IngestResponse", "IngestResult", "IntervalList", "IntervalRow", "IntervalSeries", "Profile", "ProfileRow",
    "QueueIntervals", "QueueLive", "QueueList", "QueueView",
    "RecentContact", "RecentList", "RetentionList", "RetentionRow", "Staffing", "Summary", "SurveyList", "SurveyRow",
    "TeamIntervals",
]

Granularity = Literal["15m", "1h", "1d", "1mo", "1y"]
Channel = Literal["voice", "chat", "email"]

_SL_MIXED = ("Agent, team and centre rows: each contact was counted within the threshold of its own queue; "
             "the formula, threshold and target shown are the voice channel default's.")


class ErrorResponse(BaseModel):
    detail: str = Field(examples=["unknown queue 'nope'"])


class Health(BaseModel):
    status: Literal["ok", "not_ready"]
    reason: str | None = None
    rows: int = 0


_INTERVAL_EXAMPLE: dict[str, Any] = {
    "interval_start": "2026-03-02T09:00:00Z", "interval_end": "2026-03-02T09:15:00Z", "granularity": "15m",
    "offered": 42, "answered": 38, "abandoned": 4, "short_abandoned": 1, "flowed_out": 0,
    "answered_within_sl": 31, "abandoned_within_sl": 2, "service_level": 0.7561, "sl_threshold_seconds": 20.0,
    "sl_target": 0.8, "abandon_rate": 0.0732, "asa_seconds": 12.0, "avg_abandon_seconds": 45.0,
    "asa_business_seconds": 12.0, "avg_abandon_business_seconds": 45.0, "max_wait_seconds": 95.0,
    "handled": 36, "aht_seconds": 285.0, "avg_talk_seconds": 240.0, "avg_hold_seconds": 15.0, "avg_acw_seconds": 30.0,
    "hold_count": 9, "transfers": 2, "handle_seconds_total": 10260.0, "wait_seconds_total": 636.0,
    "csat": 0.8, "csat_mean": 4.2, "csat_responses": 10, "nps": 50.0, "nps_responses": 8, "ces": 5.5, "ces_easy": 0.8333,
    "ces_responses": 6, "survey_responses": 24, "qa_score": 85.5, "qa_count": 2,
    "fcr_rate": 0.8, "repeat_rate": 0.1333, "fcr_handled": 30,
    "cases_opened": 28, "cases_open": 3, "cases_resolved": 26, "avg_resolution_seconds": 5400.0,
    "avg_resolution_business_seconds": 5400.0, "contacts_per_case": 1.1538,
    "available_seconds": 0.0, "on_contact_seconds": 0.0, "after_contact_work_seconds": 0.0, "away_seconds": 0.0,
    "occupancy": None, "utilization": None,
}


class IntervalRow(BaseModel):
    """Figures of one interval (docs/metrics.md defines each); the fields of ``buckets.interval_figures``."""

    model_config = ConfigDict(json_schema_extra={"examples": [_INTERVAL_EXAMPLE]})

    interval_start: datetime
    interval_end: datetime
    granularity: Granularity
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    flowed_out: int
    expired: int = Field(0, description="Open contacts that reached their channel's open-contact limit "
                         "(never answered, abandoned or wrapped up as far as ccpulse knows).")
    answered_within_sl: int
    abandoned_within_sl: int
    service_level: float | None = Field(description="Per the queue's formula; null when nothing counted. " + _SL_MIXED)
    sl_threshold_seconds: float
    sl_target: float
    abandon_rate: float | None
    asa_seconds: float | None
    avg_abandon_seconds: float | None
    asa_business_seconds: float | None = Field(
        description="Mean wait of answered contacts on each queue's SLA clock: open hours only for business-hours "
                    "queues (email by default), wall time otherwise. For email: mean first-response time.")
    avg_abandon_business_seconds: float | None = Field(description="Mean wait of abandoned contacts on each queue's SLA clock.")
    max_wait_seconds: float | None
    handled: int
    aht_seconds: float | None
    avg_talk_seconds: float | None
    avg_hold_seconds: float | None
    avg_acw_seconds: float | None
    hold_count: int
    transfers: int
    handle_seconds_total: float | None
    wait_seconds_total: float | None
    csat: float | None = Field(description="Share of CSAT answers in the top two points of the scale.")
    csat_mean: float | None
    csat_responses: int
    nps: float | None = Field(description="%promoters − %detractors, −100..100.")
    nps_responses: int
    ces: float | None = Field(description="Mean CES on the 1–7 scale.")
    ces_easy: float | None
    ces_responses: int
    survey_responses: int
    qa_score: float | None
    qa_count: int
    fcr_rate: float | None = Field(description="First-contact-resolved / fcr_handled; null when fcr_handled is 0.")
    repeat_rate: float | None = Field(description="Handled contacts followed by a repeat within the FCR window / fcr_handled.")
    fcr_handled: int = Field(description="Handled contacts that carry a customer_id.")
    cases_opened: int = Field(default=0, description="Cases (customer issues) whose first contact entered the queue "
                                                     "in this interval (queue and channel rows).")
    cases_open: int = Field(default=0, description="Of the cases opened in this interval, those still open now.")
    cases_resolved: int = Field(default=0, description="Cases resolved in this interval (queue, channel and agent of "
                                                       "the resolving contact).")
    avg_resolution_seconds: float | None = Field(
        default=None, description="Mean time from a resolved case's first queue entry to its resolution (wall time).")
    avg_resolution_business_seconds: float | None = Field(
        default=None, description="The same on the resolving queue's SLA clock (open hours only for business-hours "
                                  "queues).")
    contacts_per_case: float | None = Field(default=None, description="Contacts of the cases resolved / cases resolved.")
    available_seconds: float = Field(description="Agent time available in the interval (agent and team rows only; 0 elsewhere).")
    on_contact_seconds: float
    after_contact_work_seconds: float
    away_seconds: float
    occupancy: float | None = Field(description="(on contact + ACW) / (available + on contact + ACW); agent and team rows.")
    utilization: float | None = Field(description="(on contact + ACW) / all logged-in time; agent and team rows.")


class IntervalSeries(BaseModel):
    """Interval figures of one entity. ``?format=csv`` returns the same rows as text/csv."""

    dimension: Literal["queue", "agent", "team", "channel"]
    id: str = Field(examples=["billing"])
    granularity: Granularity
    timezone: str = Field(examples=["Asia/Ho_Chi_Minh"])
    intervals: list[IntervalRow]


class QueueIntervals(IntervalSeries):
    queue_id: str = Field(examples=["billing"])


IntervalList = QueueIntervals  # the original name of the queue's interval list


class AgentIntervals(IntervalSeries):
    agent_id: str = Field(examples=["a17"])


class TeamIntervals(IntervalSeries):
    team: str = Field(examples=["tier1-north"])
    agent_ids: list[str] = Field(description="Agents whose current row names this team (their buckets are summed).",
                                 examples=[["a17", "a21"]])


class ChannelIntervals(IntervalSeries):
    channel: Channel


class QueueLive(BaseModel):
    waiting: int = Field(description="Contacts waiting in the queue now.")
    waiting_by_channel: dict[str, int]
    longest_wait_seconds: float | None = Field(description="Wait so far of the longest-waiting contact now.")
    oldest_queued_at: datetime | None
    in_progress: int = Field(description="Contacts being handled by an agent now.")
    in_acw: int = Field(description="Contacts in after-contact work now.")
    agents: dict[str, int] = Field(description="Agents staffed on the queue by state (offline excluded).")
    agents_staffed: int
    open_cases: int = Field(default=0, description="Customer cases opened in this queue (within the interval "
                                                   "retention) and not resolved yet.")


class Staffing(BaseModel):
    """Erlang C staffing from the last completed 15-minute interval (``ccpulse.domain.staffing``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "interval_start": "2026-03-02T09:00:00Z", "interval_end": "2026-03-02T09:15:00Z",
        "arrival_rate_per_hour": 168.0, "aht_seconds": 285.0, "traffic_erlangs": 13.3, "agents_required": 16,
        "predicted_service_level": 0.83, "predicted_asa_seconds": 9.4, "agents_staffed_now": 14}]})

    interval_start: datetime = Field(description="The last completed 15-minute interval the figures come from.")
    interval_end: datetime
    arrival_rate_per_hour: float | None
    aht_seconds: float | None
    traffic_erlangs: float | None
    agents_required: int | None = Field(description="Fewest agents meeting the queue's service-level target.")
    predicted_service_level: float | None
    predicted_asa_seconds: float | None
    agents_staffed_now: int = Field(description="Agents staffed on the queue now (available, on contact or in ACW).")


class QueueView(BaseModel):
    queue_id: str
    name: str
    group: str | None = Field(description="The queue's group (settings), for filters and wallboard rotation.")
    channel: Channel
    sl_threshold_seconds: float
    sl_target: float
    sl_formula: str
    live: QueueLive
    current_interval: IntervalRow
    today: IntervalRow
    staffing: Staffing | None = Field(description="Erlang C staffing from the last completed 15-minute interval; "
                                                  "null only if that interval's counters cannot be modelled.")


class QueueList(BaseModel):
    generated_at: datetime
    queues: list[QueueView]


class AgentRow(BaseModel):
    agent_id: str
    state: Literal["available", "on_contact", "after_contact_work", "away", "offline"]
    reason: str | None
    since: datetime
    time_in_state_seconds: float
    queue_ids: list[str]
    team: str | None
    site: str | None


class AgentList(BaseModel):
    agents: list[AgentRow]
    total: int = Field(description="Agents matching the filters, before limit/offset.")


class CentreLive(BaseModel):
    """Live figures of the whole centre: every contact and every logged-in agent counted once."""

    waiting: int = Field(examples=[7])
    waiting_by_channel: dict[str, int] = Field(examples=[{"voice": 5, "chat": 2, "email": 0}])
    longest_wait_seconds: float | None = Field(examples=[48.2])
    oldest_queued_at: datetime | None
    in_progress: int
    in_acw: int
    agents: dict[str, int] = Field(description="Logged-in agents by state, each agent once (not once per queue).",
                                   examples=[{"available": 3, "on_contact": 9, "after_contact_work": 2, "away": 1}])
    agents_staffed: int = Field(description="available + on_contact + after_contact_work")
    open_cases: int = Field(default=0, description="Customer cases not resolved yet, all queues.")


class ChannelSummary(BaseModel):
    channel: Channel
    waiting: int = Field(description="Contacts of this channel waiting now.")
    current_interval: IntervalRow = Field(description="The channel's current 15-minute interval (channel default SLA).")


class Summary(BaseModel):
    """Centre-wide figures: sums of every queue's counters, then the formulas."""

    generated_at: datetime
    timezone: str
    live: CentreLive
    current_interval: IntervalRow = Field(description="Current 15-minute interval, all queues summed. " + _SL_MIXED)
    today: IntervalRow = Field(description="Today so far (configured time zone), all queues summed.")
    channels: list[ChannelSummary]


class SurveyRow(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "interval_start": "2026-03-02T09:00:00Z", "interval_end": "2026-03-02T10:00:00Z", "granularity": "1h",
        "csat": 0.8, "csat_mean": 4.2, "csat_responses": 10, "nps": 50.0, "nps_responses": 8,
        "ces": 5.5, "ces_easy": 0.8333, "ces_responses": 6, "qa_score": 85.5, "qa_count": 2}]})

    interval_start: datetime
    interval_end: datetime
    granularity: Granularity
    csat: float | None = Field(description="Share of CSAT answers in the top two points of the scale.")
    csat_mean: float | None
    csat_responses: int
    nps: float | None = Field(description="%promoters − %detractors, −100..100.")
    nps_responses: int
    ces: float | None = Field(description="Mean CES on the 1–7 scale.")
    ces_easy: float | None
    ces_responses: int
    qa_score: float | None
    qa_count: int


class SurveyList(BaseModel):
    scope: Literal["queue", "agent", "centre"]
    id: str | None = Field(description="The queue or agent id; null for the whole centre.", examples=["billing"])
    granularity: Granularity
    timezone: str
    intervals: list[SurveyRow]


class RecentContact(BaseModel):
    """One recent contact's story (drill-down behind a breach or a poor score)."""

    contact_id: str = Field(examples=["c-000123"])
    customer_id: str | None = Field(description="Masked (first and last character only) unless the token has the "
                                    "customer_ids scope.", examples=["c***2"])
    channel: Channel
    queue_id: str | None = Field(examples=["billing"])
    agent_id: str | None = Field(examples=["a17"])
    queued_at: datetime | None
    wait_seconds: float | None = Field(examples=[34.5])
    breached: bool = Field(description="Waited longer than the queue's service-level threshold.")
    outcome: Literal["waiting", "answered", "abandoned", "flowed_out", "expired"]
    handled_at: datetime | None
    resolved: bool | None
    csat: int | None = Field(description="Raw score as answered, on its own scale.", examples=[2])
    nps: int | None
    ces: int | None
    comment: str | None = Field(examples=["kept on hold too long"])
    updated_at: datetime = Field(description="Event time of the contact's latest event.")


class RecentList(BaseModel):
    contacts: list[RecentContact]
    total: int = Field(description="Contacts matching the filters (before limit).")


class Alert(BaseModel):
    """One SLA alert episode: ``firing`` until its condition has been clear for a while, then ``resolved``."""

    id: str = Field(examples=["sales:sl_below_target:1774861200"])
    state: Literal["firing", "resolved"]
    severity: Literal["warning", "critical"]
    queue_id: str
    rule: str = Field(examples=["sl_below_target"])
    summary: str
    value: float | None
    threshold: float
    started_at: datetime
    resolved_at: datetime | None


class AlertList(BaseModel):
    alerts: list[Alert]


class WaitingContact(BaseModel):
    """A contact waiting in a queue now."""

    contact_id: str = Field(examples=["c-000123"])
    channel: Channel
    queued_at: datetime
    wait_seconds: float = Field(description="Wait so far, by the read model's event clock.", examples=[48.2])
    priority: int = Field(examples=[0])
    customer_id: str | None = Field(description="Masked (first and last character only) unless the token has the "
                                    "customer_ids scope.", examples=["c***7"])


class QueueContacts(BaseModel):
    queue_id: str
    generated_at: datetime
    contacts: list[WaitingContact] = Field(description="Longest-waiting first.")


class StreamSnapshot(BaseModel):
    """The data of one ``snapshot`` event of ``GET /api/v1/stream``."""

    generated_at: datetime
    summary: Summary
    queues: list[QueueView]
    agents: list[AgentRow] = Field(description="Logged-in agents (staffed on a filtered queue when filtered).")
    alerts: list[Alert] = Field(description="Firing alerts, critical first.")
    auth_disabled: bool = Field(default=False, description="True when the API runs without authentication (demo).")


class IngestResult(BaseModel):
    """What happened to one event of an ingest batch."""

    index: int = Field(description="Position of the event in the batch (0-based).")
    event_id: str | None = Field(description="The event's event_id, when it has one.", examples=["ev-000123"])
    status: Literal["accepted", "rejected"]
    reason: str | None = Field(default=None, description="Why it was rejected (the dead-letter reason).",
                               examples=["score_out_of_scale"])
    message: str | None = Field(default=None, examples=["score: 9 is outside the csat scale 1..5"])
    code: int = Field(default=202, description="The event's own HTTP-style status: 202 accepted, 403 refused to "
                      "this token (`out_of_scope`: it touches data outside the token's queues), 422 not a valid "
                      "event of the contract.", examples=[403])
    topic: str | None = Field(default=None, description="Where an accepted event was written.",
                              examples=["cc.survey-events"])
    partition: int | None = None
    offset: int | None = None


class IngestResponse(BaseModel):
    """``202``: every accepted event is in Kafka (acknowledged by all in-sync replicas); every rejected
    one is in the dead-letter topic with its original bytes and the reason."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "accepted": 1, "rejected": 1, "results": [
            {"index": 0, "event_id": "ev-1", "status": "accepted", "reason": None, "message": None,
             "topic": "cc.survey-events", "partition": 2, "offset": 917},
            {"index": 1, "event_id": "ev-2", "status": "rejected", "reason": "score_out_of_scale",
             "message": "score: 9 is outside the csat scale 1..5", "topic": None, "partition": None, "offset": None},
        ]}]})

    accepted: int
    rejected: int
    results: list[IngestResult]


# ---- weekday and hour-of-day profiles ----------------------------------------------------------------
_PROFILE_EXAMPLE: dict[str, Any] = {
    "slot": 0, "label": "mon", "offered": 412, "answered": 380, "abandoned": 32, "handled": 377,
    "asa_seconds": 14.2, "response_time_seconds": 14.2, "service_level": 0.8312, "aht_seconds": 291.5,
    "csat": 0.84, "csat_responses": 57, "nps": 31.0, "nps_responses": 42, "cases_resolved": 120,
    "avg_resolution_seconds": 5400.0,
}


class ProfileRow(BaseModel):
    """Figures of one weekday or hour of day, from the counters of all its intervals in the range summed."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PROFILE_EXAMPLE]})

    slot: int = Field(ge=0, le=23, description="Weekday (0 = Monday … 6 = Sunday) or hour of day (0–23), local time.")
    label: str = Field(description="mon … sun, or 00:00 … 23:00.", examples=["mon"])
    offered: int
    answered: int
    abandoned: int
    handled: int
    asa_seconds: float | None = Field(description="Average speed of answer, wall time.")
    response_time_seconds: float | None = Field(
        description="Mean time to answer / first response on each queue's SLA clock (business hours for email).")
    service_level: float | None = Field(description="By the entity's formula, from the summed counts. " + _SL_MIXED)
    aht_seconds: float | None
    csat: float | None = Field(description="Share of CSAT answers in the top two points of the scale.")
    csat_responses: int
    nps: float | None = Field(description="%promoters − %detractors, −100..100.")
    nps_responses: int
    cases_resolved: int
    avg_resolution_seconds: float | None


class Profile(BaseModel):
    """A weekday or hour-of-day profile. ``?format=csv`` (or ``Accept: text/csv``) returns the rows as CSV."""

    dimension: Literal["queue", "agent", "team", "channel", "centre"]
    id: str | None = Field(description="The queue, agent, team or channel; null for the centre.", examples=["billing"])
    by: Literal["weekday", "hour"]
    timezone: str = Field(examples=["Asia/Ho_Chi_Minh"])
    start: datetime
    end: datetime
    rows: list[ProfileRow] = Field(description="Every weekday (7 rows) or hour (24 rows), in order; empty ones "
                                               "have zero counts and null ratios.")


# ---- retention (GET /api/v1/retention; docs/metrics.md "Customer retention") -----------------------
def _retention_field(name: str) -> tuple[object, object]:
    if name in ("period_start", "period_end"):
        return datetime, Field(description="Local start / end of the calendar period (configured time zone).")
    if name == "period":
        return str, Field(description="YYYY-MM or YYYY.", examples=["2026-03"])
    if name == "granularity":
        return Literal["month", "year"], ...
    if name.startswith(("customers", "churned_", "new_customers", "premium_customers", "loyal_customers", "purchases")):
        return int, ...
    if name in ("mrr_start", "new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "mrr_end", "net_new_mrr",
                "purchase_revenue"):
        return float, Field(description="In the deployment currency.")
    return float | None, Field(description="A ratio (or an amount) that is null when there is nothing to divide by.")


#: One month or year of retention figures (flat, as in the CSV export).
RetentionRow = create_model(  # type: ignore[call-overload]
    "RetentionRow", __doc__="Retention figures of one calendar month or year (docs/metrics.md defines each).",
    **{name: _retention_field(name) for name in RETENTION_FIELDS})


class RetentionList(BaseModel):
    granularity: Literal["month", "year"]
    timezone: str
    currency: str = Field(description="Every amount is in this currency (CCPULSE_RETENTION__CURRENCY).")
    gross_margin: float = Field(description="The gross margin CLV uses.")
    loyal_min_months: int | None
    loyal_min_purchases: int | None
    premium_tiers: list[str]
    breach_window_days: float
    periods: list[RetentionRow]  # type: ignore[valid-type]
