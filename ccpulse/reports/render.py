"""Report renderers: one CSV file (long format) and one self-contained HTML file.

CSV — one line per figure, columns ``section,table,entity,metric,period,value``: ``section`` and
``table`` name where the figure stands on the report, ``entity`` the queue, team, agent, channel,
customer group or ``centre``, ``period`` the calendar period (``2026-03``), day (``2026-03-05``) or
weekday slot (``mon``), ``value`` the API's value as it is (ratios 0–1, seconds, currency amounts;
empty = null, i.e. nothing to divide by or no data). The first line is the header; nothing else (no
comment lines), so any CSV reader takes the file as it is.

HTML — the tables with every figure (each cell carries ``data-metric``, ``data-entity``,
``data-period`` and the raw ``data-value``), and Chart.js charts drawn from those same tables.
Chart.js (``assets/chart.umd.min.js``, MIT) is inlined: the file needs no network to be viewed.
"""

from __future__ import annotations

import csv
import html
import io
import json
from importlib import resources
from typing import Any

from ccpulse.csv_safety import csv_cell
from ccpulse.reports.model import Chart, Column, Report, Table

__all__ = ["CHART_JS_VERSION", "CSV_COLUMNS", "csv_rows", "to_csv", "to_html"]

CHART_JS_VERSION = "4.6.1"
CSV_COLUMNS = ("section", "table", "entity", "metric", "period", "value")


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_rows(report: Report) -> list[tuple[str, str, str, str, str, str]]:
    """Every figure of the report as (section, table, entity, metric, period, value)."""
    out = []
    for section, table in report.tables():
        for row in table.rows:
            for column in table.columns:
                out.append((section.id, table.id, csv_cell(row.entity), column.metric, row.period,
                            _csv_value(row.values.get(column.metric))))
    return out


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(report))
    return buffer.getvalue()


# ---- HTML ---------------------------------------------------------------------------------------
def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def shown(value: Any, fmt: str, currency: str | None = None) -> str:
    """How a value is shown in a table cell ("–" for null: nothing to divide by, or no data)."""
    if value is None:
        return "–"
    if fmt == "text":
        return str(value)
    if fmt == "ratio":
        return f"{value * 100:.1f} %"
    if fmt == "seconds":
        return _duration(float(value))
    if fmt == "money":
        return f"{value:,.2f}" + (f" {currency}" if currency else "")
    if fmt == "score":
        return f"{value:.1f}" if isinstance(value, float) else str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _seconds_unit(values: list[float]) -> tuple[str, float]:
    top = max((abs(v) for v in values), default=0.0)
    if top >= 7200:
        return "hours", 3600.0
    if top >= 120:
        return "minutes", 60.0
    return "seconds", 1.0


def _chart_config(chart: Chart, table: Table) -> dict[str, Any]:
    """The Chart.js configuration of a chart: the table's values, only rescaled for display
    (ratios to %, seconds to minutes or hours) — never recomputed."""
    columns = {c.metric: c for c in table.columns}
    fmts = {columns[m].fmt for m in chart.metrics}
    fmt = fmts.pop() if len(fmts) == 1 else "count"
    raw = [r.values.get(m) for r in table.rows for m in chart.metrics]
    scale, unit = 1.0, ""
    if fmt == "ratio":
        scale, unit = 100.0, "%"
    elif fmt == "seconds":
        unit, divisor = _seconds_unit([v for v in raw if v is not None])
        scale = 1 / divisor

    def scaled(v: Any) -> Any:
        return None if v is None else round(v * scale, 4)

    datasets = []
    if chart.x == "entity":
        labels = [r.entity for r in table.rows]
        for metric in chart.metrics:
            datasets.append({"label": columns[metric].label, "data": [scaled(r.values.get(metric)) for r in table.rows]})
    else:
        labels = list(dict.fromkeys(r.period for r in table.rows))
        entities = list(dict.fromkeys(r.entity for r in table.rows))
        for entity in entities:
            by_period = {r.period: r.values for r in table.rows if r.entity == entity}
            for metric in chart.metrics:
                name = columns[metric].label if len(entities) == 1 else (
                    entity if len(chart.metrics) == 1 else f"{entity} — {columns[metric].label}")
                datasets.append({"label": name, "data": [scaled(by_period.get(p, {}).get(metric)) for p in labels],
                                 "spanGaps": True})
    return {"type": chart.kind, "data": {"labels": labels, "datasets": datasets},
            "options": {"animation": False, "responsive": True, "maintainAspectRatio": False,
                        "plugins": {"legend": {"position": "bottom"}},
                        "scales": {"y": {"beginAtZero": chart.kind == "bar" or fmt != "score",
                                         "title": {"display": bool(unit), "text": unit}}}}}


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c9cfdb;font-size:13px}main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border-radius:8px;padding:14px 18px;margin:16px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:17px;margin:0 0 8px}h3{font-size:14px;margin:14px 0 6px;color:#3c4558}
.note{color:#5b6477;font-size:12.5px;margin:2px 0 8px}.source{color:#7a8293;font-size:11.5px;font-family:monospace}
.kpis{display:flex;flex-wrap:wrap;gap:10px}.kpi{border:1px solid #e1e4ea;border-radius:6px;padding:8px 12px;min-width:130px}
.kpi .label{font-size:12px;color:#5b6477}.kpi .value{font-size:22px;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{flex:1 1 420px;min-width:320px}
.chart .box{position:relative;height:260px}
table{border-collapse:collapse;width:100%;font-size:12.5px;margin:4px 0}
th,td{border-bottom:1px solid #e6e8ee;padding:4px 6px;text-align:right;white-space:nowrap}
th:first-child,td:first-child,th.text,td.text{text-align:left}th{background:#f0f2f6;font-weight:600}
.wrap{overflow-x:auto}footer{color:#7a8293;font-size:12px;padding:0 28px 24px}
"""


def _kpis(table: Table, currency: str | None) -> str:
    row = table.rows[0] if table.rows else None
    tiles = []
    for column in table.columns:
        value = row.values.get(column.metric) if row else None
        tiles.append(
            f'<div class="kpi" data-metric="{html.escape(column.metric)}" data-entity="{html.escape(row.entity if row else "")}" '
            f'data-period="{html.escape(row.period if row else "")}" data-value="{html.escape(_csv_value(value))}">'
            f'<div class="label">{html.escape(column.label)}</div>'
            f'<div class="value">{html.escape(shown(value, column.fmt, currency))}</div></div>')
    return f'<div class="kpis" id="{table.id}">{"".join(tiles)}</div>'


def _table(table: Table, currency: str | None) -> str:
    head = "".join(f'<th class="{"text" if c.fmt == "text" else ""}">{html.escape(c.label)}</th>' for c in table.columns)
    lines = []
    for row in table.rows:
        cells = "".join(
            f'<td class="{"text" if c.fmt == "text" else ""}" data-metric="{html.escape(c.metric)}" '
            f'data-value="{html.escape(_csv_value(row.values.get(c.metric)))}">'
            f'{html.escape(shown(row.values.get(c.metric), c.fmt, currency))}</td>' for c in table.columns)
        lines.append(f'<tr data-entity="{html.escape(row.entity)}" data-period="{html.escape(row.period)}">'
                     f'<td class="text">{html.escape(row.entity)}</td><td class="text">{html.escape(row.period)}</td>'
                     f'{cells}</tr>')
    body = "".join(lines) or f'<tr><td colspan="{len(table.columns) + 2}" class="text">no data</td></tr>'
    return (f'<div class="wrap"><table id="{table.id}" data-table="{table.id}"><thead><tr>'
            f'<th class="text">{html.escape(table.entity_label)}</th><th class="text">{html.escape(table.period_label)}</th>'
            f'{head}</tr></thead><tbody>{body}</tbody></table></div>')


def _chart_js() -> str:
    return resources.files("ccpulse.reports").joinpath("assets/chart.umd.min.js").read_text(encoding="utf-8")


def to_html(report: Report) -> str:
    charts: dict[str, Any] = {}
    parts = []
    for section in report.sections:
        tables = {t.id: t for t in section.tables}
        out = [f'<section id="section-{section.id}" data-section="{section.id}"><h2>{html.escape(section.title)}</h2>']
        if section.note:
            out.append(f'<p class="note">{html.escape(section.note)}</p>')
        for table in section.tables:
            if table.kpi:
                out.append(_kpis(table, report.currency))
        if section.charts:
            out.append('<div class="charts">')
            for chart in section.charts:
                charts[chart.id] = _chart_config(chart, tables[chart.table])
                out.append(f'<div class="chart"><h3>{html.escape(chart.title)}</h3>'
                           f'<div class="box"><canvas id="{chart.id}" data-chart="{chart.id}" '
                           f'data-table="{chart.table}" role="img" aria-label="{html.escape(chart.title)}"></canvas>'
                           f'</div></div>')
            out.append("</div>")
        for table in section.tables:
            out.append(f'<h3>{html.escape(table.title)}</h3>')
            out.append(_table(table, report.currency))
            out.append(f'<p class="source">{html.escape(table.source)}</p>')
        out.append("</section>")
        parts.append("".join(out))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    data = json.dumps(charts, allow_nan=False).replace("</", "<\\/")
    title = f"{report.title} — {report.period}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · ccpulse</title><style>{_STYLE}</style></head>
<body data-template="{report.template}" data-period="{html.escape(report.period)}">
<header><h1>{html.escape(title)}</h1>
<p>{html.escape(report.start)} to {html.escape(report.end)} ({html.escape(report.timezone)}) · figures from the ccpulse
read API at {html.escape(report.api)} · generated {html.escape(report.generated_at)}</p></header>
<main>{"".join(parts)}{f'<section><h2>Notes</h2><ul class="note">{notes}</ul></section>' if notes else ''}</main>
<footer>ccpulse report · charts: Chart.js {CHART_JS_VERSION} (MIT), inlined · "–" = nothing to divide by, or no data</footer>
<script>{_chart_js()}</script>
<script>
(function () {{
  var charts = {data};
  Object.keys(charts).forEach(function (id) {{
    new Chart(document.getElementById(id), charts[id]);
  }});
  document.body.setAttribute("data-charts-ready", String(Object.keys(charts).length));
}})();
</script>
</body></html>
"""
