"""Customer retention (ccpulse.domain.retention): the hand-computed month and year of
tests/retention_scenario.py, the MRR bridge and the customer identity as properties, currencies."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from ccpulse.domain.batch import PartitionFold, fold_retention
from ccpulse.domain.retention import (
    CurrencyMismatch, accept_customer_event, add_months, clv, retention_contributions, period_rows, sum_contributions,
    to_milli,
)
from ccpulse.settings import RetentionSettings, Settings
from schemas.events import EventRejected
from tests.retention_scenario import CONTACT_EVENTS, CUSTOMER_EVENTS, EXPECTED_MARCH, EXPECTED_YEAR, REJECTED, raw

UTC = ZoneInfo("UTC")
SETTINGS = Settings(retention=RetentionSettings(currency="USD", gross_margin=0.8))
MARCH = (1772323200.0, 1775001600.0)  # 2026-03-01 .. 2026-04-01 UTC


def scenario() -> Any:
    contacts = PartitionFold(SETTINGS)
    for offset, event in enumerate(CONTACT_EVENTS):
        assert contacts.message(raw(event), "contacts", offset, None) is None, event
    messages = [raw(e) for e in CUSTOMER_EVENTS] + [raw(e) for e, _ in REJECTED]
    return fold_retention(messages, contacts.fcr, SETTINGS)


def test_rejections_are_reasons_not_sums() -> None:
    result = scenario()
    assert result.rejected == [(len(CUSTOMER_EVENTS) + i, reason) for i, (_, reason) in enumerate(REJECTED)]


def test_hand_computed_march() -> None:
    rows = period_rows(scenario().totals, "month", *MARCH, SETTINGS.retention, UTC)
    [row] = rows
    assert row["period_start"] == "2026-03-01T00:00:00+00:00" and row["period_end"] == "2026-04-01T00:00:00+00:00"
    assert {k: row[k] for k in EXPECTED_MARCH} == pytest.approx(EXPECTED_MARCH)


def test_hand_computed_year() -> None:
    [row] = period_rows(scenario().totals, "year", MARCH[0], MARCH[1], SETTINGS.retention, UTC)
    assert {k: row[k] for k in EXPECTED_YEAR} == pytest.approx(EXPECTED_YEAR)


def test_months_before_carry_the_levels_forward() -> None:
    rows = period_rows(scenario().totals, "month", 0, MARCH[1], SETTINGS.retention, UTC)
    by = {r["period"]: r for r in rows}
    assert rows[0]["period"] == "2025-01" and len(rows) == 15  # 2025-01 .. 2026-03, quiet months included
    assert by["2025-05"]["customers_end"] == 1 and by["2025-05"]["mrr_end"] == 100.0  # only A
    # February 2026: A B C G at start (D new), MRR 250 -> 290, nobody churned, so no CLV.
    feb = by["2026-02"]
    assert (feb["customers_start"], feb["new_customers"], feb["customers_end"]) == (4, 1, 5)
    assert (feb["mrr_start"], feb["mrr_end"], feb["churn_rate"], feb["clv"]) == (250.0, 290.0, 0.0, None)
    assert by["2026-03"]["customers_start"] == feb["customers_end"]


def test_a_different_time_zone_moves_month_boundaries() -> None:
    # A start at 2025-06-01 08:00Z is 31 May 22:00 in Honolulu (UTC-10): a May customer there.
    zone = ZoneInfo("Pacific/Honolulu")
    rules = SETTINGS.retention
    contributions = retention_contributions(
        [{"id": "g1", "type": "customer.subscription_started", "t": 1748764800.0, "mrr_milli": 20000, "plan": "p"}],
        [], rules, zone)
    assert "month|2025-05" in contributions and contributions["month|2025-05"]["d_active"] == 1


def test_currency_is_converted_only_explicitly() -> None:
    assert to_milli(12.5, "USD", None, "USD") == 12500
    assert to_milli(50, "EUR", 1.2, "USD") == 60000
    with pytest.raises(CurrencyMismatch, match="exchange_rate"):
        to_milli(50, "EUR", None, "USD")
    with pytest.raises(CurrencyMismatch):
        to_milli(50, "USD", 1.1, "USD")
    with pytest.raises(EventRejected) as info:
        accept_customer_event(raw(REJECTED[0][0]), "t:0", 0, "USD")
    assert info.value.reason == "currency_mismatch" and "EUR" in info.value.message
    contact_event = raw(CONTACT_EVENTS[0])
    with pytest.raises(EventRejected) as info:
        accept_customer_event(contact_event, "t:0", 0, "USD")
    assert info.value.reason == "wrong_topic"


def test_clv_is_null_without_churn() -> None:
    assert clv(65.0, 0.8, 0.4) == pytest.approx(130.0)
    assert clv(65.0, 0.8, 0.0) is None and clv(65.0, 0.8, None) is None and clv(None, 0.8, 0.1) is None


def test_add_months_clamps_to_the_month_end() -> None:
    jan31 = 1769860800.0  # 2026-01-31T12:00Z
    assert add_months(jan31, 1, UTC) == 1772280000.0  # 2026-02-28T12:00Z


# ---- properties -----------------------------------------------------------------------------------
_KINDS = ("customer.subscription_started", "customer.subscription_changed", "customer.subscription_cancelled",
          "customer.purchase")
_T0 = 1735689600.0  # 2025-01-01


@st.composite
def customers(draw: st.DrawFn) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    out = {}
    for n in range(draw(st.integers(1, 6))):
        events = []
        for i in range(draw(st.integers(0, 8))):
            kind = draw(st.sampled_from(_KINDS))
            rec: dict[str, Any] = {"id": f"e{i}", "type": kind, "t": _T0 + draw(st.integers(0, 500)) * 86400.0}
            if kind in _KINDS[:2]:
                rec.update(mrr_milli=draw(st.integers(0, 5)) * 1000, plan="p",
                           tier=draw(st.sampled_from(["basic", "premium"])))
            elif kind == "customer.purchase":
                rec["amount_milli"] = draw(st.integers(0, 9)) * 500
            events.append(rec)
        facts = [{"breached_at": _T0 + draw(st.integers(0, 500)) * 86400.0}
                 for _ in range(draw(st.integers(0, 2)))]
        facts += [{"nps_at": _T0 + draw(st.integers(0, 500)) * 86400.0,
                   "nps": draw(st.sampled_from(["promoter", "passive", "detractor"]))}
                  for _ in range(draw(st.integers(0, 2)))]
        out[f"c{n}"] = (events, facts)
    return out


@hsettings(max_examples=60, deadline=None)
@given(customers(), st.sampled_from(["UTC", "Asia/Ho_Chi_Minh", "America/New_York"]))
def test_every_period_balances(book: dict[str, Any], zone_name: str) -> None:
    """Customers: start + new − churned = end; MRR: start + new + expansion − contraction − churned = end;
    the groups split the customers at start and the churned exactly."""
    zone, rules = ZoneInfo(zone_name), RetentionSettings()
    totals: dict[str, dict[str, int]] = {}
    for events, facts in book.values():
        sum_contributions(totals, retention_contributions(events, facts, rules, zone))
    for granularity in ("month", "year"):
        for row in period_rows(totals, granularity, 0, _T0 + 600 * 86400.0, rules, zone):
            assert row["customers_start"] + row["new_customers"] - row["churned_customers"] == row["customers_end"]
            bridge = row["mrr_start"] + row["new_mrr"] + row["expansion_mrr"] - row["contraction_mrr"] - row["churned_mrr"]
            assert bridge == pytest.approx(row["mrr_end"])
            for kind, groups in (("nps", ("promoter", "passive", "detractor", "no_answer")),
                                 ("sla", ("breached", "not_breached"))):
                assert sum(row[f"customers_{kind}_{g}"] for g in groups) == row["customers_start"], (kind, row)
                assert sum(row[f"churned_{kind}_{g}"] for g in groups) == row["churned_customers"]
                assert all(row[f"customers_{kind}_{g}"] >= 0 for g in groups)
            assert 0 <= row["premium_customers"] <= row["customers_end"]
            assert 0 <= row["loyal_customers"] <= row["customers_end"]


@hsettings(max_examples=40, deadline=None)
@given(customers(), st.randoms(use_true_random=False))
def test_event_order_does_not_matter(book: dict[str, Any], rnd: Any) -> None:
    rules = RetentionSettings()
    for events, facts in book.values():
        shuffled = list(events)
        rnd.shuffle(shuffled)
        assert retention_contributions(shuffled, facts, rules, UTC) == retention_contributions(events, facts, rules, UTC)
