"""deploy/grafana: the dashboards are what generate.py makes, every query parses (real promtool)
and selects only exported metrics or recording rules, and provisioning matches docker-compose.yml."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.deploy.test_prometheus import (
    check_expressions_parse,
    compose_services,
    metric_names_in,
    mounts,
    promtool,  # noqa: F401  (fixture)
    unknown_names,
)

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
GENERATOR = GRAFANA / "generate.py"
DASHBOARDS = GRAFANA / "dashboards"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "ccpulse.yml"
EXPECTED_FILES = {"contact-centre-overview.json", "queue-drilldown.json", "customer-retention.json"}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ccpulse_grafana_generate", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in board["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows
    return out


def queries(board: dict[str, Any]) -> dict[str, str]:
    """'<panel title> / <refId>' -> PromQL, Grafana's variables replaced by sample values."""
    out = {}
    for panel in panels(board):
        for tgt in panel.get("targets", []):
            expr = re.sub(r"\$\{?__\w+\}?", "5m", tgt["expr"])  # $__rate_interval, $__interval, ...
            expr = re.sub(r"\$\{?(\w+)(?::\w+)?\}?", "sample", expr)  # $queue
            out[f"{panel['title']} / {tgt['refId']}"] = expr
    return out


# ---- the generator -----------------------------------------------------------------------------
def test_committed_dashboards_are_what_the_generator_makes() -> None:
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"run `python deploy/grafana/generate.py` and commit the JSON:\n{result.stderr}"
    assert {path.name for path in generator().outputs()} == EXPECTED_FILES
    assert {path.name for path in DASHBOARDS.glob("*.json")} == EXPECTED_FILES, "a dashboard the generator does not make"


def test_generator_is_deterministic() -> None:
    assert generator().outputs() == generator().outputs()


# ---- the dashboards ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_every_query_parses(name: str, promtool: str, tmp_path: Path) -> None:  # noqa: F811
    exprs = queries(dashboards()[name])
    assert exprs
    check_expressions_parse(promtool, exprs, tmp_path)


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_every_query_uses_only_known_metrics(name: str) -> None:
    unknown = unknown_names(queries(dashboards()[name]))
    assert not unknown, f"panels select series that neither the API exports nor a recording rule defines: {unknown}"


def test_dashboard_structure() -> None:
    datasource = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"][0]
    uids = set()
    for name, board in dashboards().items():
        assert board["uid"] not in uids and re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"]), name
        uids.add(board["uid"])
        assert board["title"].startswith("ccpulse / ")
        assert board["id"] is None, f"{name}: provisioned dashboards carry no database id"
        ids = [panel["id"] for panel in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        cells: set[tuple[int, int]] = set()
        for panel in panels(board):
            pos = panel["gridPos"]
            assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, f"{name}: {panel['title']} leaves the grid"
            area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
            assert not area & cells, f"{name}: {panel['title']} overlaps another panel"
            cells |= area
            if panel["type"] != "row":
                assert panel.get("description"), f"{name}: {panel['title']} has no description"
                assert panel["targets"], f"{name}: {panel['title']} has no query"
                for ds in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
                    assert ds == {"type": "prometheus", "uid": datasource["uid"]}, f"{name}: {panel['title']}"


def figures(board: dict[str, Any]) -> set[str]:
    return {name for expr in queries(board).values() for name in metric_names_in(expr)}


def test_overview_shows_the_required_figures() -> None:
    shown = figures(dashboards()["contact-centre-overview.json"])
    required = {
        "ccpulse:queue_service_level:ratio_rate15m", "ccpulse_queue_service_level_target_ratio",  # SL vs target
        "ccpulse_queue_contacts_waiting", "ccpulse_queue_longest_wait_seconds", "ccpulse_queue_agents",
        "ccpulse:queue_asa_seconds:mean15m", "ccpulse:queue_aht_seconds:mean1h",
        "ccpulse:queue_abandon_rate:ratio_rate15m", "ccpulse:queue_csat:ratio_rate1h", "ccpulse:queue_nps:score_rate1h",
    }
    assert required <= shown, f"missing from the overview: {sorted(required - shown)}"


def test_retention_shows_template_two() -> None:
    shown = figures(dashboards()["customer-retention.json"])
    required = {
        "ccpulse_survey_responses_total", "ccpulse_retention_loyal_ratio", "ccpulse_retention_premium_ratio",
        "ccpulse_retention_clv", "ccpulse_retention_churn_rate_ratio", "ccpulse_retention_mrr_growth_ratio",
        "ccpulse_retention_group_churn_rate_ratio",
    }
    assert required <= shown, f"missing from the retention dashboard: {sorted(required - shown)}"


def test_drilldown_is_per_queue() -> None:
    board = dashboards()["queue-drilldown.json"]
    [variable] = board["templating"]["list"]
    assert variable["name"] == "queue" and variable["type"] == "query"
    assert variable["definition"] == "label_values(ccpulse_queue_contacts_waiting, queue)"
    assert variable["query"]["query"] == variable["definition"]
    for panel in panels(board):
        for tgt in panel.get("targets", []):
            assert 'queue="$queue"' in tgt["expr"], f"{panel['title']}: not restricted to the chosen queue"


# ---- provisioning and compose --------------------------------------------------------------------
def test_provisioning_points_at_the_compose_services() -> None:
    services = compose_services()
    [datasource] = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"]
    assert datasource["type"] == "prometheus" and datasource["uid"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090" and "prometheus" in services
    [provider] = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))["providers"]
    grafana = mounts(services["grafana"])
    assert grafana[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    assert grafana["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"


def test_compose_grafana_is_anonymous_read_only_without_a_baked_in_password() -> None:
    grafana = compose_services()["grafana"]
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", grafana["image"])
    env = {str(k): str(v) for k, v in grafana["environment"].items()}
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert not [k for k in env if "PASSWORD" in k or "SECRET" in k]
    assert grafana["restart"] == "unless-stopped" and grafana["healthcheck"]["test"]
    home = env.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert home.startswith("/var/lib/grafana/dashboards/") and (DASHBOARDS / Path(home).name).exists()
