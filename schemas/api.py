"""Response models of the read API (snake_case, RFC 3339 times, ``_seconds`` durations, 0–1 ratios)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["AgentRow", "AgentList", "ErrorResponse", "Health", "IntervalRow", "IntervalList", "QueueLive", "QueueList", "QueueView"]


class ErrorResponse(BaseModel):
    detail: str = Field(examples=["unknown queue 'nope'"])


class Health(BaseModel):
    status: Literal["ok", "not_ready"]
    reason: str | None = None
    rows: int = 0


class IntervalRow(BaseModel):
    """Figures of one interval (docs/metrics.md defines each)."""

    interval_start: datetime
    interval_end: datetime
    granularity: Literal["15m", "1h", "1d"]
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    flowed_out: int
    answered_within_sl: int
    abandoned_within_sl: int
    service_level: float | None = Field(description="Per the queue's formula; null when nothing counted.")
    sl_threshold_seconds: float
    sl_target: float
    abandon_rate: float | None
    asa_seconds: float | None
    avg_abandon_seconds: float | None
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


class IntervalList(BaseModel):
    queue_id: str
    granularity: Literal["15m", "1h", "1d"]
    timezone: str
    intervals: list[IntervalRow]


class QueueLive(BaseModel):
    waiting: int = Field(description="Contacts waiting in the queue now.")
    waiting_by_channel: dict[str, int]
    longest_wait_seconds: float | None = Field(description="Wait so far of the longest-waiting contact now.")
    oldest_queued_at: datetime | None
    in_progress: int = Field(description="Contacts being handled by an agent now.")
    in_acw: int = Field(description="Contacts in after-contact work now.")
    agents: dict[str, int] = Field(description="Agents staffed on the queue by state (offline excluded).")
    agents_staffed: int


class QueueView(BaseModel):
    queue_id: str
    name: str
    channel: Literal["voice", "chat", "email"]
    sl_threshold_seconds: float
    sl_target: float
    sl_formula: str
    live: QueueLive
    current_interval: IntervalRow
    today: IntervalRow


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
    total: int
