"""/metrics writes its text itself (``api.routes.metrics.exposition``, for speed): it must be byte
for byte what ``prometheus_client.generate_latest`` writes for the same families, awkward label
values and numbers included."""

from __future__ import annotations

import math

from hypothesis import given, settings as hsettings, strategies as st
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from api.routes.metrics import ReadModelCollector, RenderedGauge, _Families, exposition
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
    # A gauge whose samples come partly written before (a cached queue's profile), partly added.
    rendered = RenderedGauge("ccpulse_r", doc, labels=["queue", "a"])
    for n, (q, a, v) in enumerate(samples):
        if n % 2:
            rendered.add_metric([q, a], v)
        else:
            kept = GaugeMetricFamily("ccpulse_r", "", labels=["queue", "a"])
            kept.add_metric([q, a], v)
            rendered.extend(RenderedGauge.render(kept))
    families = [gauge, counter, GaugeMetricFamily("ccpulse_z", doc, value=single), histogram, rendered]
    assert exposition(families) == generate_latest(_Families(families))  # type: ignore[arg-type]


def test_a_scrape_is_generate_latests(store) -> None:
    for q in ("sales", 'we"ird\\q\nx'):
        interval(store, "queue", q, T1, max_wait_ms=30_000, **SALES_T1)
        contact(store, f"c-{q}", "waiting", q, "voice", NOW - 30)
        agent(store, f"a-{q}", "available", [q], "red", "s1")
    store.event_now = lambda: NOW  # type: ignore[method-assign]
    families = [f for f in ReadModelCollector(store).steps() if f is not None]
    assert exposition(families) == generate_latest(_Families(families))  # type: ignore[arg-type]


def _profile_lines(store) -> list[str]:
    families = [f for f in ReadModelCollector(store).steps() if f is not None]
    return [line for line in exposition(families).decode().splitlines()
            if line.startswith("ccpulse_queue_profile_response_time_seconds{")]


def test_a_kept_profile_is_written_again_when_its_queue_changes(settings) -> None:
    """The profile samples kept between scrapes (``ReadModel.queue_derived``) follow a change of
    the queue's rows, and of the day: each scrape reads what a store that never scraped reads."""
    from api.store import ReadModelStore

    def build(rows: list[tuple[str, int, dict[str, int]]]) -> ReadModelStore:
        fresh = ReadModelStore(settings)
        fresh.ready = True
        for q, start, c in rows:
            interval(fresh, "queue", q, start, max_wait_ms=30_000, **c)
        fresh.event_now = lambda: NOW  # type: ignore[method-assign]
        return fresh

    rows = [("sales", T1, dict(SALES_T1)), ("support", T1, dict(SALES_T1))]
    live = build(rows)
    first = _profile_lines(live)
    assert first and first == _profile_lines(build(rows))
    more = {**SALES_T1, "answered": 10, "wait_answered_business_ms": 900_000}  # 90 s each
    interval(live, "queue", "sales", T1 + 900, max_wait_ms=30_000, **more)
    rows.append(("sales", T1 + 900, more))
    second = _profile_lines(live)
    assert second != first and second == _profile_lines(build(rows))
    assert [line for line in second if '"support"' in line] == [line for line in first if '"support"' in line]
    live.event_now = lambda: NOW + 9 * 86400  # type: ignore[method-assign]  # a day on which T1 left the 8 days
    later = build(rows)
    later.event_now = live.event_now  # type: ignore[method-assign]
    assert _profile_lines(live) == _profile_lines(later) != second
