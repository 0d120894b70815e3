"""The fold's speed-ups (#23) change no figure: each is checked against the plain form it replaced."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ccpulse.domain import entity
from ccpulse.domain.batch import fold_messages
from ccpulse.domain.buckets import TOP_KEEP, apply_delta, new_bucket
from ccpulse.domain.contact import diff_contributions
from ccpulse.settings import Settings
from ccpulse.simulate import SimConfig, generate
from schemas.events import decode_event

measures = st.dictionaries(st.sampled_from(["offered", "answered", "talk_ms", "~c1#1", "~c2#1", "~c3#2"]),
                           st.integers(-5, 5), max_size=6)
contributions = st.dictionaries(st.sampled_from(["queue|q|0", "queue|q|900", "agent|a|0"]), measures, max_size=3)


def _reference_diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """diff_contributions as it was: over the union of each bucket's measures."""
    out: dict[str, dict[str, Any]] = {}
    for key in old.keys() | new.keys():
        before, after = old.get(key, {}), new.get(key, {})
        delta: dict[str, Any] = {}
        for measure in before.keys() | after.keys():
            if measure.startswith("~"):
                if measure not in after:
                    delta[measure] = None
                elif before.get(measure) != after[measure]:
                    delta[measure] = after[measure]
            elif after.get(measure, 0) - before.get(measure, 0):
                delta[measure] = after.get(measure, 0) - before.get(measure, 0)
        if delta:
            out[key] = delta
    return out


@given(contributions, contributions)
def test_measure_deltas_are_those_of_the_union_of_measures(old: Any, new: Any) -> None:
    assert diff_contributions(old, new) == _reference_diff(old, new)


@given(st.lists(st.tuples(st.sampled_from([f"c{i}#1" for i in range(30)]), st.one_of(st.none(), st.integers(0, 50))),
                max_size=60))
def test_top_waits_keep_the_longest_then_by_visit(changes: list[tuple[str, int | None]]) -> None:
    bucket = new_bucket()
    for seq, (visit, wait) in enumerate(changes):
        expected = {v: w for w, v in bucket["tops"]}
        if wait is None:
            expected.pop(visit, None)
        else:
            expected[visit] = wait
        bucket, _ = apply_delta(bucket, {f"~{visit}": wait}, "s", (seq, 0))
        kept = sorted(expected.items(), key=lambda vw: (-vw[1], vw[0]))[:TOP_KEEP]
        assert bucket["tops"] == [[w, v] for v, w in kept]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["Z", "+00:00", "+05:30", "-03:00"]), st.booleans(), st.integers(0, 10**9))
def test_the_cached_event_time_is_the_parsed_one(zone: str, whole: bool, micros: int) -> None:
    base = datetime(2026, 3, 2, tzinfo=timezone.utc) + timedelta(microseconds=micros)
    offset = timedelta() if zone == "Z" else (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:]))
    local = base.astimezone(timezone(offset)).replace(tzinfo=None)
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + ("" if whole else local.strftime(".%f")) + zone
    event = decode_event(orjson.dumps({"event_id": "e", "type": "contact.abandoned", "contact_id": "c",
                                       "occurred_at": text}))
    assert event.at == event.at == event.occurred_at.timestamp()
    assert event.at == (base.replace(microsecond=0) if whole else base).timestamp()


def test_settling_from_the_last_fold_gives_what_a_fresh_fold_gives(monkeypatch: Any) -> None:
    """A contact settled in a sweep reuses its last fold's anomalies; without that reuse (fold again) the
    dead letters, figures and rows are the same."""
    day = SimConfig(seed=7, start=datetime(2026, 3, 2, tzinfo=timezone.utc), duration_seconds=4 * 3600, agents=20, load=2.0)
    messages = [orjson.dumps(e) for e in generate(day)]
    messages.insert(0, orjson.dumps({"event_id": "orphan-1", "type": "contact.ended", "contact_id": "nobody",
                                     "occurred_at": "2026-03-02T00:00:00Z"}))  # an anomaly found on settling
    settle = entity.ContactRules._settle

    def fold(reuse: bool) -> tuple[Any, list[Any]]:
        dead: list[Any] = []

        def recording(self: entity.ContactRules, cid: str, out: entity.Change) -> None:
            if not reuse:
                self._last_fold.clear()
            settle(self, cid, out)
            dead.append((cid, list(out.dead)))

        monkeypatch.setattr(entity.ContactRules, "_settle", recording)
        return fold_messages(messages, Settings()), dead

    (fast, fast_dead), (slow, slow_dead) = fold(True), fold(False)
    assert ("nobody", [(fast_dead[0][1][0][0], "unknown_contact", "contact.ended for contact nobody that never queued")]) \
        in fast_dead
    assert fast_dead == slow_dead
    assert (fast.buckets, fast.contacts, fast.recent, fast.agents, fast.expired, fast.rejected) == (
        slow.buckets, slow.contacts, slow.recent, slow.agents, slow.expired, slow.rejected)
