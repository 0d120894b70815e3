"""The read model's running sums (ccpulse/readmodel/totals.py) equal a merge of the served rows, whatever arrives.

The centre-wide reads take today's counters, the open cases and a queue's channel from these
sums instead of merging a series' whole history per request; any drift would show wrong figures
on every wallboard, so they are checked against the plain merge after every kind of change:
upserts, rewrites, tombstones, and a recomputed generation replacing a range of rows.
"""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
from hypothesis import given, settings as hsettings, strategies as st

from ccpulse.readmodel.state import ReadModel
from ccpulse.readmodel.keys import generation_marker_key, generation_row_key
from ccpulse.readmodel.views import open_cases, summary_view, queue_views, window_row
from ccpulse.domain.buckets import merge_buckets
from ccpulse.domain.intervals import interval_start
from ccpulse.domain.profiles import PROFILE_BY, profile
from ccpulse.settings import Settings

from tests.api.conftest import make_settings

DAY0 = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp())
SERIES = [("queue", "q1"), ("queue", "q2"), ("agent", "a1")]

counters = st.dictionaries(st.sampled_from(["offered", "answered", "cases_open", "offered_chat", "talk_ms"]),
                           st.integers(-3, 50), max_size=4)
upsert = st.tuples(st.just("row"), st.sampled_from(SERIES), st.integers(0, 3 * 96 - 1),
                   st.none() | st.tuples(counters, st.none() | st.integers(0, 600_000)))
generation = st.tuples(st.just("generation"), st.integers(0, 2), st.integers(1, 96), counters)


def nonzero(c: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in c.items() if v}


def check(store: ReadModel, base: int = DAY0) -> None:
    zone = store.settings.zone
    # No entry is kept for a series or a day without buckets (a long-running API would grow).
    assert set(store.totals.by_day) == {key for key, series in store.intervals.items() if series}
    for key, series in store.intervals.items():
        assert nonzero(store.totals.total(key)) == nonzero(merge_buckets(series.values())[0])
        days = {int(interval_start(s, "1d", zone)) for s in series}
        assert set(store.totals.by_day.get(key, {})) == days
        for day in days:
            want, _ = merge_buckets(b for s, b in series.items() if int(interval_start(s, "1d", zone)) == day)
            assert nonzero(store.totals.day(key, day)) == nonzero(want)
        if key[0] != "queue" or not days:
            assert key not in store.totals.by_hour  # hourly sums only where the scrape needs them
            continue
        # the scrape's profiles from the sums = the profiles of the buckets (whole local days)
        for first, last in ((min(days), max(days)), (base + 86400, base + 86400)):
            start, end = int(interval_start(first, "1d", zone)), int(interval_start(last + 90000, "1d", zone))
            for by in PROFILE_BY:
                want_slots = [nonzero(c) for _, c, _ in profile(series, by, zone, start, end)]
                assert [nonzero(c) for c in store.totals.profile(key, by, start, end)] == want_slots
                assert [nonzero(c) for c in store.totals.profile(key, by, start, end, ["answered"])] == \
                    [nonzero({"answered": c.get("answered", 0)}) for c in want_slots]


@hsettings(max_examples=150, deadline=None)
@given(st.lists(upsert | generation, max_size=40), st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Europe/Berlin"]),
       st.sampled_from([DAY0, DAY0 + 6 * 86400, DAY0 + 27 * 86400]))  # the last two span DST changes (US, EU)
def test_running_sums_equal_the_merged_rows(ops, zone, base) -> None:
    store = ReadModel(Settings(timezone=zone, auth_enabled=False))
    for number, op in enumerate(ops):
        if op[0] == "row":
            _, (dimension, entity), slot, row = op
            key = f"interval|{dimension}|{entity}|{base + slot * 900}".encode()
            value = None if row is None else orjson.dumps({"kind": "interval", "c": row[0], "max_wait_ms": row[1]})
            store.apply(key, value)
        else:  # a recomputed generation of q1's rows over whole days, with one row in it
            _, first_day, slot, c = op
            gen = f"g{number:03d}"
            start = base + first_day * 86400
            bucket = f"queue|q1|{start + slot * 900}"
            store.apply(generation_row_key(gen, bucket).encode(),
                        orjson.dumps({"kind": "interval", "c": c, "max_wait_ms": None}))
            store.apply(generation_marker_key(gen).encode(), orjson.dumps(
                {"dimensions": ["queue"], "queues": ["q1"], "from": start, "to": start + 86400, "rows": 1}))
        check(store, base)


def test_views_read_today_and_open_cases_from_the_sums() -> None:
    store = ReadModel(make_settings())
    now = DAY0 + 86400 + 10 * 3600  # 10:00 on day 1
    rows = {DAY0 + 100: {"offered": 5, "cases_open": 2, "offered_chat": 5},  # day 0
            now - 7200: {"offered": 3, "answered": 3, "cases_open": 1, "offered_chat": 3},  # earlier today
            int(now // 900 * 900): {"offered": 2, "answered": 1, "offered_chat": 2}}  # current interval
    for start, c in rows.items():
        store.apply(f"interval|queue|q1|{start}".encode(), orjson.dumps({"kind": "interval", "c": c, "max_wait_ms": 40_000}))
    store.apply(f"interval|queue|q2|{int(now // 900 * 900)}".encode(), orjson.dumps({"kind": "interval", "c": {"offered": 4}, "max_wait_ms": 9_000}))
    view = queue_views(store, now, only="q1")[0]
    assert view["channel"] == "chat"
    assert view["today"]["offered"] == 5 and view["today"]["answered"] == 4
    assert view["current_interval"]["offered"] == 2
    assert view["live"]["open_cases"] == 3 == open_cases(store.totals.total(("queue", "q1")))
    summary = summary_view(store, now)
    assert summary["today"]["offered"] == 9 and summary["current_interval"]["offered"] == 6
    assert summary["today"]["max_wait_seconds"] == 40.0
    sla = store.settings.queue("q2", "voice")
    assert window_row(store, [("queue", "q2")], sla, "1d", now)["offered"] == 4
