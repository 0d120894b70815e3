"""/metrics writes its text itself (``api.routes.metrics.exposition``, for speed): it must be byte
for byte what ``prometheus_client.generate_latest`` writes for the same families, awkward label
values and numbers included."""

from __future__ import annotations

import math

from hypothesis import given, settings as hsettings, strategies as st
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from api.routes.metrics import ReadModelCollector, _Families, exposition
from tests.api.conftest import NOW, SALES_T1, T1, agent, contact, interval

values = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**18, 10**18)
labels = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(labels, labels, values), max_size=6), values, st.text(max_size=20))
def test_the_text_is_generate_latests(samples, single, doc) -> None:
    gauge = GaugeMetricFamily("ccpulse_x", doc, labels=["queue", "a"])
    counter = CounterMetricFamily("ccpulse_y", doc, labels=["queue", "a"])
    for q, a, v in samples:
        gauge.add_metric([q, a], v)
        counter.add_metric([q, a], abs(v) if not math.isnan(v) else 0)
    histogram = HistogramMetricFamily("ccpulse_h", doc)
    histogram.add_metric([], [("1.0", 2), ("+Inf", 3)], 4.5)
    families = [gauge, counter, GaugeMetricFamily("ccpulse_z", doc, value=single), histogram]
    assert exposition(families) == generate_latest(_Families(families))  # type: ignore[arg-type]


def test_a_scrape_is_generate_latests(store) -> None:
    for q in ("sales", 'we"ird\\q\nx'):
        interval(store, "queue", q, T1, max_wait_ms=30_000, **SALES_T1)
        contact(store, f"c-{q}", "waiting", q, "voice", NOW - 30)
        agent(store, f"a-{q}", "available", [q], "red", "s1")
    store.event_now = lambda: NOW  # type: ignore[method-assign]
    families = [f for f in ReadModelCollector(store).steps() if f is not None]
    assert exposition(families) == generate_latest(_Families(families))  # type: ignore[arg-type]
