"""Report models built from the read API's JSON answers — never from the read model directly.

A report is what ``ccpulse report`` writes: sections of tables (the figures), each optionally
drawn as charts. Every value in a table is a value of an API answer, copied as it is (the API's
formulas are the only formulas: one formula, one place), so the figures on a report equal the
API's by construction. The builders here are pure functions of the answers: they ask a ``fetch``
callable (``fetch(path, params) -> JSON``) for what they need, in a fixed order, and do no I/O of
their own — the CLI passes an HTTP client (:mod:`ccpulse.reports.client`), the tests the API app.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["TEMPLATES", "Chart", "Column", "Fetch", "Period", "Report", "ReportProblem", "Row", "Section", "Table",
           "build_report", "parse_period"]

#: fetch(path, params) -> the decoded JSON answer (raises on a failure).
Fetch = Callable[[str, Mapping[str, Any]], Any]

TEMPLATES: dict[str, str] = {
    "satisfaction": "Customer satisfaction",
    "retention": "Customer retention",
    "team": "Team performance",
}

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CHANNELS = ("voice", "chat", "email")


class ReportProblem(ValueError):
    """A report that cannot be made as asked (bad period, a template that cannot be limited to a queue…)."""


# ---- the period ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """A calendar month (``2026-03``) or year (``2026``) in the API's time zone."""

    label: str
    year: int
    month: int | None  # None: the whole year
    zone: ZoneInfo

    @property
    def granularity(self) -> str:
        """The interval granularity of one row covering the whole period."""
        return "1mo" if self.month else "1y"

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month or 1, 1, tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        if self.month is None or self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=self.zone)
        return datetime(self.year, self.month + 1, 1, tzinfo=self.zone)

    def months_back(self, n: int) -> datetime:
        """Start of the month ``n`` months before the period's first month."""
        index = self.year * 12 + (self.month or 1) - 1 - n
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=self.zone)

    def range(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def parse_period(text: str, zone: ZoneInfo | str = "UTC") -> Period:
    """``YYYY-MM`` (a month) or ``YYYY`` (a year); :class:`ReportProblem` otherwise."""
    match = _PERIOD.match(text.strip())
    if not match:
        raise ReportProblem(f"bad period {text!r}: give a month as YYYY-MM (e.g. 2026-03) or a year as YYYY")
    year, month = int(match.group(1)), int(match.group(2)) if match.group(2) else None
    if not 1970 <= year <= 9998 or (month is not None and not 1 <= month <= 12):
        raise ReportProblem(f"bad period {text!r}: give a month as YYYY-MM (e.g. 2026-03) or a year as YYYY")
    return Period(text.strip(), year, month, ZoneInfo(zone) if isinstance(zone, str) else zone)


# ---- the model ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """A figure of a table: its API field name, a label and how to show it.

    ``fmt``: ``ratio`` (0–1, shown as %), ``score`` (NPS −100…100, CSAT mean…), ``seconds``, ``count``,
    ``money``.
    """

    metric: str
    label: str
    fmt: str = "count"


@dataclass
class Row:
    """One entity (queue, team, agent, channel, centre, customer group) in one period or slot."""

    entity: str
    period: str
    values: dict[str, Any]


@dataclass
class Chart:
    """A chart of a table's figures: x along the rows' ``period`` (one series per entity and metric)
    or along their ``entity`` (one series per metric)."""

    id: str
    title: str
    kind: str  # line | bar
    table: str  # id of the table drawn
    metrics: tuple[str, ...]
    x: str = "period"  # period | entity


@dataclass
class Table:
    id: str
    title: str
    entity_label: str
    period_label: str
    columns: tuple[Column, ...]
    rows: list[Row] = field(default_factory=list)
    source: str = ""  # the API request(s) the figures come from
    kpi: bool = False  # shown as headline tiles


@dataclass
class Section:
    id: str
    title: str
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    note: str = ""


@dataclass
class Report:
    template: str
    title: str
    period: str
    start: str
    end: str
    timezone: str
    api: str
    generated_at: str
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    currency: str | None = None

    def table(self, table_id: str) -> Table:
        for section in self.sections:
            for table in section.tables:
                if table.id == table_id:
                    return table
        raise KeyError(table_id)

    def tables(self) -> list[tuple[Section, Table]]:
        return [(s, t) for s in self.sections for t in s.tables]


# ---- helpers over API answers -------------------------------------------------------------------
def _pick(row: Mapping[str, Any] | None, columns: Sequence[Column]) -> dict[str, Any]:
    """The columns' values of an API row, as given (None where the API has no row: no data)."""
    return {c.metric: (row or {}).get(c.metric) for c in columns}


def _only_row(answer: Mapping[str, Any], key: str = "intervals") -> Mapping[str, Any] | None:
    """The single row of a whole-period answer (``granularity=1mo|1y``), or None without data."""
    rows = answer.get(key) or []
    return rows[0] if rows else None


def _source(path: str, params: Mapping[str, Any]) -> str:
    shown = "&".join(f"{k}={v}" for k, v in params.items() if k not in ("start", "end"))
    return f"GET {path}" + (f"?{shown}" if shown else "")


def _day_label(iso_text: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(iso_text.replace("Z", "+00:00")).astimezone(zone).date().isoformat()


def _month_label(iso_text: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(iso_text.replace("Z", "+00:00")).astimezone(zone).strftime("%Y-%m")


SURVEY_COLUMNS = (
    Column("csat", "CSAT (top box)", "ratio"), Column("csat_mean", "CSAT mean (1–5)", "score"),
    Column("csat_responses", "CSAT answers"), Column("nps", "NPS", "score"), Column("nps_responses", "NPS answers"),
    Column("ces", "CES mean (1–7)", "score"), Column("ces_easy", "CES easy", "ratio"),
    Column("ces_responses", "CES answers"),
)
PROFILE_COLUMNS = (
    Column("response_time_seconds", "Response time (SLA clock)", "seconds"),
    Column("asa_seconds", "ASA (wall)", "seconds"), Column("answered", "Answered"),
    Column("service_level", "Service level", "ratio"),
)
TEAM_COLUMNS = (
    Column("fcr_rate", "FCR", "ratio"), Column("repeat_rate", "Repeat rate", "ratio"),
    Column("fcr_handled", "FCR base (handled with customer)"), Column("cases_resolved", "Cases resolved"),
    Column("avg_resolution_seconds", "Avg resolution (wall)", "seconds"),
    Column("avg_resolution_business_seconds", "Avg resolution (business)", "seconds"),
    Column("asa_business_seconds", "Response time (SLA clock)", "seconds"),
    Column("aht_seconds", "AHT", "seconds"), Column("handled", "Handled"),
    Column("qa_score", "QA score", "score"), Column("qa_count", "QA evaluations"),
    Column("csat", "CSAT", "ratio"), Column("occupancy", "Occupancy", "ratio"),
)


class _Builder:
    def __init__(self, fetch: Fetch, period: Period) -> None:
        self.fetch = fetch
        self.period = period
        self.zone = period.zone

    def get(self, path: str, **params: Any) -> Any:
        return self.fetch(path, {k: v for k, v in params.items() if v is not None})

    def whole(self, path: str, columns: Sequence[Column], entity: str, **params: Any) -> tuple[Row, str]:
        """One row of ``columns`` for the whole period from an interval-style endpoint."""
        params = {**params, "granularity": self.period.granularity, **self.period.range()}
        answer = self.get(path, **params)
        return Row(entity, self.period.label, _pick(_only_row(answer), columns)), _source(path, params)

    def weekday_profile(self, path: str, entity: str, columns: Sequence[Column] = PROFILE_COLUMNS,
                        **params: Any) -> tuple[list[Row], str]:
        params = {**params, "by": "weekday", **self.period.range()}
        answer = self.get(path, **params)
        rows = [Row(entity, r["label"], _pick(r, columns)) for r in answer["rows"]]
        return rows, _source(path, params)


# ---- template 1: customer satisfaction ----------------------------------------------------------
def _satisfaction(b: _Builder, queue: str | None, report: Report) -> None:
    p = b.period
    scope = queue or "centre"
    kpi, src = b.whole("/api/v1/surveys", SURVEY_COLUMNS, scope, queue_id=queue)
    head = Section("overview", f"Surveys {p.label}" + (f" — queue {queue}" if queue else " — whole centre"))
    head.tables.append(Table("satisfaction_kpi", "CSAT, NPS and CES of the period", "scope", "period", SURVEY_COLUMNS,
                             [kpi], src, kpi=True))
    report.sections.append(head)

    trend_granularity = "1d" if p.month else "1mo"
    params = {"queue_id": queue, "granularity": trend_granularity, **p.range()}
    answer = b.get("/api/v1/surveys", **params)
    label = _day_label if p.month else _month_label
    rows = [Row(scope, label(r["interval_start"], b.zone), _pick(r, SURVEY_COLUMNS)) for r in answer["intervals"]]
    trend = Section("trend", "Trend by " + ("day" if p.month else "month"),
                    note="Days without any survey answer are left out.")
    trend.tables.append(Table("satisfaction_trend", "Surveys by " + ("day" if p.month else "month"), "scope",
                              "day" if p.month else "month", SURVEY_COLUMNS, rows, _source("/api/v1/surveys", params)))
    trend.charts += [Chart("chart_csat_trend", "CSAT and CES easy (share of answers)", "line", "satisfaction_trend",
                           ("csat", "ces_easy")),
                     Chart("chart_nps_trend", "NPS", "line", "satisfaction_trend", ("nps",))]
    report.sections.append(trend)

    queues = [queue] if queue else [q["queue_id"] for q in b.get("/api/v1/queues")["queues"]]
    by_queue = Table("satisfaction_by_queue", "Surveys by queue", "queue", "period", SURVEY_COLUMNS,
                     source=_source("/api/v1/surveys", {"queue_id": "{queue}", "granularity": p.granularity}))
    for q in sorted(queues):
        by_queue.rows.append(b.whole("/api/v1/surveys", SURVEY_COLUMNS, q, queue_id=q)[0])
    split = Section("by_queue_channel", "By queue and channel", [by_queue],
                    [Chart("chart_csat_by_queue", "CSAT and CES easy by queue", "bar", "satisfaction_by_queue",
                           ("csat", "ces_easy"), x="entity")])
    if queue is None:
        by_channel = Table("satisfaction_by_channel", "Surveys by channel", "channel", "period", SURVEY_COLUMNS,
                           source=_source("/api/v1/channels/{channel}/intervals", {"granularity": p.granularity}))
        for channel in CHANNELS:
            by_channel.rows.append(b.whole(f"/api/v1/channels/{channel}/intervals", SURVEY_COLUMNS, channel)[0])
        split.tables.append(by_channel)
        split.charts.append(Chart("chart_nps_by_channel", "NPS by channel", "bar", "satisfaction_by_channel",
                                  ("nps",), x="entity"))
    report.sections.append(split)

    path = f"/api/v1/queues/{queue}/profile" if queue else "/api/v1/summary/profile"
    rows, src = b.weekday_profile(path, scope)
    weekday = Section("response_by_weekday", "Response time by weekday",
                      note="Mean time to answer (first response for email) on each queue's SLA clock, per local "
                           "weekday of the period.")
    weekday.tables.append(Table("response_by_weekday", "Response time by weekday", "scope", "weekday",
                                PROFILE_COLUMNS, rows, src))
    weekday.charts.append(Chart("chart_response_by_weekday", "Response time by weekday", "bar", "response_by_weekday",
                                ("response_time_seconds",)))
    report.sections.append(weekday)


# ---- template 2: customer retention -------------------------------------------------------------
RETENTION_KPI = (
    Column("nps", "NPS", "score"), Column("loyal_rate", "Loyal customers", "ratio"),
    Column("premium_rate", "Premium customers", "ratio"), Column("clv", "CLV", "money"),
    Column("churn_rate", "Churn", "ratio"), Column("customers_end", "Customers at end"),
    Column("mrr_end", "MRR at end", "money"), Column("arpa", "ARPA", "money"),
)
RETENTION_MONTH = (
    Column("customers_start", "Customers at start"), Column("new_customers", "New"),
    Column("churned_customers", "Churned"), Column("customers_end", "Customers at end"),
    Column("churn_rate", "Churn rate", "ratio"), Column("mrr_start", "MRR at start", "money"),
    Column("new_mrr", "New MRR", "money"), Column("expansion_mrr", "Expansion", "money"),
    Column("contraction_mrr", "Contraction", "money"), Column("churned_mrr", "Churned MRR", "money"),
    Column("mrr_end", "MRR at end", "money"), Column("mrr_growth_rate", "MRR growth", "ratio"),
)
RETENTION_GROUPS = (
    Column("customers", "Customers at start"), Column("churned", "Churned"), Column("churn_rate", "Churn rate", "ratio"),
)
GROUPS = (("nps", "promoter"), ("nps", "passive"), ("nps", "detractor"), ("nps", "no_answer"),
          ("sla", "breached"), ("sla", "not_breached"))


def _retention(b: _Builder, queue: str | None, report: Report) -> None:
    p = b.period
    if queue is not None:
        raise ReportProblem("the retention report is centre-wide customer data and cannot be limited to a queue: "
                            "drop --queue")
    # The period's own row: a month, or the year (its churn is the mean monthly churn: see docs/metrics.md).
    own_params = {"granularity": "month" if p.month else "year", **p.range()}
    own_answer = b.get("/api/v1/retention", **own_params)
    report.currency = own_answer.get("currency")
    own = _only_row(own_answer, "periods")
    surveys, _ = b.whole("/api/v1/surveys", (Column("nps", "NPS", "score"),), "centre")
    values = {**_pick(own, RETENTION_KPI), "nps": surveys.values["nps"]}
    head = Section("overview", f"Customers {p.label}", note=(
        "NPS: the period's survey answers (GET /api/v1/surveys). Loyal and premium customers, CLV, churn, MRR: "
        "GET /api/v1/retention" + (" (the year row: CLV from the mean monthly churn)." if not p.month else ".")))
    head.tables.append(Table("retention_kpi", "Headline", "scope", "period", RETENTION_KPI,
                             [Row("centre", p.label, values)],
                             f"{_source('/api/v1/surveys', {'granularity': p.granularity})}; "
                             f"{_source('/api/v1/retention', own_params)}", kpi=True))
    report.sections.append(head)

    months_params = {"granularity": "month", "start": (p.months_back(11) if p.month else p.start).isoformat(),
                     "end": p.end.isoformat()}
    months = b.get("/api/v1/retention", **months_params)["periods"]
    by_month = Table("retention_by_month", "Churn and MRR by month", "scope", "month", RETENTION_MONTH,
                     [Row("centre", r["period"], _pick(r, RETENTION_MONTH)) for r in months],
                     _source("/api/v1/retention", months_params))
    report.sections.append(Section("by_month", "Churn and MRR growth by month" + (" (the 12 months up to the period)"
                                                                                 if p.month else ""), [by_month], [
        Chart("chart_churn_by_month", "Customer churn rate by month", "line", "retention_by_month", ("churn_rate",)),
        Chart("chart_mrr_growth_by_month", "MRR growth rate by month", "bar", "retention_by_month", ("mrr_growth_rate",)),
    ]))

    years_params = {"granularity": "year", "start": datetime(p.year - 2, 1, 1, tzinfo=b.zone).isoformat(),
                    "end": p.end.isoformat()}
    years = b.get("/api/v1/retention", **years_params)["periods"]
    year_columns = (*RETENTION_MONTH[:4], Column("monthly_churn_rate", "Mean monthly churn", "ratio"),
                    *RETENTION_MONTH[4:])
    by_year = Table("retention_by_year", "Churn and MRR by year", "scope", "year", year_columns,
                    [Row("centre", r["period"], _pick(r, year_columns)) for r in years],
                    _source("/api/v1/retention", years_params))
    report.sections.append(Section("by_year", "Churn by year (up to the period's end)", [by_year], [
        Chart("chart_churn_by_year", "Churn rate by year", "line", "retention_by_year", ("churn_rate",))]))

    groups = Table("churn_by_service", "Churn by latest NPS answer and by service-level breach", "group", "period",
                   RETENTION_GROUPS, source=_source("/api/v1/retention", own_params))
    for split, group in GROUPS:
        groups.rows.append(Row(f"{split}:{group}", p.label, {
            "customers": (own or {}).get(f"customers_{split}_{group}"),
            "churned": (own or {}).get(f"churned_{split}_{group}"),
            "churn_rate": (own or {}).get(f"churn_rate_{split}_{group}")}))
    report.sections.append(Section("service_and_churn", "Service and churn", [groups], [
        Chart("chart_churn_by_service", "Churn rate by NPS group and by SLA breach", "bar", "churn_by_service",
              ("churn_rate",), x="entity")],
        note="The customers at the start of the period, split by their latest NPS answer and by whether one of "
             "their contacts breached its queue's service level in the window before they churned (or the period "
             "ended)."))


# ---- template 3: team performance ---------------------------------------------------------------
def _team(b: _Builder, queue: str | None, report: Report) -> None:
    p = b.period
    agents = b.get("/api/v1/agents", include_offline="true", limit=5000, queue_id=queue)["agents"]
    teams: dict[str, list[str]] = {}
    for agent in agents:
        teams.setdefault(agent.get("team") or "", []).append(agent["agent_id"])
    if queue:
        report.notes.append(f"Teams and agents staffed on queue {queue} now; their figures cover all the queues "
                            "they work.")
    by_team = Table("team_kpi", "Teams", "team", "period", TEAM_COLUMNS,
                    source=_source("/api/v1/teams/{team}/intervals", {"granularity": p.granularity}))
    for team in sorted(t for t in teams if t):
        by_team.rows.append(b.whole(f"/api/v1/teams/{team}/intervals", TEAM_COLUMNS, team)[0])
    report.sections.append(Section("teams", "Complaint handling and handle time by team", [by_team], [
        Chart("chart_fcr_by_team", "First-contact resolution by team", "bar", "team_kpi", ("fcr_rate",), x="entity"),
        Chart("chart_resolution_by_team", "Average resolution time by team (wall and business)", "bar", "team_kpi",
              ("avg_resolution_seconds", "avg_resolution_business_seconds"), x="entity"),
        Chart("chart_aht_by_team", "Average handle time by team", "bar", "team_kpi", ("aht_seconds",), x="entity"),
    ], note="A team is the sum of its agents' figures (the team an agent belongs to now)."))

    weekday = Table("team_response_by_weekday", "Response time by weekday", "team", "weekday", PROFILE_COLUMNS,
                    source=_source("/api/v1/teams/{team}/profile", {"by": "weekday"}))
    for team in sorted(t for t in teams if t):
        weekday.rows += b.weekday_profile(f"/api/v1/teams/{team}/profile", team)[0]
    report.sections.append(Section("response_by_weekday", "Response time by weekday", [weekday], [
        Chart("chart_team_response_by_weekday", "Response time by weekday", "line", "team_response_by_weekday",
              ("response_time_seconds",))],
        note="Mean time to answer (first response for email) of the contacts the team's agents answered, on each "
             "queue's SLA clock, per local weekday of the period."))

    by_agent = Table("agent_kpi", "Agents", "agent", "period", TEAM_COLUMNS,
                     source=_source("/api/v1/agents/{agent}/intervals", {"granularity": p.granularity}))
    for team in sorted(teams):
        for agent_id in sorted(teams[team]):
            row = b.whole(f"/api/v1/agents/{agent_id}/intervals", TEAM_COLUMNS, agent_id)[0]
            row.values = {"team": team or None, **row.values}
            by_agent.rows.append(row)
    by_agent.columns = (Column("team", "Team", "text"), *TEAM_COLUMNS)
    report.sections.append(Section("agents", "Agents", [by_agent]))


_BUILDERS = {"satisfaction": _satisfaction, "retention": _retention, "team": _team}


def build_report(template: str, period_text: str, fetch: Fetch, *, queue: str | None = None,
                 api: str = "", generated_at: str = "") -> Report:
    """The report model of ``template`` for a month ``YYYY-MM`` or year ``YYYY``, from the API's answers.

    The period is a calendar month/year in the API's time zone (its ``/api/v1/summary`` says which).
    """
    if template not in TEMPLATES:
        raise ReportProblem(f"unknown template {template!r}: choose one of {', '.join(TEMPLATES)}")
    parse_period(period_text)  # a bad period fails before any request
    timezone = b_zone = fetch("/api/v1/summary", {})["timezone"]
    period = parse_period(period_text, b_zone)
    builder = _Builder(fetch, period)
    report = Report(template, TEMPLATES[template], period.label, period.start.isoformat(), period.end.isoformat(),
                    timezone, api, generated_at)
    _BUILDERS[template](builder, queue, report)
    if template != "retention":
        report.notes.append("Contact and survey figures come from the 15-minute intervals the API still keeps "
                            "(CCPULSE_RETENTION_DAYS, default 8 days): an older period shows only what is kept.")
    return report
