"""docker-compose.yml and the Dockerfile agree with the code.

No Docker engine runs in CI, so nothing else would notice a compose file that
calls a renamed subcommand or sets a misspelled ``CCPULSE_*`` variable (which
pydantic-settings silently ignores) until a user's stack misbehaves.
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from ccpulse.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = ROOT / "pyproject.toml"

#: CCPULSE_* variables read outside the Settings fields (by Settings.settings_customise_sources).
NON_FIELD_VARIABLES = {"CCPULSE_CONFIG_FILE"}
#: Services that run once and exit; everything else is long-running.
ONE_SHOT = {"topics", "simulator"}


# ---- helpers -----------------------------------------------------------------------------------
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def ccpulse_services() -> dict[str, dict[str, Any]]:
    """Services running the ccpulse image (the ones built from this repository)."""
    return {name: svc for name, svc in services().items() if "build" in svc}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- NAME=value` form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def interpolated(value: str) -> str:
    """``${NAME:-default}`` → ``default``: what compose substitutes when NAME is unset."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)


def subcommand_names(parser: argparse.ArgumentParser) -> set[str]:
    """Names of the subcommands of ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def cli_parser() -> argparse.ArgumentParser:
    import ccpulse.cli

    return ccpulse.cli.build_parser()


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def settings_path_error(variable: str) -> str | None:
    """Why ``variable`` does not name a Settings field (``None`` if it does).

    Follows pydantic-settings' rules: prefix ``CCPULSE_``, case-insensitive, ``__``
    between nesting levels (a nested model's field or a dict's key).
    """
    if variable in NON_FIELD_VARIABLES:
        return None
    if not variable.startswith("CCPULSE_"):
        return "does not start with CCPULSE_"
    parts = variable.removeprefix("CCPULSE_").lower().split("__")
    current: Any = Settings
    for depth, part in enumerate(parts):
        current = _unwrap_optional(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if part not in current.model_fields:
                return f"{current.__name__} has no field {part!r}"
            current = current.model_fields[part].annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]  # any key; continue with the value type
        else:
            return f"{'.'.join(parts[:depth])} is not nested, but the name continues with {part!r}"
    return None


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


# ---- the helpers themselves ----------------------------------------------------------------------
def test_settings_path_rules() -> None:
    assert settings_path_error("CCPULSE_BOOTSTRAP_SERVERS") is None
    assert settings_path_error("CCPULSE_TOPICS__CONTACT_EVENTS") is None
    assert settings_path_error("CCPULSE_QUEUES__BILLING__SL_TARGET") is None
    assert settings_path_error("CCPULSE_QUEUES__BILLING__SL_TARGETS") is not None
    assert settings_path_error("CCPULSE_BOOTSTRAP_SERVER") is not None
    assert settings_path_error("CCPULSE_STORE__X") is not None
    assert settings_path_error("KAFKA_NODE_ID") is not None


# ---- compose against the CLI ---------------------------------------------------------------------
def test_cli_has_the_documented_subcommands() -> None:
    assert subcommand_names(cli_parser()) >= {"demo", "broker", "worker", "api", "simulate", "replay", "schemas", "topics"}


@pytest.mark.parametrize("name", sorted(ccpulse_services()))
def test_service_command_is_a_valid_ccpulse_invocation(name: str) -> None:
    command = ccpulse_services()[name].get("command")
    assert isinstance(command, list) and command, f"{name}: give `command` as a list of ccpulse arguments"
    parser = cli_parser()
    assert command[0] in subcommand_names(parser), f"{name}: `ccpulse {command[0]}` is not a subcommand"
    try:
        parser.parse_args([str(arg) for arg in command])
    except SystemExit:
        pytest.fail(f"{name}: `ccpulse {' '.join(map(str, command))}` is rejected by the CLI's parser")


# ---- compose against Settings --------------------------------------------------------------------
def test_every_ccpulse_variable_is_a_setting() -> None:
    names = {var for svc in services().values() for var in environment(svc) if var.startswith("CCPULSE_")}
    names |= {
        match for instruction, args in dockerfile_instructions() if instruction == "ENV"
        for match in re.findall(r"\b(CCPULSE_[A-Z0-9_]+)=", args)
    }
    assert names, "no CCPULSE_* variables found: has the compose file changed shape?"
    errors = {name: error for name in sorted(names) if (error := settings_path_error(name))}
    assert not errors, f"CCPULSE_* variables that no setting reads (typos are silently ignored): {errors}"


@pytest.mark.parametrize("name", sorted(ccpulse_services()))
def test_service_environment_is_valid_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("CCPULSE_")]:
        monkeypatch.delenv(var)
    for var, value in environment(ccpulse_services()[name]).items():
        if var.startswith("CCPULSE_") and var not in NON_FIELD_VARIABLES:
            monkeypatch.setenv(var, interpolated(value))
    Settings()  # raises ValidationError on a bad value


def test_every_ccpulse_service_reaches_kafka_on_its_advertised_listener() -> None:
    kafka_env = environment(services()["kafka"])
    advertised = {entry.split("://", 1)[1] for entry in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    for name, svc in ccpulse_services().items():
        servers = environment(svc).get("CCPULSE_BOOTSTRAP_SERVERS")
        assert servers, f"{name}: set CCPULSE_BOOTSTRAP_SERVERS (the default, localhost:9092, is wrong in a container)"
        assert set(servers.split(",")) <= advertised, f"{name}: {servers} is not an advertised Kafka listener {advertised}"


def test_api_port_matches_the_settings_default() -> None:
    api = services()["api"]
    port = int(environment(api).get("CCPULSE_API_PORT", Settings.model_fields["api_port"].default))
    container_ports = {int(str(mapping).rsplit(":", 1)[1].split("/")[0]) for mapping in api["ports"]}
    assert container_ports == {port}
    assert f":{port}/healthz" in " ".join(map(str, api["healthcheck"]["test"]))
    assert interpolated(environment(api).get("CCPULSE_API_HOST", "")) == "0.0.0.0", "the API must listen on all interfaces"


def test_worker_runs_two_replicas_on_rocksdb_with_a_data_volume() -> None:
    worker = services()["worker"]
    env = environment(worker)
    assert worker["deploy"]["replicas"] == 2
    assert "container_name" not in worker, "replicas cannot share a container name"
    # A persistent store that the installed Faust knows (rocksdict:// maps to Faust's rocksdb://, on rocksdict).
    from faust.stores import by_url
    from faust.stores.rocksdb import Store as RocksDBStore

    assert env["CCPULSE_STORE"] == "rocksdict://"
    assert by_url(Settings(store=env["CCPULSE_STORE"]).faust_store) is RocksDBStore
    targets = {v["target"] if isinstance(v, dict) else str(v).split(":")[-1] for v in worker.get("volumes", [])}
    assert env["CCPULSE_DATA_DIR"] in targets, "the worker's data dir must be a volume"


# ---- compose on its own --------------------------------------------------------------------------
def test_images_are_pinned() -> None:
    kafka = services()["kafka"]["image"]
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", kafka), f"pin the Kafka image to a release, got {kafka}"
    for name, svc in services().items():
        if "build" not in svc:
            assert ":" in svc["image"] and not svc["image"].endswith(":latest"), f"{name}: pin its image tag"


def test_kafka_runs_kraft_single_node() -> None:
    env = environment(services()["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert "ZOOKEEPER" not in " ".join(env)


def test_restart_policies_and_healthchecks() -> None:
    svcs = services()
    for name, svc in svcs.items():
        expected = "unless-stopped" if name not in ONE_SHOT else "on-failure"
        assert svc.get("restart") == expected, f"{name}: restart should be {expected}"
    for name in ("kafka", "api"):
        assert svcs[name].get("healthcheck", {}).get("test"), f"{name}: needs a healthcheck"


def test_depends_on_conditions_are_satisfiable() -> None:
    svcs = services()
    for name, svc in svcs.items():
        for dependency, spec in (svc.get("depends_on") or {}).items():
            assert dependency in svcs, f"{name} depends on unknown service {dependency}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in svcs[dependency], f"{name} waits for {dependency} to be healthy, which has no healthcheck"
            elif condition == "service_completed_successfully":
                assert dependency in ONE_SHOT, f"{name} waits for long-running {dependency} to exit"
            else:
                assert condition == "service_started"
    assert svcs["worker"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_simulator_is_optional() -> None:
    simulator = services()["simulator"]
    assert simulator["profiles"] == ["simulator"]
    assert simulator["command"][:3] == ["simulate", "--speed", "1"]
    assert all("profiles" not in svc for name, svc in services().items() if name != "simulator")


def test_no_secrets() -> None:
    for name, svc in services().items():
        for var, value in environment(svc).items():
            if re.search(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|API_KEY", var) and not var.endswith("_FILE"):
                pytest.fail(f"{name}: {var} looks like a secret; compose files must not carry credentials")
            assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", value), f"{name}: {var} embeds credentials"


# ---- Dockerfile ----------------------------------------------------------------------------------
def test_dockerfile_installs_the_package_with_rocksdb() -> None:
    steps = dockerfile_instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(args for instruction, args in steps if instruction == "RUN")
    assert re.search(r"pip install ['\"]?\.\[rocksdb\]", runs), "the image must `pip install .[rocksdb]`"
    assert ("ENTRYPOINT", '["ccpulse"]') in steps


def test_dockerfile_runs_as_non_root() -> None:
    users = [args for instruction, args in dockerfile_instructions() if instruction == "USER"]
    assert users, "the Dockerfile must switch to a non-root USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_copies_every_package_and_existing_sources() -> None:
    copied: set[str] = set()
    for instruction, args in dockerfile_instructions():
        if instruction == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                copied.add(source.rstrip("/"))
                if not any(ch in source for ch in "*?["):
                    assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, f"the image misses packages: {sorted(packages - copied)}"
    assert "pyproject.toml" in copied
    assert project["project"]["scripts"]["ccpulse"] == "ccpulse.cli:main"


def test_api_tokens_file_is_mounted_and_prometheus_scrapes_with_a_metrics_token() -> None:
    """The API reads hashed tokens from the mounted file; Prometheus' scrape token is one of them,
    with the metrics scope (the compose stack runs with authentication on)."""
    from api.auth import TokenRegistry
    from ccpulse.settings import Settings

    api = services()["api"]
    path = environment(api)["CCPULSE_API_TOKENS_FILE"]
    [mount] = [v for v in api["volumes"] if v.endswith(":ro") and path.startswith(v.split(":")[1])]
    local = ROOT / mount.split(":")[0] / path[len(mount.split(":")[1]):].lstrip("/")
    assert local.exists(), local
    assert "CCPULSE_AUTH_ENABLED" not in environment(api)  # on, the default
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    [job] = [j for j in prometheus["scrape_configs"] if j["job_name"] == "ccpulse-api"]
    token = (ROOT / "deploy/prometheus" / job["authorization"]["credentials_file"]).read_text().strip()
    principal = TokenRegistry(Settings(api_tokens_file=local)).lookup(token)
    assert principal is not None and principal.can("metrics") and principal.queues is None
    assert token not in local.read_text()  # only its hash is configured


def test_kafka_version_is_the_one_the_suite_runs() -> None:
    """The compose Kafka, the dev broker (`ccpulse broker --engine kafka`) and the test broker are one version."""
    from ccpulse.kafka_broker import KAFKA_VERSION

    assert services()["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
