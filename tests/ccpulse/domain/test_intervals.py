"""Interval boundaries in any IANA zone, DST included."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccpulse.domain.intervals import bucket_start, interval_end, interval_start, iso, parse_time

ZONES = ["UTC", "Asia/Ho_Chi_Minh", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
instants = st.floats(min_value=1.6e9, max_value=2.1e9, allow_nan=False)


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("granularity", ["15m", "1h", "1d"])
@given(t=instants)
def test_interval_contains_instant_and_is_a_union_of_buckets(zone_name, granularity, t) -> None:
    zone = ZoneInfo(zone_name)
    start = interval_start(t, granularity, zone)
    end = interval_end(start, granularity, zone)
    assert start <= t < end
    assert bucket_start(start) == start and bucket_start(end) == end  # aligned to 15-minute buckets
    assert interval_start(end, granularity, zone) == end  # consecutive intervals tile time


def test_dst_days_last_23_and_25_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    spring = datetime(2026, 3, 29, 12, tzinfo=berlin).timestamp()
    autumn = datetime(2026, 10, 25, 12, tzinfo=berlin).timestamp()
    for t, hours in ((spring, 23), (autumn, 25)):
        start = interval_start(t, "1d", berlin)
        assert (interval_end(start, "1d", berlin) - start) / 3600 == hours


def test_ho_chi_minh_day_starts_at_17_utc() -> None:
    t = parse_time("2026-03-02T09:00:00Z")
    assert iso(interval_start(t, "1d", ZoneInfo("Asia/Ho_Chi_Minh"))) == "2026-03-01T17:00:00Z"


def test_times_without_offset_are_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_time("2026-03-02T09:00:00")


def test_bucket_keys_of_ids_holding_a_pipe_split_back_into_their_parts() -> None:
    # ACDs write composite ids such as "1712345678.42|2"; the worker, the API and recompute split keys alike.
    from ccpulse.domain.contact import bucket_key
    from ccpulse.domain.intervals import split_bucket_key

    key = bucket_key("queue", "sales|eu", 1_772_442_000.0)
    assert split_bucket_key(key) == ("queue", "sales|eu", 1_772_442_000)
