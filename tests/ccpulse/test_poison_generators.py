"""Generators of bad messages (poison input), and what the event decoder must say about each.

``bad_message(rng, kind)`` makes one message value the contract rejects at decoding, with the
dead-letter reason it must get. The generators are plain functions of a seeded ``random.Random``,
so tests/integration/test_poison.py streams the very same 10,000 messages on every run; here
hypothesis drives them (any seed, any kind) against ``schemas.events.decode_event``: it must reject
each with exactly that reason, and never raise anything but ``EventRejected`` whatever the bytes.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import EventRejected, decode_event

__all__ = ["DECODE_KINDS", "TEMPLATES", "bad_message", "random_key"]

#: One valid event of every type: what the generators break.
TEMPLATES: list[dict[str, Any]] = [
    {"type": "contact.queued", "event_id": "t-1", "occurred_at": "2026-03-02T08:10:00Z", "contact_id": "c-1",
     "channel": "voice", "queue_id": "sales", "customer_id": "cust-1", "priority": 5},
    {"type": "contact.answered", "event_id": "t-2", "occurred_at": "2026-03-02T08:10:20Z", "contact_id": "c-1",
     "agent_id": "agent-1"},
    {"type": "contact.abandoned", "event_id": "t-3", "occurred_at": "2026-03-02T08:11:00Z", "contact_id": "c-2"},
    {"type": "contact.hold_started", "event_id": "t-4", "occurred_at": "2026-03-02T08:12:00Z", "contact_id": "c-1"},
    {"type": "contact.hold_ended", "event_id": "t-5", "occurred_at": "2026-03-02T08:12:30Z", "contact_id": "c-1"},
    {"type": "contact.transferred", "event_id": "t-6", "occurred_at": "2026-03-02T08:13:00Z", "contact_id": "c-1",
     "to_queue_id": "support"},
    {"type": "contact.flowed_out", "event_id": "t-7", "occurred_at": "2026-03-02T08:14:00Z", "contact_id": "c-3",
     "reason": "callback"},
    {"type": "contact.ended", "event_id": "t-8", "occurred_at": "2026-03-02T08:15:00Z", "contact_id": "c-1"},
    {"type": "contact.wrapped_up", "event_id": "t-9", "occurred_at": "2026-03-02T08:15:40Z", "contact_id": "c-1",
     "disposition": "done", "resolved": True},
    {"type": "agent.state_changed", "event_id": "t-10", "occurred_at": "2026-03-02T08:00:00Z", "agent_id": "agent-1",
     "state": "available", "queue_ids": ["sales"], "team": "a", "site": "x"},
    {"type": "survey.responded", "event_id": "t-11", "occurred_at": "2026-03-02T08:20:00Z", "contact_id": "c-1",
     "survey": "csat", "score": 4, "comment": "fine"},
    {"type": "survey.responded", "event_id": "t-13", "occurred_at": "2026-03-02T08:21:00+01:00", "contact_id": "c-1",
     "survey": "nps", "score": 9, "scale_min": 0, "scale_max": 10, "agent_id": "agent-1", "queue_id": "sales"},
    {"type": "qa.evaluated", "event_id": "t-12", "occurred_at": "2026-03-02T09:00:00Z", "contact_id": "c-1",
     "agent_id": "agent-1", "score": 90.5},
]

#: Fields (besides type, event_id, occurred_at) each event type must have.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "contact.queued": ("contact_id", "channel", "queue_id"),
    "contact.answered": ("contact_id", "agent_id"),
    "agent.state_changed": ("agent_id", "state"),
    "survey.responded": ("contact_id", "survey", "score"),
    "qa.evaluated": ("contact_id", "agent_id", "score"),
}
_ID_FIELDS = ("event_id", "contact_id", "agent_id", "queue_id", "customer_id", "to_queue_id", "to_agent_id")
_TEXT_FIELDS = ("source", "comment", "disposition", "reason")


def _text(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits + " -_/") -> str:
    return "".join(rng.choices(alphabet, k=n))


def _template(rng: random.Random, template: dict[str, Any] | None) -> dict[str, Any]:
    return dict(template if template is not None else rng.choice(TEMPLATES))


def random_key(rng: random.Random) -> bytes | None:
    """A message key: usually an id, sometimes raw bytes (not UTF-8), sometimes none."""
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.2:
        return rng.randbytes(rng.randint(1, 40))
    return f"poison-{rng.randrange(10**6)}".encode()


# ---- one generator per kind: (rng, template) -> (value, reason) -----------------------------------
def random_bytes(rng: random.Random, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    # A byte that is not UTF-8 (0x80-0xff) first: never JSON, whatever follows.
    return bytes([rng.randrange(0x80, 0x100)]) + rng.randbytes(rng.randint(0, 300)), "not_json"


def garbage_text(rng: random.Random, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    # Printable text that no JSON value starts with.
    return (rng.choice("#<;=*%@$?~'") + _text(rng, rng.randint(0, 200), string.printable)).encode(), "not_json"


def truncated_json(rng: random.Random, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    whole = orjson.dumps(_template(rng, template))
    return whole[: rng.randint(1, len(whole) - 1)], "not_json"


def not_an_object(rng: random.Random, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    value = rng.choice([
        [ _template(rng, template) ], _text(rng, rng.randint(0, 50)), rng.randint(-10**9, 10**9), rng.random(),
        None, True, False, [],
    ])
    return orjson.dumps(value), "not_object"


def empty(rng: random.Random, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    return rng.choice([None, b""]), "empty"


def missing_type(rng: random.Random, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    event = _template(rng, template)
    del event["type"]
    return orjson.dumps(event), "missing_type"


def unknown_type(rng: random.Random, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    event = _template(rng, template)
    event["type"] = rng.choice(["contact.teleported", "Contact.Queued", "agent.state-changed", "", "survey",
                                _text(rng, rng.randint(1, 30)), 7, None, 1.5, ["contact.queued"]])
    return orjson.dumps(event), "unknown_type"


def wrong_type(rng: random.Random, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    """One field of a valid event with a value of the wrong type (or a required one missing)."""
    event = _template(rng, template)
    candidates: list[tuple[str, list[Any]]] = [
        ("event_id", [None, 17, ["x"], {"id": 1}, True, 3.5]),
        ("occurred_at", [1772438400, 1772438400000, 17.5, None, ["2026-03-02T08:00:00Z"], {"t": 1}, True]),
    ]
    if "contact_id" in event:
        candidates.append(("contact_id", [None, 5, [], {"a": "b"}]))
    for name, wrong in (("agent_id", [1, None, ["agent-1"]]), ("queue_id", [12, ["sales"], {}]),
                        ("channel", ["fax", "VOICE", 1, None, ["voice"]]), ("priority", [-1, 1001, "high", [1], 2.5]),
                        ("state", ["busy", "AVAILABLE", 3, None]), ("queue_ids", ["sales", [1, 2], {"q": 1}, [None]]),
                        ("survey", ["csat5", 1, None]), ("score", ["four", [4], {"v": 4}, None]),
                        ("resolved", ["maybe", 2, [True], {}]), ("to_queue_id", [3, [], {}]),
                        ("customer_id", [42, ["c"]]), ("team", [7, []]), ("site", [{}, 1.5])):
        if name in event:
            candidates.append((name, wrong))
    name, values = rng.choice(candidates)
    required = _REQUIRED.get(event["type"], ("contact_id",))
    if name in required and rng.random() < 0.2:
        del event[name]  # a required field missing
    else:  # null is a valid value of an optional field: only a required one may be set to null
        event[name] = rng.choice(values if name in required else [v for v in values if v is not None])
    if event["type"] == "qa.evaluated" and name == "score" and event.get("score") is not None:
        event["score"] = rng.choice(["ninety", [90]])
    return orjson.dumps(event), "invalid_timestamp" if name == "occurred_at" else "schema_violation"


def huge_strings(rng: random.Random, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    """An id beyond 128 characters or a free text beyond 1,024 — mostly a few KB, sometimes 100s of KB."""
    event = _template(rng, template)
    size = rng.choice([rng.randint(1025, 5000)] * 8 + [rng.randint(20_000, 60_000)] + [rng.randint(150_000, 300_000)])
    fields = [f for f in (*_ID_FIELDS, *_TEXT_FIELDS) if f in event] + ["source"]  # fields its type has
    name = rng.choice(fields)
    if name in _ID_FIELDS:
        size = rng.choice([rng.randint(129, 1000), size])
    event[name] = _text(rng, size)
    return orjson.dumps(event), "schema_violation"


def invalid_timestamp(rng: random.Random, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    event = _template(rng, template)
    event["occurred_at"] = rng.choice([
        "2026-03-02T08:00:00",  # no offset
        "2026-03-02 08:00:00",
        "2026-03-02",  # a date
        "2026-13-45T99:00:00Z",
        "yesterday",
        "",
        "1772438400000",  # milliseconds as a string
        "1999-12-31T23:59:59Z",  # before 2000
        "2100-01-01T00:00:00Z",  # 2100 or later
        "3026-03-02T08:00:00+00:00",
        "0001-01-01T00:00:00Z",
        "2026-03-02T08:00:00+25:00",
        "2026-03-02T08:00:00Zjunk",
        _text(rng, rng.randint(1, 40)),
    ])
    return orjson.dumps(event), "invalid_timestamp"


def score_out_of_scale(rng: random.Random, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    """A survey score outside its (default or given) scale, an impossible scale, or a QA score beyond 0-100."""
    survey = dict(next(t for t in TEMPLATES if t["type"] == "survey.responded"))
    if template is not None and template.get("type") == "survey.responded":
        survey = dict(template)
    roll = rng.random()
    if roll < 0.15:  # QA: a bounded number (pydantic range error -> schema_violation)
        qa = dict(next(t for t in TEMPLATES if t["type"] == "qa.evaluated"))
        if template is not None and "contact_id" in template:
            qa["contact_id"] = template["contact_id"]
        qa["score"] = rng.choice([-0.5, 100.01, 101, 1000, -100, 1e9])
        return orjson.dumps(qa), "schema_violation"
    if roll < 0.25:  # an impossible scale
        low = rng.randint(-5, 10)
        survey.update(scale_min=low, scale_max=low - rng.randint(0, 5), score=low)
        return orjson.dumps(survey), "schema_violation"
    kind = rng.choice(["csat", "nps", "ces"])
    low, high = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}[kind]
    survey["survey"] = kind
    survey.pop("scale_min", None), survey.pop("scale_max", None)
    if roll < 0.45:  # a given scale
        low, high = rng.randint(-3, 3), rng.randint(4, 12)
        survey.update(scale_min=low, scale_max=high)
    survey["score"] = rng.choice([rng.randint(high + 1, high + 100), rng.randint(low - 100, low - 1)])
    return orjson.dumps(survey), "score_out_of_scale"


#: Every kind rejected at decoding, by name.
DECODE_KINDS: dict[str, Callable[[random.Random, dict[str, Any] | None], tuple[bytes | None, str]]] = {
    "random_bytes": random_bytes,
    "garbage_text": garbage_text,
    "truncated_json": truncated_json,
    "not_an_object": not_an_object,
    "empty": empty,
    "missing_type": missing_type,
    "unknown_type": unknown_type,
    "wrong_type": wrong_type,
    "huge_strings": huge_strings,
    "invalid_timestamp": invalid_timestamp,
    "score_out_of_scale": score_out_of_scale,
}


def bad_message(rng: random.Random, kind: str, template: dict[str, Any] | None = None) -> tuple[bytes | None, str]:
    """One bad message value of ``kind`` (a key of DECODE_KINDS) and the dead-letter reason it must get."""
    return DECODE_KINDS[kind](rng, template)


# ---- properties ---------------------------------------------------------------------------------------
def _reason(value: bytes | None) -> str:
    with pytest.raises(EventRejected) as rejected:
        decode_event(value)
    return rejected.value.reason


@settings(max_examples=400, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(sorted(DECODE_KINDS)),
       template=st.sampled_from(TEMPLATES) | st.none())
def test_every_generated_bad_message_is_rejected_with_its_reason(seed: int, kind: str, template: dict[str, Any] | None) -> None:
    value, reason = bad_message(random.Random(seed), kind, template)
    assert _reason(value) == reason, (kind, value[:300] if value else value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_decoding_arbitrary_bytes_raises_only_event_rejected(raw: bytes) -> None:
    try:
        decode_event(raw)
    except EventRejected as exc:
        assert exc.reason in {"empty", "not_json", "not_object", "missing_type", "unknown_type", "schema_violation",
                              "invalid_timestamp", "score_out_of_scale"}
        assert len(exc.message) <= 500


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted({k for t in TEMPLATES for k in t})),
                       st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
                       | st.lists(st.text(max_size=5), max_size=3), max_size=12))
def test_decoding_arbitrary_objects_raises_only_event_rejected(data: dict[str, Any]) -> None:
    try:
        decode_event(orjson.dumps(data))
    except EventRejected:
        pass


def test_templates_are_valid_events() -> None:
    for template in TEMPLATES:
        assert decode_event(orjson.dumps(template)).event_id == template["event_id"]


def test_a_seeded_generator_is_deterministic() -> None:
    first = [bad_message(random.Random(7), kind) for kind in sorted(DECODE_KINDS)]
    assert first == [bad_message(random.Random(7), kind) for kind in sorted(DECODE_KINDS)]
