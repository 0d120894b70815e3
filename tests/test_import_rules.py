"""The layers import only downwards (issue #23): read by walking every module's imports with ``ast``.

- No module of ``ccpulse/`` or ``streams/`` imports ``api``: the read model the API serves lives in
  ``ccpulse.readmodel``, shared with ``ccpulse recompute`` and the worker's alert evaluator; the
  API adds its commands (``ccpulse api``, ``ccpulse token``) to the command line as entry points.
- ``ccpulse/domain`` (the pure rules) imports no framework, no Kafka client, no process code.
- ``ccpulse/readmodel`` imports no framework and no process code; only its consumer talks to Kafka.

Every import counts, also those inside functions (run only when called) and those only for type
checking, and ``importlib.import_module("...")`` with a literal name.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (importing module, imported module) pairs allowed to break a rule, and why: none.
ALLOWED: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file at ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the importing module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # ``from api import store`` imports api.store
                yield node.lineno, f"{module}.{alias.name}"
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"
                   or isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))):
            yield node.lineno, node.args[0].value


def violations(under: str, forbidden: tuple[str, ...], exempt: tuple[str, ...] = ()) -> list[str]:
    """Imports of ``forbidden`` packages (or their modules) by modules under ``under``."""
    assert (ROOT / under).is_dir(), under
    found = []
    for path in sorted((ROOT / under).rglob("*.py")):
        importer = module_name(path)
        if importer in exempt:
            continue
        for line, module in imports(path):
            within = _parents(module)  # api.store.X is within api.store, within api
            if any(m in forbidden for m in within) and not any((importer, m) in ALLOWED for m in within):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return sorted(set(found))


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@pytest.mark.parametrize("under", ["ccpulse", "streams"])
def test_no_library_or_worker_module_imports_the_api(under: str) -> None:
    assert violations(under, ("api",)) == []


def test_the_command_line_names_no_api_module_and_gets_the_api_commands_from_its_entry_points() -> None:
    """``ccpulse.cli`` imports its commands' modules by name: none of them is the API's; ``api`` and
    ``token`` come from the ``ccpulse.commands`` entry points the API registers (pyproject.toml)."""
    import api.auth
    import api.cli
    import ccpulse.cli

    assert [m for _, m, _, _ in ccpulse.cli.COMMANDS.values() if m and _parents(m)[0] == "api"] == []
    assert ccpulse.cli.plugin_commands() == {"api": api.cli, "token": api.auth}
    parser = ccpulse.cli.build_parser("api")
    assert parser.parse_args(["api", "--port", "8123"]).run is api.cli.run
    assert parser.parse_args(["token", "create", "--name", "x"]).run is api.auth.run


def test_the_domain_imports_no_framework_kafka_or_process_code() -> None:
    assert violations("ccpulse/domain", ("faust", "aiokafka", "fastapi", "starlette", "streams", "api")) == []


def test_the_read_model_imports_no_framework_and_only_its_consumer_talks_to_kafka() -> None:
    assert violations("ccpulse/readmodel", ("faust", "fastapi", "starlette", "streams", "api")) == []
    assert violations("ccpulse/readmodel", ("aiokafka",), exempt=("ccpulse.readmodel.consumer",)) == []


def test_the_walk_sees_every_kind_of_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself: top-level, function-level, type-checking-only, relative and dynamic imports."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    package = tmp_path / "lib" / "sub"
    package.mkdir(parents=True)
    (tmp_path / "lib" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "import api\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from api.store import X\n"
        "def f():\n    from api import views\n"
        "from .. import api as not_the_api\n"
        "import importlib\nimportlib.import_module('api.main')\n")
    assert violations("lib", ("api",)) == [
        "lib/sub/a.py:1 imports api", "lib/sub/a.py:4 imports api.store", "lib/sub/a.py:4 imports api.store.X",
        "lib/sub/a.py:6 imports api", "lib/sub/a.py:6 imports api.views", "lib/sub/a.py:9 imports api.main"]
