"""A hand-computed retention scenario: March 2026 and the year 2026 (UTC, USD, gross margin 0.8).

Seven subscribers and their contacts on the voice queue ``care`` (threshold 20 s). The same
events drive the pure unit test (tests/ccpulse/domain/test_retention.py) and the integration
test through Kafka, the worker and the API (tests/integration/test_retention.py); both must
give exactly the figures below.

    customer  subscription                                   service (contacts, NPS answers)
    A  since 2025-01-10, 100 → 150 premium on 03-05         promoter (02-10)
    B  since 2025-12-01, 80, cancelled 03-20                breach 03-10, detractor (03-10)
    C  since 2026-01-15, premium 50 → 30 on 03-08           breach 01-20 (abandoned late), passive (02-20)
    D  since 2026-02-01, 40, purchases 10, 15, 25 (03-03), cancelled 03-25      detractor (02-25)
    E  since 2026-03-15, premium 50 EUR × 1.2 = 60 USD      breach 03-16 (abandoned late)
    F  2026-03-02 .. 03-28 (joins and leaves within March: neither new nor churned)
    G  since 2025-06-01, 20                                 promoter (03-01), breach 03-05

March 2026. Customers at start: A B C D G = 5 (MRR 100+80+50+40+20 = 290). New: E. Churned:
B, D. At end: A C E G = 4 = 5 + 1 − 2; churn rate 2/5 = 0.4. MRR: new 60 (E), expansion 50 (A),
contraction 20 (C), churned 80 + 40 = 120; end 150+30+60+20 = 260 = 290 + 60 + 50 − 20 − 120;
growth −30/290. ARPA 260/4 = 65; CLV = 65 × 0.8 / 0.4 = 130. Premium at end: A C E = 3/4;
loyal: A (12 months on 2026-01-10) = 1/4. Purchases: 1 (25).
By latest NPS answer (at the churn moment, or the month end for those who stayed):
promoter A G (0 churned), passive C (0), detractor B D (2 churned: rate 1.0), no answer: none.
By breach in the 30 days before (churn moment or month end): breached B (03-10 ≤ 03-20)
and G (03-05 + 30 d > 04-01) → 1 of 2 churned; not breached A C (01-20 expired) D → 1 of 3.

Year 2026 (asked up to 2026-04-01). At start: A B G = 3 (MRR 200). New: C E (D and F left
again). Churned: B. At end: 4; churn 1/3. MRR: new 30 + 60 = 90, expansion 50, contraction 0,
churned 80; end 260; growth 60/200 = 0.3. Mean monthly churn Jan–Mar = (0+0+2)/(3+4+5) = 1/6;
CLV = 65 × 0.8 × 6 = 312. At the end of 2026: premium A C E = 3/4, loyal A and G (12 months on
2026-06-01) = 2/4. Purchases: D's 3 (10+15+25 = 50). Groups of A B G at B's churn / year end:
promoter A G, detractor B (churned); breached B (churned), not breached A G (G's breach expired).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["CONTACT_EVENTS", "CUSTOMER_EVENTS", "EXPECTED_MARCH", "EXPECTED_YEAR", "REJECTED", "RETENTION_ENV"]

#: Settings of the scenario (environment of the integration stack).
RETENTION_ENV = {"CCPULSE_RETENTION__CURRENCY": "USD", "CCPULSE_RETENTION__GROSS_MARGIN": "0.8"}

_ids = iter(range(1, 10_000))


def _customer(kind: str, customer: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"customer.{kind}", "event_id": f"cev-{next(_ids)}", "occurred_at": at,
            "customer_id": customer, **fields}


def _sub(kind: str, customer: str, at: str, mrr: float, tier: str = "basic", currency: str = "USD",
         **extra: Any) -> dict[str, Any]:
    return _customer(kind, customer, at, plan=f"plan-{tier}", tier=tier, mrr=mrr, currency=currency, **extra)


CUSTOMER_EVENTS: list[dict[str, Any]] = [
    _sub("subscription_started", "A", "2025-01-10T08:00:00Z", 100),
    _sub("subscription_changed", "A", "2026-03-05T10:00:00Z", 150, tier="premium"),
    _sub("subscription_started", "B", "2025-12-01T08:00:00Z", 80),
    _customer("subscription_cancelled", "B", "2026-03-20T12:00:00Z", reason="too slow"),
    _sub("subscription_started", "C", "2026-01-15T08:00:00Z", 50, tier="premium"),
    _sub("subscription_changed", "C", "2026-03-08T08:00:00Z", 30, tier="premium"),
    _sub("subscription_started", "D", "2026-02-01T08:00:00Z", 40),
    _customer("purchase", "D", "2026-02-02T08:00:00Z", amount=10, currency="USD"),
    _customer("purchase", "D", "2026-02-10T08:00:00Z", amount=15, currency="USD", order_id="o-2"),
    _customer("purchase", "D", "2026-03-03T08:00:00Z", amount=25, currency="USD"),
    _customer("subscription_cancelled", "D", "2026-03-25T08:00:00Z"),
    _sub("subscription_started", "E", "2026-03-15T08:00:00Z", 50, tier="premium", currency="EUR", exchange_rate=1.2),
    _sub("subscription_started", "F", "2026-03-02T08:00:00Z", 10),
    _customer("subscription_cancelled", "F", "2026-03-28T08:00:00Z"),
    _sub("subscription_started", "G", "2025-06-01T08:00:00Z", 20),
]

#: Customer events that must be dead-lettered (reason), not counted.
REJECTED: list[tuple[dict[str, Any], str]] = [
    (_customer("purchase", "D", "2026-03-04T08:00:00Z", amount=99, currency="EUR"), "currency_mismatch"),
    ({**CUSTOMER_EVENTS[0], "occurred_at": "2025-01-10T08:00:01Z"}, "duplicate"),  # same event_id again
]


def _contact(cid: str, customer: str, queued: str, left: str, outcome: str = "answered",
             nps: tuple[int, str] | None = None) -> list[dict[str, Any]]:
    day = queued[:11]
    base = {"contact_id": cid}
    events = [{"type": "contact.queued", "event_id": f"{cid}-q", "occurred_at": day + queued[11:], **base,
               "channel": "voice", "queue_id": "care", "customer_id": customer}]
    if outcome == "abandoned":
        events.append({"type": "contact.abandoned", "event_id": f"{cid}-x", "occurred_at": day + left, **base})
    else:
        events += [
            {"type": "contact.answered", "event_id": f"{cid}-a", "occurred_at": day + left, **base, "agent_id": "ag-1"},
            {"type": "contact.ended", "event_id": f"{cid}-e", "occurred_at": day + _later(left, 4), **base},
            {"type": "contact.wrapped_up", "event_id": f"{cid}-w", "occurred_at": day + _later(left, 5), **base},
        ]
    if nps is not None:
        score, at = nps
        events.append({"type": "survey.responded", "event_id": f"{cid}-s", "occurred_at": day + at, **base,
                       "survey": "nps", "score": score})
    return events


def _later(clock: str, minutes: int) -> str:
    hh, mm, rest = int(clock[0:2]), int(clock[3:5]), clock[5:]
    total = hh * 60 + mm + minutes
    return f"{total // 60:02d}:{total % 60:02d}{rest}"


CONTACT_EVENTS: list[dict[str, Any]] = sorted([
    *_contact("cC1", "C", "2026-01-20T09:00:00Z", "09:02:00Z", outcome="abandoned"),  # breach at 09:00:20
    *_contact("cA1", "A", "2026-02-10T09:00:00Z", "09:00:10Z", nps=(10, "09:10:00Z")),
    *_contact("cC2", "C", "2026-02-20T09:00:00Z", "09:00:05Z", nps=(7, "09:30:00Z")),
    *_contact("cD1", "D", "2026-02-25T09:00:00Z", "09:00:05Z", nps=(5, "09:30:00Z")),
    *_contact("cG1", "G", "2026-03-01T09:00:00Z", "09:00:05Z", nps=(9, "09:30:00Z")),
    *_contact("cG2", "G", "2026-03-05T09:00:00Z", "09:00:50Z"),  # breach at 09:00:20
    *_contact("cB1", "B", "2026-03-10T10:00:00Z", "10:01:00Z", nps=(3, "11:00:00Z")),  # breach at 10:00:20
    *_contact("cE1", "E", "2026-03-16T09:00:00Z", "09:01:00Z", outcome="abandoned"),  # breach at 09:00:20
], key=lambda e: e["occurred_at"])

EXPECTED_MARCH: dict[str, Any] = {
    "period": "2026-03", "customers_start": 5, "new_customers": 1, "churned_customers": 2, "customers_end": 4,
    "churn_rate": 0.4, "mrr_start": 290.0, "new_mrr": 60.0, "expansion_mrr": 50.0, "contraction_mrr": 20.0,
    "churned_mrr": 120.0, "mrr_end": 260.0, "net_new_mrr": -30.0, "mrr_growth_rate": -30 / 290,
    "arpa": 65.0, "clv": 130.0, "monthly_churn_rate": 0.4,
    "premium_customers": 3, "premium_rate": 0.75, "loyal_customers": 1, "loyal_rate": 0.25,
    "purchases": 1, "purchase_revenue": 25.0,
    "customers_nps_promoter": 2, "churned_nps_promoter": 0, "churn_rate_nps_promoter": 0.0,
    "customers_nps_passive": 1, "churned_nps_passive": 0, "churn_rate_nps_passive": 0.0,
    "customers_nps_detractor": 2, "churned_nps_detractor": 2, "churn_rate_nps_detractor": 1.0,
    "customers_nps_no_answer": 0, "churned_nps_no_answer": 0, "churn_rate_nps_no_answer": None,
    "customers_sla_breached": 2, "churned_sla_breached": 1, "churn_rate_sla_breached": 0.5,
    "customers_sla_not_breached": 3, "churned_sla_not_breached": 1, "churn_rate_sla_not_breached": 1 / 3,
}

EXPECTED_YEAR: dict[str, Any] = {
    "period": "2026", "customers_start": 3, "new_customers": 2, "churned_customers": 1, "customers_end": 4,
    "churn_rate": 1 / 3, "mrr_start": 200.0, "new_mrr": 90.0, "expansion_mrr": 50.0, "contraction_mrr": 0.0,
    "churned_mrr": 80.0, "mrr_end": 260.0, "net_new_mrr": 60.0, "mrr_growth_rate": 0.3,
    "arpa": 65.0, "clv": 312.0, "monthly_churn_rate": 1 / 6,
    "premium_customers": 3, "premium_rate": 0.75, "loyal_customers": 2, "loyal_rate": 0.5,
    "purchases": 3, "purchase_revenue": 50.0,
    "customers_nps_promoter": 2, "churned_nps_promoter": 0, "churn_rate_nps_promoter": 0.0,
    "customers_nps_passive": 0, "churned_nps_passive": 0, "churn_rate_nps_passive": None,
    "customers_nps_detractor": 1, "churned_nps_detractor": 1, "churn_rate_nps_detractor": 1.0,
    "customers_nps_no_answer": 0, "churned_nps_no_answer": 0, "churn_rate_nps_no_answer": None,
    "customers_sla_breached": 1, "churned_sla_breached": 1, "churn_rate_sla_breached": 1.0,
    "customers_sla_not_breached": 2, "churned_sla_not_breached": 0, "churn_rate_sla_not_breached": 0.0,
}


def raw(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)
