#!/usr/bin/env python3
"""Generate ccpulse's Grafana dashboards (deploy/grafana/dashboards/*.json) from plain dicts.

    python deploy/grafana/generate.py           # (re)write the JSON files
    python deploy/grafana/generate.py --check   # exit 1 if a JSON file is not what this script makes

Edit the dashboards here, not in the JSON (or in Grafana: provisioned dashboards are read-only
copies of these files). The output is deterministic, and tests/deploy/test_grafana.py checks that
the committed JSON is up to date and that every query parses and uses only exported metrics
(deploy/prometheus/metric_names.txt) or recording rules (deploy/prometheus/rules/recording.yml).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DASHBOARDS = HERE / "dashboards"

#: The data source provisioned by provisioning/datasources/prometheus.yml.
DS = {"type": "prometheus", "uid": "prometheus"}
SCHEMA_VERSION = 39  # Grafana 11

Panel = dict[str, Any]


# ---- building blocks ---------------------------------------------------------------------------
def target(expr: str, legend: str = "__auto", *, instant: bool = False, ref: str = "A") -> dict[str, Any]:
    return {
        "datasource": DS,
        "expr": expr,
        "instant": instant,
        "range": not instant,
        "legendFormat": legend,
        "refId": ref,
    }


def targets(*specs: tuple[str, str], instant: bool = False) -> list[dict[str, Any]]:
    return [target(expr, legend, instant=instant, ref=chr(ord("A") + i)) for i, (expr, legend) in enumerate(specs)]


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


SL_STEPS = thresholds((None, "red"), (0.7, "orange"), (0.8, "green"))  # 0.8 = default target
WAIT_STEPS = thresholds((None, "green"), (120, "orange"), (300, "red"))  # CcpulseQueueLongWait
ABANDON_STEPS = thresholds((None, "green"), (0.1, "red"))  # default abandon_rate_limit
NEUTRAL_STEPS = thresholds((None, "blue"))


def field_defaults(unit: str, steps: dict[str, Any], *, min_: float | None = None, max_: float | None = None,
                   decimals: int | None = None, custom: dict[str, Any] | None = None) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit, "thresholds": steps, "color": {"mode": "palette-classic"}}
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    if decimals is not None:
        defaults["decimals"] = decimals
    if custom:
        defaults["custom"] = custom
    return defaults


def timeseries(title: str, description: str, tgts: list[dict[str, Any]], *, unit: str = "short",
               steps: dict[str, Any] = NEUTRAL_STEPS, min_: float | None = None, max_: float | None = None,
               stack: bool = False, dashed: tuple[str, ...] = (), threshold_lines: bool = False,
               right_axis: dict[str, dict[str, Any]] | None = None) -> Panel:
    """A time series panel; ``dashed``: refIds drawn dashed (targets, limits); ``right_axis``:
    refId -> field properties (e.g. its own unit) of series drawn against a right-hand axis."""
    custom: dict[str, Any] = {
        "drawStyle": "line",
        "lineWidth": 2,
        "fillOpacity": 25 if stack else 0,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": "dashed" if threshold_lines else "off"},
    }
    overrides = [
        {
            "matcher": {"id": "byFrameRefID", "options": ref},
            "properties": [{"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}],
        }
        for ref in dashed
    ]
    for ref, props in (right_axis or {}).items():
        overrides.append({
            "matcher": {"id": "byFrameRefID", "options": ref},
            "properties": [{"id": "custom.axisPlacement", "value": "right"}]
            + [{"id": key, "value": value} for key, value in props.items()],
        })
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": field_defaults(unit, steps, min_=min_, max_=max_, custom=custom), "overrides": overrides},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": tgts,
    }


def stat(title: str, description: str, expr: str, *, unit: str = "short", steps: dict[str, Any] = NEUTRAL_STEPS,
         legend: str = "__auto", decimals: int | None = None) -> Panel:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": {**field_defaults(unit, steps, decimals=decimals), "color": {"mode": "thresholds"}},
                        "overrides": []},
        "options": {
            "colorMode": "background",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
        },
        "targets": [target(expr, legend)],
    }


def bargauge(title: str, description: str, expr: str, legend: str, *, unit: str = "short",
             steps: dict[str, Any] = NEUTRAL_STEPS, min_: float | None = None, max_: float | None = None) -> Panel:
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": {**field_defaults(unit, steps, min_=min_, max_=max_), "color": {"mode": "thresholds"}},
                        "overrides": []},
        "options": {
            "displayMode": "gradient",
            "orientation": "horizontal",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showUnfilled": True,
            "valueMode": "color",
        },
        "targets": [target(expr, legend, instant=True)],
    }


def alerts_table(title: str, description: str, expr: str) -> Panel:
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": {"custom": {"align": "auto"}, "thresholds": NEUTRAL_STEPS}, "overrides": []},
        "options": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
        "targets": [{**target(expr, "", instant=True), "format": "table"}],
        "transformations": [
            {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True}, "renameByName": {}}},
        ],
    }


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def layout(items: list[tuple[Panel, int, int]]) -> list[Panel]:
    """Place (panel, width, height) left to right on Grafana's 24-column grid; rows span the width."""
    panels, x, y, line_height = [], 0, 0, 0
    for panel_id, (panel, width, height) in enumerate(items, start=1):
        if panel["type"] == "row":
            y, x, line_height = y + line_height, 0, 0
            width, height = 24, 1
        elif x + width > 24:
            y, x, line_height = y + line_height, 0, 0
        panels.append({"id": panel_id, "gridPos": {"h": height, "w": width, "x": x, "y": y}, **panel})
        x, line_height = x + width, max(line_height, height)
        if panel["type"] == "row":
            y, x, line_height = y + 1, 0, 0
    return panels


def dashboard(uid: str, title: str, description: str, items: list[tuple[Panel, int, int]],
              variables: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
        }]},
        "description": description,
        "editable": False,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [{"asDropdown": False, "icon": "external link", "includeVars": False, "keepTime": True,
                   "tags": ["ccpulse"], "targetBlank": False, "title": "ccpulse", "type": "dashboards"}],
        "panels": layout(items),
        "refresh": "15s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["ccpulse", "contact-centre"],
        "templating": {"list": variables or []},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
    }


# ---- queries -----------------------------------------------------------------------------------
# Every API instance serves the same series: raw gauges are deduplicated with max by (...).
WAITING_BY_QUEUE = "sum by (queue) (max by (queue, channel) (ccpulse_queue_contacts_waiting))"
LONGEST_WAIT_BY_QUEUE = "max by (queue) (ccpulse_queue_longest_wait_seconds)"
STAFFED = 'state=~"available|on_contact|after_contact_work"'


# ---- contact-centre overview --------------------------------------------------------------------
def overview() -> dict[str, Any]:
    items: list[tuple[Panel, int, int]] = [
        (row("Now"), 24, 1),
        (stat("Contacts waiting", "Contacts in all queues now.",
              "sum(max by (queue, channel) (ccpulse_queue_contacts_waiting))", legend="waiting"), 4, 4),
        (stat("Longest wait", "The longest wait of any contact waiting now.",
              "max(ccpulse_queue_longest_wait_seconds)", unit="s", steps=WAIT_STEPS, legend="longest"), 4, 4),
        (stat("Agents available", "Agents available on at least one queue (an agent on several queues counts on each).",
              'sum(max by (queue) (ccpulse_queue_agents{state="available"}))', legend="available"), 4, 4),
        (stat("Contacts offered (1h)", "Contacts that entered any queue in the last hour.",
              "sum(ccpulse:queue_contacts_offered:increase1h)", legend="offered", decimals=0), 4, 4),
        (stat("ccpulse alerts firing", "Real-time SLA alerts of ccpulse's stream rules firing now (any queue).",
              "count(max by (queue, rule, severity) (ccpulse_alerts_firing) == 1) or vector(0)",
              steps=thresholds((None, "green"), (1, "red")), legend="alerts"), 4, 4),
        (stat("API ready", "API instances that have caught up with the read model / instances scraped.",
              'sum(ccpulse_read_model_ready) / count(up{job="ccpulse-api"})', unit="percentunit",
              steps=thresholds((None, "red"), (1, "green")), legend="ready"), 4, 4),

        (row("Service level"), 24, 1),
        (timeseries("Service level (15m) vs target",
                    "Rolling 15-minute service level per queue (answered within threshold / (answered + abandoned − "
                    "short abandons)); dashed: the queue's target.",
                    targets(("ccpulse:queue_service_level:ratio_rate15m", "{{queue}}"),
                            ("max by (queue) (ccpulse_queue_service_level_target_ratio)", "{{queue}} target")),
                    unit="percentunit", min_=0, max_=1, dashed=("B",)), 16, 8),
        (bargauge("Service level, current interval",
                  "Service level of the current 15-minute interval, by each queue's own formula.",
                  "max by (queue) (ccpulse_queue_service_level_ratio)", "{{queue}}",
                  unit="percentunit", steps=SL_STEPS, min_=0, max_=1), 8, 8),

        (row("Queues"), 24, 1),
        (timeseries("Contacts waiting", "Contacts waiting per queue (all channels).",
                    targets((WAITING_BY_QUEUE, "{{queue}}")), stack=True, min_=0), 8, 8),
        (timeseries("Longest wait", "Wait so far of the longest-waiting contact per queue; lines at 2 and 5 minutes.",
                    targets((LONGEST_WAIT_BY_QUEUE, "{{queue}}")), unit="s", steps=WAIT_STEPS, min_=0,
                    threshold_lines=True), 8, 8),
        (bargauge("Agents by state", "Agents staffed on each queue by state (an agent on several queues counts on each).",
                  "max by (queue, state) (ccpulse_queue_agents)", "{{queue}} · {{state}}", min_=0), 8, 8),
        (timeseries("Contacts offered (15m)", "Contacts that entered each queue in the last 15 minutes.",
                    targets(("ccpulse:queue_contacts_offered:increase15m", "{{queue}}")), min_=0), 8, 8),
        (timeseries("Abandon rate (15m)",
                    "(abandoned − short abandons) / (answered + abandoned − short abandons) over 15 minutes; dashed: "
                    "the queue's limit.",
                    targets(("ccpulse:queue_abandon_rate:ratio_rate15m", "{{queue}}"),
                            ("max by (queue) (ccpulse_queue_abandon_rate_limit_ratio)", "{{queue}} limit")),
                    unit="percentunit", min_=0, dashed=("B",)), 8, 8),
        (alerts_table("ccpulse alerts firing", "The stream rules' alerts firing now (docs/operations.md has a runbook per rule).",
                      "max by (queue, rule, severity) (ccpulse_alerts_firing) == 1"), 8, 8),

        (row("Handling and customers"), 24, 1),
        (timeseries("ASA (15m)", "Average speed of answer: mean wait of the contacts answered in the last 15 minutes.",
                    targets(("ccpulse:queue_asa_seconds:mean15m", "{{queue}}")), unit="s", min_=0), 6, 8),
        (timeseries("AHT (1h)", "Average handle time (talk + hold + after-contact work) of the contacts handled in the last hour.",
                    targets(("ccpulse:queue_aht_seconds:mean1h", "{{queue}}")), unit="s", min_=0), 6, 8),
        (timeseries("CSAT (1h)", "Share of CSAT answers in the top two points, last hour.",
                    targets(("ccpulse:queue_csat:ratio_rate1h", "{{queue}}")), unit="percentunit", min_=0, max_=1), 6, 8),
        (timeseries("NPS (1h)", "% promoters − % detractors of the last hour's NPS answers (−100…100).",
                    targets(("ccpulse:queue_nps:score_rate1h", "{{queue}}")), min_=-100, max_=100), 6, 8),

        (row("ccpulse service"), 24, 1),
        (timeseries("Events consumed", "Messages the workers consume per second, by input topic.",
                    targets(("max by (topic) (rate(ccpulse_events_consumed_total[5m]))", "{{topic}}")),
                    unit="ops", min_=0), 6, 7),
        (timeseries("Events rejected", "Messages sent to the dead-letter topic per second, by topic and reason.",
                    targets(("max by (topic, reason) (rate(ccpulse_events_rejected_total[5m]))", "{{topic}} {{reason}}")),
                    unit="ops", min_=0), 6, 7),
        (timeseries("Consumer lag", "Messages the worker group has yet to consume, by input topic.",
                    targets(("max by (topic) (ccpulse_consumer_lag_messages)", "{{topic}}")), min_=0), 6, 7),
        (timeseries("Processing latency and read-model staleness",
                    "p95 of event time → processed by a worker (5m), workers reporting, and the age of the newest "
                    "read-model row per API instance.",
                    targets(("ccpulse:processing_latency_seconds:p95_rate5m", "p95 latency"),
                            ("max by (instance) (ccpulse_read_model_staleness_seconds)", "staleness {{instance}}"),
                            ("max(ccpulse_workers)", "workers")),
                    unit="s", min_=0), 6, 7),
    ]
    return dashboard("ccpulse-overview", "ccpulse / Contact centre overview",
                     "Every queue at a glance: service level against target, waiting contacts, agents, handling "
                     "and surveys. Figures: docs/metrics.md; alerts: docs/operations.md.", items)


# ---- one queue ---------------------------------------------------------------------------------
QUEUE_VARIABLE = {
    "name": "queue",
    "label": "Queue",
    "type": "query",
    "datasource": DS,
    "definition": "label_values(ccpulse_queue_contacts_waiting, queue)",
    "query": {"qryType": 1, "query": "label_values(ccpulse_queue_contacts_waiting, queue)",
              "refId": "PrometheusVariableQueryEditor-VariableQuery"},
    "refresh": 2,  # on time range change
    "sort": 1,
    "multi": False,
    "includeAll": False,
    "current": {},
    "options": [],
    "hide": 0,
    "regex": "",
    "skipUrlSync": False,
}


def drilldown() -> dict[str, Any]:
    q = 'queue="$queue"'
    items: list[tuple[Panel, int, int]] = [
        (row("$queue now"), 24, 1),
        (stat("Waiting", "Contacts waiting in the queue now.",
              f"sum(max by (channel) (ccpulse_queue_contacts_waiting{{{q}}}))", legend="waiting"), 4, 4),
        (stat("Longest wait", "Wait so far of the longest-waiting contact.",
              f"max(ccpulse_queue_longest_wait_seconds{{{q}}})", unit="s", steps=WAIT_STEPS, legend="longest"), 4, 4),
        (stat("Service level, current interval", "The current 15-minute interval, by the queue's own formula.",
              f"max(ccpulse_queue_service_level_ratio{{{q}}})", unit="percentunit", steps=SL_STEPS, legend="SL"), 4, 4),
        (stat("Service-level target", "The queue's target.",
              f"max(ccpulse_queue_service_level_target_ratio{{{q}}})", unit="percentunit", legend="target"), 4, 4),
        (stat("Agents staffed", "Available + on contact + after-contact work.",
              f"sum(max by (state) (ccpulse_queue_agents{{{q}, {STAFFED}}}))",
              steps=thresholds((None, "red"), (1, "green")), legend="staffed"), 4, 4),
        (stat("ccpulse alerts firing", "The stream rules' alerts firing now for this queue.",
              f"count(max by (rule, severity) (ccpulse_alerts_firing{{{q}}}) == 1) or vector(0)",
              steps=thresholds((None, "green"), (1, "red")), legend="alerts"), 4, 4),

        (row("Service level"), 24, 1),
        (timeseries("Service level vs target", "Rolling 15-minute and 1-hour service level; dashed: target.",
                    targets((f"ccpulse:queue_service_level:ratio_rate15m{{{q}}}", "15m"),
                            (f"ccpulse:queue_service_level:ratio_rate1h{{{q}}}", "1h"),
                            (f"max(ccpulse_queue_service_level_target_ratio{{{q}}})", "target")),
                    unit="percentunit", min_=0, max_=1, dashed=("C",)), 12, 8),
        (timeseries("Contacts per 15 minutes", "Offered, answered and abandoned (short abandons included) in the last 15 minutes.",
                    targets((f"ccpulse:queue_contacts_offered:increase15m{{{q}}}", "offered"),
                            (f"ccpulse:queue_contacts_answered:increase15m{{{q}}}", "answered"),
                            (f"ccpulse:queue_contacts_abandoned:increase15m{{{q}}}", "abandoned"),
                            (f"ccpulse:queue_contacts_answered_within_sl:increase15m{{{q}}}", "answered within threshold")),
                    min_=0), 12, 8),

        (row("Waiting and agents"), 24, 1),
        (timeseries("Waiting by channel", "Contacts waiting now, by channel.",
                    targets((f"max by (channel) (ccpulse_queue_contacts_waiting{{{q}}})", "{{channel}}")),
                    stack=True, min_=0), 8, 8),
        (timeseries("Longest wait", "Wait so far of the longest-waiting contact; lines at 2 and 5 minutes.",
                    targets((f"max(ccpulse_queue_longest_wait_seconds{{{q}}})", "longest wait")),
                    unit="s", steps=WAIT_STEPS, min_=0, threshold_lines=True), 8, 8),
        (timeseries("Agents by state", "Agents staffed on the queue by state.",
                    targets((f"max by (state) (ccpulse_queue_agents{{{q}}})", "{{state}}")), stack=True, min_=0), 8, 8),

        (row("Handling and customers"), 24, 1),
        (timeseries("ASA and AHT", "Average speed of answer and average handle time, 15 minutes and 1 hour.",
                    targets((f"ccpulse:queue_asa_seconds:mean15m{{{q}}}", "ASA 15m"),
                            (f"ccpulse:queue_asa_seconds:mean1h{{{q}}}", "ASA 1h"),
                            (f"ccpulse:queue_aht_seconds:mean15m{{{q}}}", "AHT 15m"),
                            (f"ccpulse:queue_aht_seconds:mean1h{{{q}}}", "AHT 1h")),
                    unit="s", min_=0), 8, 8),
        (timeseries("Abandon rate vs limit", "Abandon rate (short abandons excluded), 15 minutes and 1 hour; dashed: limit.",
                    targets((f"ccpulse:queue_abandon_rate:ratio_rate15m{{{q}}}", "15m"),
                            (f"ccpulse:queue_abandon_rate:ratio_rate1h{{{q}}}", "1h"),
                            (f"max(ccpulse_queue_abandon_rate_limit_ratio{{{q}}})", "limit")),
                    unit="percentunit", min_=0, dashed=("C",)), 8, 8),
        (timeseries("CSAT, CES and NPS (1h)", "CSAT (top-two share) and CES (easy share) on the left axis; NPS (−100…100) "
                    "on the right.",
                    targets((f"ccpulse:queue_csat:ratio_rate1h{{{q}}}", "CSAT"),
                            (f"ccpulse:queue_ces_easy:ratio_rate1h{{{q}}}", "CES easy"),
                            (f"ccpulse:queue_nps:score_rate1h{{{q}}}", "NPS")),
                    unit="percentunit", min_=0, max_=1,
                    right_axis={"C": {"unit": "none", "min": -100, "max": 100}}), 8, 8),
        (alerts_table("ccpulse alerts firing", "The stream rules' alerts firing now for this queue.",
                      f"max by (rule, severity) (ccpulse_alerts_firing{{{q}}}) == 1"), 24, 6),

        (row("Response time by weekday and hour"), 24, 1),
        (bargauge("Response time by weekday",
                  "Mean time to answer (email: first response in business hours; the queue's SLA clock) per local "
                  "weekday over today and the 7 days before: summed waits / summed answers. Full table and CSV: "
                  "GET /api/v1/queues/{id}/profile?by=weekday.",
                  f'max by (slot) (ccpulse_queue_profile_response_time_seconds{{{q}, by="weekday"}})', "{{slot}}",
                  unit="s", min_=0), 8, 12),
        (bargauge("Response time by hour of day",
                  "The same per local hour of day (00:00 … 23:00): when in the day do customers wait longest? "
                  "GET /api/v1/queues/{id}/profile?by=hour.",
                  f'max by (slot) (ccpulse_queue_profile_response_time_seconds{{{q}, by="hour"}})', "{{slot}}",
                  unit="s", min_=0), 16, 12),
    ]
    return dashboard("ccpulse-queue", "ccpulse / Queue drill-down",
                     "One queue: live waiting and agents, service level against target over 15 minutes and 1 hour, "
                     "handling, abandons and surveys.", items, [QUEUE_VARIABLE])


# ---- retention (template 2: the customer-retention dashboard) -----------------------------------
def _nps_30d() -> str:
    def count(bucket: str) -> str:
        selector = f'survey="nps",bucket="{bucket}"' if bucket else 'survey="nps"'
        return f"sum(max by (queue, bucket) (increase(ccpulse_survey_responses_total{{{selector}}}[30d])))"
    return f'100 * ({count("promoter")} - {count("detractor")}) / {count("")}'


def retention() -> dict[str, Any]:
    """Template 2 of the product owner's report templates: NPS, loyal and premium customers and CLV on top;
    churn and MRR growth by month; and the link it exists to show, churn by service experienced.
    Centre-wide customer data: Prometheus must scrape /metrics with a token without a queue limit."""
    ratio = thresholds((None, "blue"))
    churn_steps = thresholds((None, "green"), (0.05, "orange"), (0.1, "red"))
    items: list[tuple[Panel, int, int]] = [
        (row("Customers"), 24, 1),
        (stat("NPS (30 days)", "%promoters − %detractors of every NPS answer of the last 30 days (all queues).",
              _nps_30d(), decimals=0, steps=thresholds((None, "red"), (0, "orange"), (30, "green"))), 4, 5),
        (stat("Loyal customers", "Share of subscribed customers who are loyal: subscribed for 12 months or more, "
              "or 3 purchases or more (configurable).", "max(ccpulse_retention_loyal_ratio)", unit="percentunit",
              steps=ratio), 4, 5),
        (stat("Premium customers", "Share of subscribed customers on a premium tier.",
              "max(ccpulse_retention_premium_ratio)", unit="percentunit", steps=ratio), 4, 5),
        (stat("CLV (last month)", "Customer lifetime value = ARPA × gross margin ÷ monthly churn rate, with last "
              "month's churn (empty when nobody churned). Deployment currency.",
              'max(ccpulse_retention_clv{period="previous_month"})', decimals=0), 4, 5),
        (stat("Subscribers", "Subscribed customers now.", "max(ccpulse_retention_subscribers)"), 4, 5),
        (stat("MRR", "Monthly recurring revenue now, in the deployment currency.", "max(ccpulse_retention_mrr)",
              decimals=0), 4, 5),
        (row("Churn and MRR"), 24, 1),
        (timeseries("Customer churn rate", "Churned ÷ customers at the start of the period: the last complete month, "
                    "the running month and the running year.",
                    targets(("max by (period) (ccpulse_retention_churn_rate_ratio)", "{{period}}")),
                    unit="percentunit", min_=0), 12, 8),
        (timeseries("MRR growth rate", "(MRR at the end − MRR at the start) ÷ MRR at the start of the period.",
                    targets(("max by (period) (ccpulse_retention_mrr_growth_ratio)", "{{period}}")),
                    unit="percentunit"), 12, 8),
        (row("Service and churn"), 24, 1),
        (bargauge("Churn by latest NPS answer (last month)", "Churn rate of last month's customers by their latest "
                  "NPS answer: promoter, passive, detractor, or no answer.",
                  'max by (group) (ccpulse_retention_group_churn_rate_ratio{period="previous_month",split="nps"})',
                  "{{group}}", unit="percentunit", steps=churn_steps, min_=0, max_=1), 12, 7),
        (bargauge("Churn after an SLA breach (last month)", "Churn rate of last month's customers who had a contact "
                  "not answered within its queue's threshold (or abandoned after it) in the 30 days before they left "
                  "or the month ended, against those who had none.",
                  'max by (group) (ccpulse_retention_group_churn_rate_ratio{period="previous_month",split="sla_breach"})',
                  "{{group}}", unit="percentunit", steps=churn_steps, min_=0, max_=1), 12, 7),
    ]
    board = dashboard("ccpulse-retention", "ccpulse / Customer retention",
                      "Customer retention: churn, MRR, loyal and premium customers, CLV and churn by service experienced "
                      "(GET /api/v1/retention has every month and year).", items)
    return {**board, "refresh": "5m", "time": {"from": "now-90d", "to": "now"}}


# ---- output ------------------------------------------------------------------------------------
def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def outputs() -> dict[Path, str]:
    """Every file this script writes, with its content."""
    return {
        DASHBOARDS / "contact-centre-overview.json": render(overview()),
        DASHBOARDS / "queue-drilldown.json": render(drilldown()),
        DASHBOARDS / "customer-retention.json": render(retention()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is missing or out of date")
    args = parser.parse_args(argv)
    stale = [path for path, text in outputs().items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(HERE.parent.parent)} (run python deploy/grafana/generate.py)", file=sys.stderr)
        return 1 if stale else 0
    DASHBOARDS.mkdir(parents=True, exist_ok=True)
    for path, text in outputs().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
