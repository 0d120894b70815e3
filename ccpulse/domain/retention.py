"""Customer retention: how a customer's subscription, purchase and service history becomes
monthly and yearly facts (customers, churn, MRR movements, premium and loyal customers, and
churn split by the customer's latest NPS answer and by service-level breaches).

Why the shape. A retention figure of a month depends on every customer, also those who did
nothing that month (a customer subscribed since 2023 is one of March's "customers at start").
Emitting a row per customer per month would grow without bound, so a customer's facts are
split into two kinds of *contributions*, both additive across customers:

* **Levels** (customers, MRR, premium, loyal, and the customers in each NPS / breach group)
  are sent as *changes* ``d_<measure>`` in the month whose end they change. The level at the
  end of month *M* is the sum of the changes of every month up to *M* (a prefix sum), so a
  quiet customer contributes nothing to quiet months and is still counted in them.
* **Flows** of a period (new and churned customers, the MRR movements, purchases, the churned
  and new customers per group) are counted in that period only.

Every figure is a pure function of the customer's events (sorted by event time, de-duplicated
by ``event_id``) and of its contacts' service facts, exactly as a contact's figures are: the
driver re-folds after each event and publishes the customer's contributions, so arrival order,
duplicates and redeliveries cannot change a figure, and a late event revises the past.

Definitions (docs/metrics.md, "Customer retention"): a customer is *active* from a
``customer.subscription_started`` until a ``customer.subscription_cancelled``. A period
(calendar month or year in the configured time zone) compares the customer at its start (after
every event before it) with its end: inactive → active is *new*, active → inactive is
*churned*; MRR movements compare the two MRRs. A customer who joins and leaves within one
period is neither new nor churned in it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ccpulse.domain import formulas
from ccpulse.domain.intervals import iso, local_start
from ccpulse.settings import RetentionSettings
from schemas.events import CUSTOMER_EVENT_TYPES, CustomerEvent, EventRejected, decode_event

__all__ = [
    "CurrencyMismatch",
    "accept_customer_event",
    "LEVELS",
    "NPS_GROUPS",
    "RETENTION_FIELDS",
    "SLA_GROUPS",
    "add_months",
    "clv",
    "retention_contributions",
    "customer_record",
    "fact_record",
    "month_key",
    "month_start",
    "period_rows",
    "period_bounds",
    "sum_contributions",
    "to_milli",
    "year_key",
]

#: The customer's latest NPS answer (docs/metrics.md): ``no_answer`` when it never answered.
NPS_GROUPS: tuple[str, ...] = ("promoter", "passive", "detractor", "no_answer")
#: Whether one of the customer's contacts breached its queue's service level in the window.
SLA_GROUPS: tuple[str, ...] = ("breached", "not_breached")
#: Level measures (sent as changes ``d_<level>``; the API sums them up to each period).
LEVELS: tuple[str, ...] = ("active", "mrr_milli", "premium", "loyal",
                           *(f"nps_{g}" for g in NPS_GROUPS), *(f"sla_{g}" for g in SLA_GROUPS))

Contributions = dict[str, dict[str, int]]

# Same-instant order: a start before a change before a purchase before a cancellation.
_RANK = {"customer.subscription_started": 0, "customer.subscription_changed": 1, "customer.purchase": 2,
         "customer.subscription_cancelled": 3}


class CurrencyMismatch(ValueError):
    """An amount in another currency than the deployment's, without an explicit exchange rate."""


def to_milli(amount: float, currency: str, exchange_rate: float | None, deployment_currency: str) -> int:
    """``amount`` in thousandths of the deployment currency (integers, so sums are exact in any order).

    Another currency is converted only with an explicit ``exchange_rate`` (deployment-currency
    units per unit of ``currency``); without one the amount is refused, never summed as it is.
    """
    if currency == deployment_currency:
        if exchange_rate not in (None, 1, 1.0):
            raise CurrencyMismatch(f"exchange_rate {exchange_rate} given for an amount already in {currency}")
        return round(amount * 1000)
    if exchange_rate is None:
        raise CurrencyMismatch(f"amount in {currency}, but this deployment counts in {deployment_currency}: "
                               f"convert it, or send exchange_rate ({deployment_currency} per {currency})")
    return round(amount * exchange_rate * 1000)


def customer_record(event: Any, raw: bytes, src: str, offset: int, deployment_currency: str) -> dict[str, Any]:
    """The compact form in which a customer keeps one of its events (amounts converted, original bytes
    kept for dead-lettering). Raises :class:`CurrencyMismatch`."""
    rec: dict[str, Any] = {"id": event.event_id, "type": event.type, "t": event.at, "src": src, "off": offset}
    if event.type in ("customer.subscription_started", "customer.subscription_changed"):
        rec["mrr_milli"] = to_milli(event.mrr, event.currency, event.exchange_rate, deployment_currency)
        rec["plan"] = event.plan
        if event.tier is not None:
            rec["tier"] = event.tier
    elif event.type == "customer.purchase":
        rec["amount_milli"] = to_milli(event.amount, event.currency, event.exchange_rate, deployment_currency)
    rec["raw"] = raw.decode("utf-8", "replace")
    return rec


def accept_customer_event(raw: bytes | None, src: str, offset: int, deployment_currency: str) -> tuple[str, dict[str, Any]]:
    """Decode a message of the customer-events topic into (customer id, the record it keeps), or raise
    :class:`~schemas.events.EventRejected`: the contract's reasons, ``wrong_topic`` (a contact, survey
    or agent event here) and ``currency_mismatch`` (an amount that cannot be counted in the deployment
    currency: refused, never summed with the others)."""
    event = decode_event(raw)
    if event.type not in CUSTOMER_EVENT_TYPES:
        raise EventRejected("wrong_topic", f"{event.type} belongs on the contact, survey or agent topic")
    assert isinstance(event, CustomerEvent)  # the types of CUSTOMER_EVENT_TYPES
    try:
        return event.customer_id, customer_record(event, raw or b"", src, offset, deployment_currency)
    except CurrencyMismatch as exc:
        raise EventRejected("currency_mismatch", f"{event.type}: {exc}") from None


def fact_record(contact_record: Mapping[str, Any]) -> dict[str, Any] | None:
    """What retention keeps of a contact of the customer (a record ``fold_contact`` makes): when it
    breached its queue's service level and its latest NPS answer. None when it has neither."""
    out: dict[str, Any] = {}
    if contact_record.get("breached_at") is not None:
        out["breached_at"] = contact_record["breached_at"]
    nps = contact_record.get("nps")
    if nps is not None:
        out["nps_at"], out["nps"] = nps["at"], nps["bucket"]
    return out or None


# ---- calendar ---------------------------------------------------------------------------------
def month_start(t: float, zone: ZoneInfo) -> float:
    """Start of the local calendar month holding ``t``."""
    local = datetime.fromtimestamp(t, zone)
    return datetime(local.year, local.month, 1, tzinfo=zone).timestamp()


def _month_of(t: float, zone: ZoneInfo) -> tuple[int, int]:
    local = datetime.fromtimestamp(t, zone)
    return local.year, local.month


def _next_month(ym: tuple[int, int]) -> tuple[int, int]:
    year, month = ym
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _ym_start(ym: tuple[int, int], zone: ZoneInfo) -> float:
    return local_start(ym[0], ym[1], 1, zone)


def add_months(t: float, months: int, zone: ZoneInfo) -> float:
    """``t`` plus whole calendar months in ``zone`` (31 January + 1 month = 28/29 February)."""
    local = datetime.fromtimestamp(t, zone)
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    days = (datetime(year + (month == 12), month % 12 + 1, 1) - datetime(year, month, 1)).days
    moved = local.replace(tzinfo=None).replace(year=year, month=month, day=min(local.day, days))
    return moved.replace(tzinfo=zone).timestamp()


def month_key(ym: tuple[int, int]) -> str:
    return f"month|{ym[0]:04d}-{ym[1]:02d}"


def year_key(year: int) -> str:
    return f"year|{year:04d}"


def period_bounds(key: str, zone: ZoneInfo) -> tuple[float, float]:
    """[start, end) of ``month|YYYY-MM`` or ``year|YYYY`` in ``zone``."""
    kind, _, label = key.partition("|")
    if kind == "month":
        ym = (int(label[:4]), int(label[5:7]))
        return _ym_start(ym, zone), _ym_start(_next_month(ym), zone)
    year = int(label)
    return _ym_start((year, 1), zone), _ym_start((year + 1, 1), zone)


# ---- one customer -----------------------------------------------------------------------------
@dataclass
class _State:
    active: bool = False
    mrr: int = 0
    tier: str | None = None
    activated_at: float | None = None
    purchases: int = 0


@dataclass
class _Timeline:
    """The customer's state after each of its (sorted) events."""

    times: list[float] = field(default_factory=list)
    states: list[_State] = field(default_factory=list)
    activations: list[float] = field(default_factory=list)
    deactivations: list[float] = field(default_factory=list)
    purchases: list[tuple[float, int]] = field(default_factory=list)

    def before(self, t: float) -> _State:
        """The state after every event earlier than ``t``."""
        index = bisect.bisect_left(self.times, t)
        return self.states[index - 1] if index else _State()


def _timeline(events: Iterable[Mapping[str, Any]]) -> _Timeline:
    """Replay the events. A change while not subscribed starts a subscription (its start is missing
    or still on its way: the figures follow once it arrives); a cancellation while not subscribed
    changes nothing."""
    line = _Timeline()
    state = _State()
    for rec in sorted(events, key=lambda r: (r["t"], _RANK.get(r["type"], 9), r["id"])):
        kind, t = rec["type"], rec["t"]
        state = _State(state.active, state.mrr, state.tier, state.activated_at, state.purchases)
        if kind in ("customer.subscription_started", "customer.subscription_changed"):
            if not state.active:
                state.active, state.activated_at = True, t
                line.activations.append(t)
            state.mrr, state.tier = rec["mrr_milli"], rec.get("tier")
        elif kind == "customer.subscription_cancelled":
            if state.active:
                state.active, state.mrr, state.tier = False, 0, None
                line.deactivations.append(t)
        elif kind == "customer.purchase":
            state.purchases += 1
            line.purchases.append((t, rec["amount_milli"]))
        line.times.append(t)
        line.states.append(state)
    return line


class _Service:
    """The customer's contacts: their breach times and NPS answers."""

    def __init__(self, facts: Iterable[Mapping[str, Any]], window_seconds: float) -> None:
        self.breaches = sorted(f["breached_at"] for f in facts if f.get("breached_at") is not None)
        self.answers = sorted((f["nps_at"], f["nps"]) for f in facts if f.get("nps_at") is not None)
        self.window = window_seconds

    def nps_group(self, r: float, inclusive: bool) -> str:
        """The customer's latest NPS answer given before ``r`` (at ``r`` too when ``inclusive``)."""
        times = [a for a, _ in self.answers]
        index = (bisect.bisect_right if inclusive else bisect.bisect_left)(times, r)
        return self.answers[index - 1][1] if index else "no_answer"

    def sla_group(self, r: float, inclusive: bool) -> str:
        """``breached`` when a contact breached its service level within the window before ``r``."""
        high = (bisect.bisect_right if inclusive else bisect.bisect_left)(self.breaches, r)
        low = bisect.bisect_left(self.breaches, r - self.window)
        return "breached" if high > low else "not_breached"


def _loyal(state: _State, end: float, rules: RetentionSettings, zone: ZoneInfo) -> bool:
    if not state.active:
        return False
    if rules.loyal_min_purchases is not None and state.purchases >= rules.loyal_min_purchases:
        return True
    return (rules.loyal_min_months is not None and state.activated_at is not None
            and add_months(state.activated_at, rules.loyal_min_months, zone) < end)


def _levels(line: _Timeline, service: _Service, end: float, rules: RetentionSettings, zone: ZoneInfo) -> dict[str, int]:
    """Level measures of the customer just before ``end`` (a month's end)."""
    state = line.before(end)
    if not state.active:
        return {}
    return {
        "active": 1,
        "mrr_milli": state.mrr,
        "premium": int(state.tier is not None and state.tier in rules.premium_tiers),
        "loyal": int(_loyal(state, end, rules, zone)),
        f"nps_{service.nps_group(end, inclusive=False)}": 1,
        f"sla_{service.sla_group(end, inclusive=False)}": 1,
    }


def _flows(line: _Timeline, service: _Service, start: float, end: float) -> dict[str, int]:
    """Flow measures of the period [start, end)."""
    before, after = line.before(start), line.before(end)
    out: dict[str, int] = {}
    if not before.active and after.active:
        out["new"] = 1
        out["new_mrr_milli"] = after.mrr
        out[f"new_nps_{service.nps_group(end, inclusive=False)}"] = 1
        out[f"new_sla_{service.sla_group(end, inclusive=False)}"] = 1
    elif before.active and not after.active:
        out["churned"] = 1
        out["churned_mrr_milli"] = before.mrr
        # The churn moment: its last cancellation in the period (the one that left it inactive).
        r = line.deactivations[bisect.bisect_left(line.deactivations, end) - 1]
        out[f"churned_nps_{service.nps_group(r, inclusive=True)}"] = 1
        out[f"churned_sla_{service.sla_group(r, inclusive=True)}"] = 1
    elif before.active and after.active:
        if after.mrr > before.mrr:
            out["expansion_mrr_milli"] = after.mrr - before.mrr
        elif after.mrr < before.mrr:
            out["contraction_mrr_milli"] = before.mrr - after.mrr
    bought = [amount for t, amount in line.purchases if start <= t < end]
    if bought:
        out["purchases"] = len(bought)
        out["purchase_revenue_milli"] = sum(bought)
    return {k: v for k, v in out.items() if v}


def retention_contributions(events: Iterable[Mapping[str, Any]], facts: Iterable[Mapping[str, Any]],
                           rules: RetentionSettings, zone: ZoneInfo) -> Contributions:
    """A customer's contributions: ``month|YYYY-MM`` → level changes ``d_*`` and flows, and
    ``year|YYYY`` → flows, for every period in which something about the customer changed.

    ``events`` are the customer's event records (:func:`customer_record`), ``facts`` its
    contacts' service facts (:func:`fact_record`).
    """
    line = _timeline(events)
    facts = list(facts)
    service = _Service(facts, rules.breach_window_days * 86400)
    points = list(line.times)
    points += service.breaches + [b + service.window for b in service.breaches]
    points += [a for a, _ in service.answers]
    if rules.loyal_min_months is not None:
        points += [add_months(a, rules.loyal_min_months, zone) for a in line.activations]
    if not line.times:
        return {}
    # Nothing can change before the first event: service facts of earlier contacts only matter later.
    first = min(line.times)
    months = sorted({_month_of(max(p, first), zone) for p in points})
    out: Contributions = {}
    previous: dict[str, int] = {}
    for ym in months:
        start, end = _ym_start(ym, zone), _ym_start(_next_month(ym), zone)
        levels = _levels(line, service, end, rules, zone)
        bucket = {f"d_{m}": levels.get(m, 0) - previous.get(m, 0) for m in LEVELS}
        bucket = {k: v for k, v in bucket.items() if v}
        bucket.update(_flows(line, service, start, end))
        previous = levels
        if bucket:
            out[month_key(ym)] = bucket
    for year in sorted({ym[0] for ym in months}):
        flows = _flows(line, service, _ym_start((year, 1), zone), _ym_start((year + 1, 1), zone))
        if flows:
            out[year_key(year)] = flows
    return out


def sum_contributions(into: dict[str, dict[str, int]], contributions: Mapping[str, Mapping[str, int]],
                      sign: int = 1) -> dict[str, dict[str, int]]:
    """Add (``sign`` 1) or take back (−1) one customer's contributions to the totals of all customers."""
    for key, measures in contributions.items():
        bucket = into.setdefault(key, {})
        for measure, value in measures.items():
            total = bucket.get(measure, 0) + sign * value
            if total:
                bucket[measure] = total
            else:
                bucket.pop(measure, None)
        if not bucket:
            del into[key]
    return into


# ---- figures ----------------------------------------------------------------------------------
def clv(arpa: float | None, gross_margin: float, monthly_churn_rate: float | None) -> float | None:
    """Customer lifetime value = ARPA × gross margin ÷ monthly churn rate.

    Assumes ARPA and the churn rate stay as they are, so a customer stays 1 ÷ churn months on
    average (a geometric lifetime). None when churn is 0 or unknown (an endless lifetime is no
    figure) or there is no ARPA.
    """
    if arpa is None or monthly_churn_rate is None or monthly_churn_rate <= 0:
        return None
    return arpa * gross_margin / monthly_churn_rate


#: Columns of a retention row (API and CSV), in order.
RETENTION_FIELDS: tuple[str, ...] = (
    "period", "period_start", "period_end", "granularity",
    "customers_start", "new_customers", "churned_customers", "customers_end", "churn_rate",
    "mrr_start", "new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "mrr_end", "net_new_mrr",
    "mrr_growth_rate", "arpa", "clv", "monthly_churn_rate",
    "premium_customers", "premium_rate", "loyal_customers", "loyal_rate", "purchases", "purchase_revenue",
    *(f"{kind}_{group}" for group in NPS_GROUPS for kind in ("customers_nps", "churned_nps", "churn_rate_nps")),
    *(f"{kind}_{group}" for group in SLA_GROUPS for kind in ("customers_sla", "churned_sla", "churn_rate_sla")),
)


def _money(milli: float | None) -> float | None:
    return None if milli is None else round(milli / 1000.0, 3)


def _previous_month(ym: tuple[int, int]) -> tuple[int, int]:
    year, month = ym
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _months_between(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    out, ym = [], first
    while ym <= last:
        out.append(ym)
        ym = _next_month(ym)
    return out


def period_rows(totals: Mapping[str, Mapping[str, int]], granularity: str, start: float, end: float,
                rules: RetentionSettings, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Retention figures of every month (``granularity`` "month") or year ("year") overlapping
    [start, end), from the first month with data on. Sums of counts, then the formulas.

    The walk month by month starts at the later of the first month with data and the first month
    of the first period asked for (the year's January for years): the levels before it are the sum
    of the sparse monthly changes before it, so a range far from the data costs its own months only
    (a walk from the data to the year 9000 took 11.9 s on the event loop)."""
    months_with_data = sorted(k for k in totals if k.startswith("month|"))
    if not months_with_data:
        return []
    first = (int(months_with_data[0][6:10]), int(months_with_data[0][11:13]))
    last = _month_of(max(end - 1, _ym_start(first, zone)), zone)  # the last month asked for
    # A year's end levels are those at the end of its December, also for the running year: its
    # flows (new, churned, per group) compare the year's start with its end, so must its levels.
    through = (last[0], 12) if granularity == "year" else last
    asked = _month_of(start, zone)
    # The month before the first period asked for also carries levels (its "before" figures).
    begin = max(first, _previous_month((asked[0], 1) if granularity == "year" else asked))
    level: dict[str, int] = {}
    for key in months_with_data:
        ym = (int(key[6:10]), int(key[11:13]))
        if ym >= begin:
            break
        for m in LEVELS:
            level[m] = level.get(m, 0) + totals[key].get(f"d_{m}", 0)
    at_end: dict[tuple[int, int], dict[str, int]] = {}  # month -> levels at its end
    for ym in _months_between(begin, through):
        changes = totals.get(month_key(ym), {})
        for m in LEVELS:
            level[m] = level.get(m, 0) + changes.get(f"d_{m}", 0)
        at_end[ym] = dict(level)

    def levels_before(ym: tuple[int, int]) -> dict[str, int]:
        year, month = ym
        prev = (year - 1, 12) if month == 1 else (year, month - 1)
        return at_end.get(prev, {})

    def monthly_churn(months: list[tuple[int, int]]) -> float | None:
        churned = sum(totals.get(month_key(ym), {}).get("churned", 0) for ym in months)
        base = sum(levels_before(ym).get("active", 0) for ym in months)
        return formulas.ratio(churned, base)

    rows = []
    if granularity == "month":
        periods = [(month_key(ym), [ym]) for ym in at_end]
    elif granularity == "year":
        years = sorted({ym[0] for ym in at_end})
        periods = [(year_key(y), [ym for ym in at_end if ym[0] == y]) for y in years]
    else:
        raise ValueError(f"unknown granularity {granularity!r}; use month or year")
    for key, months in periods:
        p_start, p_end = period_bounds(key, zone)
        if not (p_end > start and p_start < end):
            continue
        before, after = levels_before(months[0]), at_end[months[-1]]
        flows = totals.get(key, {})
        # The mean monthly churn of a year: over its months up to the last one asked for.
        churn = monthly_churn([ym for ym in months if ym <= last])
        rows.append(_row(key, granularity, p_start, p_end, before, after, flows, churn, rules, zone))
    return rows


def _row(key: str, granularity: str, p_start: float, p_end: float, before: Mapping[str, int],
         after: Mapping[str, int], flows: Mapping[str, int], monthly_churn: float | None,
         rules: RetentionSettings, zone: ZoneInfo) -> dict[str, Any]:
    customers_start, customers_end = before.get("active", 0), after.get("active", 0)
    churned = flows.get("churned", 0)
    mrr_start, mrr_end = before.get("mrr_milli", 0), after.get("mrr_milli", 0)
    arpa = formulas.ratio(mrr_end, customers_end)
    churn_rate = formulas.ratio(churned, customers_start)
    row: dict[str, Any] = {
        "period": key.partition("|")[2],
        "period_start": iso(p_start, zone),
        "period_end": iso(p_end, zone),
        "granularity": granularity,
        "customers_start": customers_start,
        "new_customers": flows.get("new", 0),
        "churned_customers": churned,
        "customers_end": customers_end,
        "churn_rate": churn_rate,
        "mrr_start": _money(mrr_start),
        "new_mrr": _money(flows.get("new_mrr_milli", 0)),
        "expansion_mrr": _money(flows.get("expansion_mrr_milli", 0)),
        "contraction_mrr": _money(flows.get("contraction_mrr_milli", 0)),
        "churned_mrr": _money(flows.get("churned_mrr_milli", 0)),
        "mrr_end": _money(mrr_end),
        "net_new_mrr": _money(mrr_end - mrr_start),
        "mrr_growth_rate": formulas.ratio(mrr_end - mrr_start, mrr_start),
        "arpa": _money(arpa),
        # A month's CLV uses its own churn rate; a year's the mean monthly churn rate of its months.
        "clv": _money(clv(arpa, rules.gross_margin, monthly_churn)),
        "monthly_churn_rate": monthly_churn,
        "premium_customers": after.get("premium", 0),
        "premium_rate": formulas.ratio(after.get("premium", 0), customers_end),
        "loyal_customers": after.get("loyal", 0),
        "loyal_rate": formulas.ratio(after.get("loyal", 0), customers_end),
        "purchases": flows.get("purchases", 0),
        "purchase_revenue": _money(flows.get("purchase_revenue_milli", 0)),
    }
    for kind, groups in (("nps", NPS_GROUPS), ("sla", SLA_GROUPS)):
        for group in groups:
            # Customers at the start, by their group at the churn moment (churned) or the period end (stayed).
            stayed = after.get(f"{kind}_{group}", 0) - flows.get(f"new_{kind}_{group}", 0)
            gone = flows.get(f"churned_{kind}_{group}", 0)
            row[f"customers_{kind}_{group}"] = stayed + gone
            row[f"churned_{kind}_{group}"] = gone
            row[f"churn_rate_{kind}_{group}"] = formulas.ratio(gone, stayed + gone)
    return {name: row[name] for name in RETENTION_FIELDS}
