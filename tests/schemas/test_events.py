"""decode_event: every bad message becomes EventRejected with the documented reason.

The reason is what operators triage dead letters by (docs/events.md lists them),
so each one is pinned here; the property tests guard the promise that nothing
else ever escapes decode_event and crashes a worker.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import EVENT_TYPES, ContactQueued, EventRejected, SurveyResponded, decode_event

QUEUED: dict[str, Any] = {
    "type": "contact.queued",
    "event_id": "evt-1",
    "occurred_at": "2024-05-01T09:00:00+02:00",
    "contact_id": "c-1",
    "channel": "voice",
    "queue_id": "billing",
}
SURVEY: dict[str, Any] = {
    "type": "survey.responded",
    "event_id": "evt-2",
    "occurred_at": "2024-05-01T09:10:00Z",
    "contact_id": "c-1",
    "survey": "csat",
    "score": 4,
}


def encode(value: Any) -> bytes:
    return orjson.dumps(value)


def reason_of(raw: bytes | None) -> str:
    with pytest.raises(EventRejected) as info:
        decode_event(raw)
    assert info.value.message, "a rejection must say what is wrong"
    return info.value.reason


def without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


def test_valid_event_decodes() -> None:
    event = decode_event(encode(QUEUED))
    assert isinstance(event, ContactQueued)
    assert event.at == 1714546800.0  # 09:00+02:00 = 07:00Z


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not_json"),
        (b"\xff\xfe\x00", "not_json"),
        (b"[1, 2]", "not_object"),
        (b'"contact.queued"', "not_object"),
        (b"null", "not_object"),
        (None, "empty"),
        (encode({**QUEUED, "type": "contact.teleported"}), "unknown_type"),
        (encode(without(QUEUED, "type")), "missing_type"),
        (encode(without(QUEUED, "queue_id")), "schema_violation"),
        (encode({**QUEUED, "channel": "fax"}), "schema_violation"),
        (encode({**SURVEY, "score": 9}), "score_out_of_scale"),
        (encode({**SURVEY, "scale_min": 5, "scale_max": 5, "score": 5}), "schema_violation"),
        (encode({**QUEUED, "occurred_at": "2024-05-01T09:00:00"}), "invalid_timestamp"),
        (encode({**QUEUED, "occurred_at": "1970-01-01T00:00:00Z"}), "invalid_timestamp"),
        (encode({**QUEUED, "occurred_at": "next tuesday"}), "invalid_timestamp"),
        (encode({**QUEUED, "contact_id": "x" * 129}), "schema_violation"),
        (encode({**QUEUED, "event_id": ""}), "schema_violation"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_rejection_reasons(raw: bytes | None, reason: str) -> None:
    assert reason_of(raw) == reason


def test_csat_nine_names_the_scale() -> None:
    with pytest.raises(EventRejected) as info:
        decode_event(encode({**SURVEY, "score": 9}))
    assert "1..5" in info.value.message


def test_custom_scale_is_accepted() -> None:
    event = decode_event(encode({**SURVEY, "survey": "nps", "score": 10, "scale_min": 1}))
    assert isinstance(event, SurveyResponded)
    assert event.scale == (1, 10)
    assert reason_of(encode({**SURVEY, "survey": "nps", "score": 0, "scale_min": 1})) == "score_out_of_scale"


def test_default_scales() -> None:
    for survey, low, high in (("csat", 1, 5), ("nps", 0, 10), ("ces", 1, 7)):
        for score in (low, high):
            decode_event(encode({**SURVEY, "survey": survey, "score": score}))
        assert reason_of(encode({**SURVEY, "survey": survey, "score": high + 1})) == "score_out_of_scale"
        assert reason_of(encode({**SURVEY, "survey": survey, "score": low - 1})) == "score_out_of_scale"


def test_id_length_limit() -> None:
    event = decode_event(encode({**QUEUED, "contact_id": "x" * 128}))
    assert len(event.contact_id) == 128


@pytest.mark.parametrize("field, value", [
    ("contact_id", "c\x001"), ("contact_id", "c-1\n=HYPERLINK(\"x\")"), ("queue_id", "billing\t"),
    ("event_id", "\x1b[31mred"), ("queue_id", "del\x7f"), ("customer_id", "c1\u0085"),
])
def test_ids_with_control_characters_are_invalid_id(field: str, value: str) -> None:
    assert reason_of(encode({**QUEUED, field: value})) == "invalid_id"


def test_invalid_id_covers_lists_of_ids_and_keeps_printable_unicode() -> None:
    state = {"type": "agent.state_changed", "event_id": "e", "occurred_at": "2024-05-01T09:00:00Z",
             "agent_id": "a1", "state": "available"}
    assert reason_of(encode({**state, "queue_ids": ["billing", "sales\r"]})) == "invalid_id"
    # Printable text, including non-Latin scripts, spaces and formula-like text, stays valid (the CSV
    # export neutralises formulas; the contract does not guess at intent).
    for ok in ("Nguyễn Văn A", "agent 7", "=SUM(1)", "q@acme"):
        assert decode_event(encode({**state, "agent_id": ok})).agent_id == ok


def test_extra_fields_are_ignored() -> None:
    """Producers may add fields before the contract names them; they must not be rejected."""
    event = decode_event(encode({**QUEUED, "ivr_path": ["main", "billing"], "x-vendor": {"a": 1}}))
    assert isinstance(event, ContactQueued)
    assert not hasattr(event, "ivr_path")


def test_rejection_message_is_bounded() -> None:
    with pytest.raises(EventRejected) as info:
        decode_event(encode({**QUEUED, "contact_id": "x" * 100_000, "queue_id": "y" * 100_000}))
    assert len(info.value.message) <= 500


# ---- properties ------------------------------------------------------------------------------
def _expect_only_rejection(raw: bytes) -> None:
    try:
        decode_event(raw)
    except EventRejected as exc:
        assert exc.reason and exc.message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_only_raise_event_rejected(raw: bytes) -> None:
    _expect_only_rejection(raw)


_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
_json_values = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
_field_names = st.sampled_from(
    ["event_id", "occurred_at", "contact_id", "agent_id", "queue_id", "channel", "state", "survey", "score",
     "scale_min", "scale_max", "queue_ids", "priority", "reason", "to_queue_id", "resolved"]
)
_timestamps = st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    event_type=st.sampled_from(EVENT_TYPES) | st.text(max_size=20),
    fields=st.dictionaries(_field_names, _json_values | _timestamps, max_size=10),
)
def test_event_shaped_json_only_raises_event_rejected(event_type: str, fields: dict[str, Any]) -> None:
    """Plausible-looking objects reach the pydantic validators, where odd values hide."""
    try:
        raw = encode({**fields, "type": event_type})
    except orjson.JSONEncodeError:  # integers beyond 64 bits: not something a producer can send
        return
    _expect_only_rejection(raw)
