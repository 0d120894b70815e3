"""JSON Schema files of the event contract, generated from the pydantic models.

The pydantic models in :mod:`schemas.events` are the contract; these files are a
derived, language-neutral copy for integrators who do not run Python. They are
committed (``schemas/json/``) so a contract change shows up in review, and a test
fails while they are stale – regenerate them with ``ccpulse schemas``.

Some rules cannot be expressed in JSON Schema (the plausible ``occurred_at``
range, a survey ``score`` within its scale); ``decode_event`` remains the
authority, and docs/events.md describes those rules.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ccpulse.settings import Settings
from schemas.events import EVENT_TYPES, Event, event_adapter

__all__ = [
    "BASE_ID",
    "DEFAULT_DIR",
    "add_arguments",
    "json_schemas",
    "render",
    "run",
    "stale_schemas",
    "write_schemas",
]

#: Every ``$id`` is this prefix plus the file name; ``v1`` is the contract version.
BASE_ID = "https://ccpulse.dev/schemas/v1/"
#: Where the committed files live: ``schemas/json`` next to this module.
DEFAULT_DIR = Path(__file__).resolve().parent / "json"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _models() -> dict[str, type[BaseModel]]:
    """Event type → model, read from the union so a new event type cannot be forgotten."""
    models: list[type[BaseModel]] = list(Event.__origin__.__args__)  # type: ignore[attr-defined]
    return dict(zip(EVENT_TYPES, models, strict=True))


def _finish(schema: dict[str, Any], name: str, title: str) -> dict[str, Any]:
    return {"$schema": _DIALECT, "$id": BASE_ID + name, **schema, "title": title}


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema: one per event type plus ``event.json`` (the whole union)."""
    out: dict[str, dict[str, Any]] = {}
    for event_type, model in _models().items():
        name = f"{event_type}.json"
        out[name] = _finish(model.model_json_schema(mode="validation"), name, f"ccpulse event {event_type} (contract v1)")
    out["event.json"] = _finish(
        event_adapter.json_schema(mode="validation"), "event.json", "ccpulse event (contract v1, any type)"
    )
    return out


def render(schema: dict[str, Any]) -> str:
    """The exact file text of ``schema``: stable across runs so diffs show only real changes."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema file into ``directory`` and delete ``*.json`` files that are no longer generated."""
    directory.mkdir(parents=True, exist_ok=True)
    schemas = json_schemas()
    for stale in directory.glob("*.json"):
        if stale.name not in schemas:
            stale.unlink()
    written: list[Path] = []
    for name, schema in sorted(schemas.items()):
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(directory: Path | str) -> list[str]:
    """Names of files in ``directory`` that differ from, are missing from or are extra to the generated set."""
    directory = Path(directory)
    expected = {name: render(schema) for name, schema in json_schemas().items()}
    present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
    stale = [name for name in present - expected.keys()]
    for name, text in expected.items():
        path = directory / name
        if name not in present or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return sorted(stale)


def _shown(directory: Path) -> str:
    """``directory`` relative to the working directory when it is below it (shorter messages)."""
    try:
        return os.path.relpath(directory) if directory.resolve().is_relative_to(Path.cwd()) else str(directory)
    except ValueError:  # another drive on Windows
        return str(directory)


# ---- CLI glue (`ccpulse schemas`) -------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="exit 1 listing stale files instead of writing them")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"output directory (default {_shown(DEFAULT_DIR)})")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Write the schema files, or with ``--check`` report stale ones (for CI)."""
    directory: Path = args.dir
    if args.check:
        stale = stale_schemas(directory)
        if stale:
            print(
                f"ccpulse: {len(stale)} stale JSON Schema file(s) in {_shown(directory)}: {', '.join(stale)}; "
                f"run `ccpulse schemas` to regenerate them",
                file=sys.stderr,
            )
            return 1
        print(f"ccpulse schemas: {len(json_schemas())} JSON Schema files in {_shown(directory)} are up to date")
        return 0
    try:
        written = write_schemas(directory)
    except OSError as exc:
        print(f"ccpulse: cannot write JSON Schema files to {_shown(directory)}: {exc.strerror or exc}; "
              f"choose another directory with --dir", file=sys.stderr)
        return 1
    print(f"ccpulse schemas: wrote {len(written)} JSON Schema files to {_shown(directory)}")
    return 0
