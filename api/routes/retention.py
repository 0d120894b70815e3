"""Customer retention per calendar month or year: customers, churn, MRR movements, ARPA, CLV, premium and
loyal customers, and churn split by the customers' latest NPS answer and by service-level breaches.

Who may read it: retention is centre-wide customer data — one figure over every customer, whatever
queue they called — so it needs the ``read`` scope **and a token without a queue limit**. A token
limited to queues (a BPO client's wallboard, say) gets 403: no split of customers by queue exists
that would not reveal other clients' customers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from api.auth import Principal
from api.deps import MIN_QUERY_TIME, CSV_RESPONSE, csv_response, get_principal, parse_time, require, time_param
from api.store import ReadModelStore
from ccpulse.domain.retention import RETENTION_FIELDS, add_months, month_start, period_rows
from schemas.api import ErrorResponse, RetentionList

__all__ = ["MAX_RANGE_YEARS", "router"]

router = APIRouter(prefix="/api/v1", tags=["retention"])

#: The longest range a retention query may ask for.
MAX_RANGE_YEARS = 30


def retention_reader(request: Request, principal: Principal = Depends(get_principal)) -> ReadModelStore:
    """The whole read model, for a ``read`` token without a queue limit (403 otherwise)."""
    require(principal, "read")
    if principal.queues is not None:
        raise HTTPException(403, f"token {principal.name!r} is limited to queues; retention figures are centre-wide "
                                 "customer data and need a token without a queue limit")
    return request.app.state.store


@router.get(
    "/retention", response_model=RetentionList, summary="Customer retention per month or year",
    description="Customers at start, new, churned, churn rate; MRR at start and end with new, expansion, contraction "
                "and churned MRR and the growth rate; ARPA and CLV; premium and loyal customers; churn of the "
                "customers by their latest NPS answer and by service-level breaches in the 30 days before. "
                "Calendar months/years in the configured time zone; amounts in the deployment currency. Needs the "
                "`read` scope and a token without a queue limit.",
    responses={**CSV_RESPONSE,
               403: {"model": ErrorResponse, "description": "The token lacks `read` or is limited to queues"},
               422: {"model": ErrorResponse, "description": "Bad granularity, range or format"}})
async def retention(
    granularity: Literal["month", "year"] = Query("month", description="month or year (calendar, local time)"),
    start: str | None = time_param("start", "default: 11 months (month) or 4 years (year) before the one of `end`"),
    end: str | None = time_param("end", "exclusive; default: now"),
    format: Literal["json", "csv"] = Query("json", description="json, or csv for report exports"),
    store: ReadModelStore = Depends(retention_reader),
):
    start_at, end_at = parse_time("start", start), parse_time("end", end)
    settings = store.settings
    zone = settings.zone
    now = store.event_now()
    end_t = end_at.timestamp() if end_at else now + 1
    if start_at is not None:
        start_t = start_at.timestamp()
    else:
        this_month = month_start(end_t - 1 if end_at else now, zone)
        months_back = -11 if granularity == "month" else -12 * 4
        if this_month + months_back * 31 * 86400 < MIN_QUERY_TIME.timestamp():
            start_t = MIN_QUERY_TIME.timestamp()
        else:
            start_t = add_months(this_month, months_back, zone)
            if granularity == "year":
                local = datetime.fromtimestamp(start_t, zone)
                start_t = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    if end_t <= start_t:
        raise HTTPException(422, "end must be after start")
    if end_t - start_t > MAX_RANGE_YEARS * 366 * 86400:
        raise HTTPException(422, f"range too long: at most {MAX_RANGE_YEARS} years")
    rules = settings.retention
    rows = period_rows(store.retention_totals, granularity, start_t, end_t, rules, zone)
    if format == "csv":
        return csv_response("scope", "centre", RETENTION_FIELDS, rows, f"retention-{granularity}.csv")
    return {"granularity": granularity, "timezone": settings.timezone, "currency": rules.currency,
            "gross_margin": rules.gross_margin, "loyal_min_months": rules.loyal_min_months,
            "loyal_min_purchases": rules.loyal_min_purchases, "premium_tiers": rules.premium_tiers,
            "breach_window_days": rules.breach_window_days, "periods": rows}
