"""The derived contract artefacts stay in step with the pydantic models.

Integrators read docs/events.md and schemas/json/, not schemas/events.py; if
either drifts from the models, producers get rejected for following the docs.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from schemas import jsonschema
from schemas.deadletter import deadletter_record
from schemas.events import EVENT_TYPES, EventRejected, decode_event

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "events.md"
SCHEMA_DIR = ROOT / "schemas" / "json"

#: Every reason a dead letter can carry; docs/events.md must explain each one.
REASONS = (
    "not_json", "not_object", "empty", "unknown_type", "missing_type", "schema_violation", "invalid_timestamp",
    "score_out_of_scale", "duplicate", "late", "unknown_contact", "impossible_transition", "wrong_topic",
    "currency_mismatch", "invalid_rating", "invalid_id",
)


def json_blocks(text: str) -> list[tuple[str, str]]:
    """(nearest heading above, body) of every ```json fenced block."""
    blocks: list[tuple[str, str]] = []
    heading, body = "", None
    for line in text.splitlines():
        if body is not None:
            if line.strip() == "```":
                blocks.append((heading, "\n".join(body)))
                body = None
            else:
                body.append(line)
        elif line.strip() == "```json":
            body = []
        elif re.match(r"#{1,6} ", line):
            heading = line.lstrip("#").strip().strip("`").strip()
    assert body is None, "unterminated ```json block in docs/events.md"
    return blocks


def event_examples() -> dict[str, list[str]]:
    """Event type → bodies of the ```json blocks in that event type's section."""
    examples: dict[str, list[str]] = {}
    for heading, body in json_blocks(DOC.read_text(encoding="utf-8")):
        if heading in EVENT_TYPES:
            examples.setdefault(heading, []).append(body)
    return examples


# ---- JSON Schema files ------------------------------------------------------------------------
def test_committed_schema_files_are_current() -> None:
    stale = jsonschema.stale_schemas(SCHEMA_DIR)
    assert not stale, f"schemas/json is stale ({', '.join(stale)}): run `ccpulse schemas` and commit the result"


def test_one_schema_per_event_type_plus_union() -> None:
    schemas = jsonschema.json_schemas()
    assert set(schemas) == {f"{t}.json" for t in EVENT_TYPES} | {"event.json"}
    for name, schema in schemas.items():
        assert schema["$id"] == f"https://ccpulse.dev/schemas/v1/{name}"
        assert schema["title"]
    assert len(schemas["event.json"]["oneOf"]) == len(EVENT_TYPES)


def test_write_is_deterministic_and_removes_stale_files(tmp_path: Path) -> None:
    (tmp_path / "contact.retired.json").write_text("{}\n")
    (tmp_path / "notes.txt").write_text("kept: not a schema file")
    first = {p.name: p.read_bytes() for p in jsonschema.write_schemas(tmp_path)}
    second = {p.name: p.read_bytes() for p in jsonschema.write_schemas(tmp_path)}
    assert first == second
    assert not (tmp_path / "contact.retired.json").exists()
    assert (tmp_path / "notes.txt").exists()
    text = (tmp_path / "event.json").read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n  "$defs"')
    assert jsonschema.stale_schemas(tmp_path) == []


def test_stale_detects_changed_missing_and_extra(tmp_path: Path) -> None:
    jsonschema.write_schemas(tmp_path)
    (tmp_path / "contact.queued.json").write_text("{}\n")
    (tmp_path / "qa.evaluated.json").unlink()
    (tmp_path / "extra.json").write_text("{}\n")
    assert jsonschema.stale_schemas(tmp_path) == ["contact.queued.json", "extra.json", "qa.evaluated.json"]


def test_cli_check_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    jsonschema.add_arguments(parser)
    assert jsonschema.run(parser.parse_args(["--check", "--dir", str(tmp_path)]), None) == 1  # type: ignore[arg-type]
    assert "run `ccpulse schemas`" in capsys.readouterr().err
    assert jsonschema.run(parser.parse_args(["--dir", str(tmp_path)]), None) == 0  # type: ignore[arg-type]
    assert "wrote 17 JSON Schema files" in capsys.readouterr().out
    assert jsonschema.run(parser.parse_args(["--check", "--dir", str(tmp_path)]), None) == 0  # type: ignore[arg-type]
    assert parser.parse_args([]).dir == SCHEMA_DIR


# ---- docs/events.md ----------------------------------------------------------------------------
@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_doc_has_exactly_one_valid_example_per_event_type(event_type: str) -> None:
    examples = event_examples().get(event_type, [])
    assert len(examples) == 1, f"docs/events.md needs exactly one ```json example in its `{event_type}` section"
    try:
        event = decode_event(examples[0].encode())
    except EventRejected as exc:
        pytest.fail(f"the `{event_type}` example in docs/events.md is rejected: {exc}")
    assert event.type == event_type


def test_every_example_block_is_checked() -> None:
    """A ```json block outside an event section must be the dead-letter record, so none escapes checking."""
    for heading, body in json_blocks(DOC.read_text(encoding="utf-8")):
        if heading not in EVENT_TYPES:
            assert "value_b64" in json.loads(body), f"unchecked ```json block under '{heading}' in docs/events.md"


def test_doc_deadletter_example_matches_the_record_format() -> None:
    records = [json.loads(body) for _, body in json_blocks(DOC.read_text(encoding="utf-8"))]
    examples: list[dict[str, Any]] = [r for r in records if "value_b64" in r]
    assert len(examples) == 1
    example = examples[0]
    real = json.loads(deadletter_record(raw=b"{}", key=b"k", topic="t", partition=0, offset=0, reason="r", message="m"))
    assert set(example) == set(real), "docs/events.md's dead-letter record lists other fields than schemas/deadletter.py"
    with pytest.raises(EventRejected) as info:
        decode_event(base64.b64decode(example["value_b64"]))
    assert info.value.reason == example["reason"]
    assert info.value.message == example["message"]


@pytest.mark.parametrize("reason", REASONS)
def test_doc_explains_every_reason(reason: str) -> None:
    assert re.search(rf"^\| `{reason}` \|", DOC.read_text(encoding="utf-8"), re.M), f"docs/events.md: add `{reason}` to the reasons table"


def test_doc_mentions_schema_files_and_command() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "schemas/json" in text and "ccpulse schemas" in text
