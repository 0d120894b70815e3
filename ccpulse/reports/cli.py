"""``ccpulse report``: a template for a month or year, from the read API, as HTML or CSV."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ccpulse.reports.client import ApiClient, ApiError, ApiUnreachable
from ccpulse.reports.model import TEMPLATES, ReportProblem, build_report, parse_period
from ccpulse.reports.render import csv_rows, to_csv, to_html
from ccpulse.settings import Settings

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", required=True, metavar="|".join(TEMPLATES),
                        help="satisfaction (CSAT/NPS/CES), retention (churn, MRR, CLV) or team (FCR, resolution, AHT)")
    parser.add_argument("--period", required=True, help="a month YYYY-MM (e.g. 2026-03) or a year YYYY, in the "
                                                        "API's time zone")
    parser.add_argument("--queue", default=None, help="one queue only (satisfaction, team)")
    parser.add_argument("--format", default="html", metavar="html|csv",
                        help="html (self-contained, with charts) or csv (section,table,entity,metric,period,value)")
    parser.add_argument("--output", default=None,
                        help="file to write (default report-<template>-<period>.<format>; - for standard output)")
    parser.add_argument("--api", default=None, help="the read API (default http://CCPULSE_API_HOST:CCPULSE_API_PORT)")
    parser.add_argument("--token", default=None, help="an API token with the read scope (default CCPULSE_API_TOKEN)")


def _say(message: str) -> None:
    print(f"ccpulse report: {message}", file=sys.stderr, flush=True)


def _fail(message: str, code: int = 2) -> int:
    print(f"ccpulse: {message}", file=sys.stderr, flush=True)
    return code


def run(args: argparse.Namespace, settings: Settings) -> int:
    """0 written; 1 the API failed or could not be reached; 2 a bad request (template, period, format, file)."""
    if args.template not in TEMPLATES:
        return _fail(f"unknown template {args.template!r}: choose one of {', '.join(TEMPLATES)}")
    if args.format not in ("html", "csv"):
        return _fail(f"unknown format {args.format!r}: choose html or csv")
    try:
        parse_period(args.period)
    except ReportProblem as exc:
        return _fail(str(exc))
    if args.template == "retention" and args.queue:
        return _fail("the retention report is centre-wide customer data and cannot be limited to a queue: drop --queue")
    output = args.output or f"report-{args.template}-{args.period}.{args.format}"
    if output != "-" and not Path(output).resolve().parent.is_dir():
        return _fail(f"cannot write {output}: its directory does not exist")
    host = settings.api_host if settings.api_host not in ("0.0.0.0", "::") else "127.0.0.1"
    api = (args.api or f"http://{host}:{settings.api_port}").rstrip("/")
    token = args.token or os.environ.get("CCPULSE_API_TOKEN") or None
    started = time.monotonic()
    last = [0.0]

    def progress(done: int, path: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            _say(f"{done} API requests… ({path})")

    client = ApiClient(api, token, on_request=progress)
    _say(f"building the {args.template} report for {args.period} from {api}")
    try:
        report = build_report(args.template, args.period, client, queue=args.queue, api=api,
                              generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    except ReportProblem as exc:
        return _fail(str(exc))
    except ApiUnreachable:
        return _fail(f"cannot reach the API at {api}; start it with ccpulse api (or give its address with --api)", 1)
    except ApiError as exc:
        if exc.status == 401:
            return _fail(f"the API at {api} wants a token: give one with --token or CCPULSE_API_TOKEN "
                         f"(ccpulse token create --name reports --scopes read)", 1)
        if exc.status == 403:
            return _fail(f"the API refused the token: {exc.detail}", 1)
        if exc.status == 404:
            return _fail(f"{exc.detail} (the API at {api} does not know it)", 2)
        return _fail(f"the API at {api} answered {exc.status} to {exc.path}: {exc.detail}", 1)
    text = to_csv(report) if args.format == "csv" else to_html(report)
    try:
        if output == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {output}: {exc.strerror or exc}")
    figures = len(csv_rows(report))
    charts = sum(len(s.charts) for s in report.sections)
    _say(f"{report.title.lower()} {report.period}: {figures:,} figures in {sum(len(s.tables) for s in report.sections)} "
         f"tables" + (f" and {charts} charts" if args.format == "html" else "") +
         f" from {client.requests} API requests in {time.monotonic() - started:.1f} s; written to "
         f"{'standard output' if output == '-' else output}")
    return 0
