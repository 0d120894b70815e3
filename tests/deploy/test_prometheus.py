"""deploy/prometheus and deploy/alertmanager: valid for the real tools, tested, documented.

Runs the real ``promtool`` (Debian package ``prometheus``) and ``amtool`` (``prometheus-alertmanager``).
They are required, not optional: ``.ci/system-deps`` installs them (``./dev test`` calls it).

* ``promtool check config`` / ``check rules`` / ``test rules`` (deploy/prometheus/tests/*.yml);
* every PromQL expression uses only the metric names the API exports
  (deploy/prometheus/metric_names.txt, the contract with api/routes/metrics.py), recording rules
  defined in deploy/prometheus/rules, or ``up``;
* every recording rule has a value tested, every alert is tested firing and not firing, and has a
  severity, a summary, a description and a runbook section in docs/operations.md;
* ``amtool check-config`` and the routing of critical → pager, warning → chatops.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
METRIC_NAMES = PROMETHEUS_DIR / "metric_names.txt"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
COMPOSE = ROOT / "docker-compose.yml"

SEVERITIES = {"critical", "warning"}
RECORDING_NAME = re.compile(r"ccpulse:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*")


# ---- the tools ---------------------------------------------------------------------------------
def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed: run .ci/system-deps as root, or "
            f"`sudo apt-get install --no-install-recommends {package}` (Debian/Ubuntu). "
            "The deployment tests need the real tool and are not skipped without it."
        )
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return tool("promtool", "prometheus")


@pytest.fixture(scope="session")
def amtool() -> str:
    return tool("amtool", "prometheus-alertmanager")


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{' '.join(result.args)} failed:\n{result.stdout}\n{result.stderr}"


# ---- PromQL helpers (shared with test_grafana.py) ----------------------------------------------
PROMQL_KEYWORDS = {
    "and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "inf", "nan", "atan2",
}


def metric_names_in(expr: str) -> set[str]:
    """Metric names an expression selects (a small lexer, enough for the PromQL written here).

    Strings, label matchers ``{...}``, ranges ``[...]``, grouping lists ``by (...)`` and numbers are
    removed; what remains is identifiers, of which those not followed by ``(`` are metric names.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\[\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    text = re.sub(r"\boffset\s+-?\w+", " ", text)
    text = re.sub(r"(?<![\w:])(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group()
        if name.lower() in PROMQL_KEYWORDS or re.match(r"\s*\(", text[match.end():]):
            continue
        names.add(name)
    return names


def exported_metric_names() -> set[str]:
    return {line.strip() for line in METRIC_NAMES.read_text(encoding="utf-8").splitlines() if line.strip()}


def rule_groups() -> list[dict[str, Any]]:
    return [group for path in RULE_FILES for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]]


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def recorded_names() -> set[str]:
    return {rule["record"] for rule in rules() if "record" in rule}


def known_names() -> set[str]:
    """What an expression may select: exported series, recording rules, and `up`."""
    return exported_metric_names() | recorded_names() | {"up"}


def check_expressions_parse(promtool: str, exprs: dict[str, str], tmp_path: Path) -> None:
    """Parse every expression with promtool: each becomes a recording rule of a throw-away rule file."""
    groups = [{"name": label, "rules": [{"record": "check:expression:parses", "expr": expr}]}
              for label, expr in exprs.items()]
    path = tmp_path / "expressions.yml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False, allow_unicode=True), encoding="utf-8")
    assert_ok(run(promtool, "check", "rules", path))


def unknown_names(exprs: dict[str, str]) -> dict[str, set[str]]:
    known = known_names()
    return {label: unknown for label, expr in exprs.items() if (unknown := metric_names_in(expr) - known)}


def markdown_anchors(path: Path) -> dict[str, str]:
    """GitHub's anchor of every heading of a Markdown file -> the heading."""
    anchors: dict[str, str] = {}
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            heading = match.group(1)
            anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            base, n = anchor, 1
            while anchor in anchors:
                anchor, n = f"{base}-{n}", n + 1
            anchors[anchor] = heading
    return anchors


# ---- the helpers themselves --------------------------------------------------------------------
def test_metric_names_in() -> None:
    expr = ('sum by (queue) (rate(foo_total{a="b", c=~"x|y"}[5m] offset 1h)) / on (queue) group_left () '
            'bar:baz:ratio > 0.5 and ignoring (x) histogram_quantile(0.95, le_bucket) or vector(1e3) unless up == bool 1')
    assert metric_names_in(expr) == {"foo_total", "bar:baz:ratio", "le_bucket", "up"}
    assert metric_names_in('max(x{queue="$queue"}) by (queue)') == {"x"}
    assert metric_names_in("count(y == 1) or vector(0)") == {"y"}


def test_markdown_anchors(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Top\n### CcpulseQueueSLABreach\n## `sl_below_target`\n```\n# not a heading\n```\n## Top\n")
    assert set(markdown_anchors(page)) == {"top", "ccpulsequeueslabreach", "sl_below_target", "top-1"}


# ---- Prometheus ----------------------------------------------------------------------------------
def test_prometheus_config_is_valid(promtool: str) -> None:
    assert_ok(run(promtool, "check", "config", PROMETHEUS_CONFIG))


def test_rule_files_are_valid(promtool: str) -> None:
    assert RULE_FILES, "no rule files in deploy/prometheus/rules"
    assert_ok(run(promtool, "check", "rules", *RULE_FILES))


def test_rule_unit_tests_pass(promtool: str) -> None:
    assert RULE_TESTS, "no promtool unit tests in deploy/prometheus/tests"
    result = run(promtool, "test", "rules", *RULE_TESTS)
    assert_ok(result)
    assert "FAILED" not in result.stdout + result.stderr


def test_prometheus_scrapes_the_api_and_alerts_to_alertmanager() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["ccpulse-api"]
    assert api.get("scrape_interval", config["global"]["scrape_interval"]) == "15s"
    assert api.get("metrics_path", "/metrics") == "/metrics"
    targets = {t for sc in api["static_configs"] for t in sc["targets"]}
    assert targets == {"api:8000"}
    assert config["rule_files"] == ["rules/*.yml"]
    am_targets = {t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]}
    assert am_targets == {"alertmanager:9093"}
    # The names resolve on the compose network: services `api` (port 8000) and `alertmanager`.
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert {"api", "alertmanager", "prometheus"} <= set(services)
    assert any(str(p).endswith(":8000") for p in services["api"]["ports"])


def test_metric_names_file_is_a_clean_list() -> None:
    lines = METRIC_NAMES.read_text(encoding="utf-8").splitlines()
    names = [line for line in lines if line.strip()]
    assert names == [line.strip() for line in names], "one bare name per line"
    assert len(names) == len(set(names)), "duplicate names"
    for name in names:
        assert re.fullmatch(r"ccpulse_[a-z][a-z0-9_]*", name), f"{name}: not a ccpulse metric name"
    # No contact, customer or agent ids as series: agent-level series are opt-in, not the contract.
    assert not [n for n in names if re.search(r"contact_id|customer|_agent_", n)]
    for family in {n.removesuffix(s) for n in names for s in ("_bucket", "_sum", "_count") if n.endswith(s)}:
        assert {f"{family}_bucket", f"{family}_sum", f"{family}_count"} <= set(names), f"{family}: incomplete histogram"


def test_recording_rule_names_follow_the_convention() -> None:
    for rule in rules():
        if "record" in rule:
            assert RECORDING_NAME.fullmatch(rule["record"]), f"{rule['record']}: want ccpulse:<metric>:<operations>"
            assert not rule["record"].endswith("_total"), f"{rule['record']}: drop _total after an operation"
    names = [rule["record"] for rule in rules() if "record" in rule]
    assert len(names) == len(set(names)), "a recording rule is defined twice"
    # Both windows for every per-queue figure.
    queue_figures = {n for n in names if n.startswith("ccpulse:queue_")}
    for name in queue_figures:
        twin = name[:-3] + "1h" if name.endswith("15m") else name[:-2] + "15m"
        assert twin in queue_figures, f"{name} has no twin over the other window ({twin})"


def test_every_rule_expression_uses_only_known_metrics() -> None:
    exprs = {rule.get("record") or rule["alert"]: rule["expr"] for rule in rules()}
    assert not unknown_names(exprs), (
        f"expressions select series that neither the API exports ({METRIC_NAMES.relative_to(ROOT)}) "
        f"nor a recording rule defines: {unknown_names(exprs)}"
    )


def test_the_required_figures_are_recorded() -> None:
    for window in ("15m", "1h"):
        assert {
            f"ccpulse:queue_service_level:ratio_rate{window}",
            f"ccpulse:queue_asa_seconds:mean{window}",
            f"ccpulse:queue_aht_seconds:mean{window}",
            f"ccpulse:queue_abandon_rate:ratio_rate{window}",
            f"ccpulse:queue_csat:ratio_rate{window}",
            f"ccpulse:queue_nps:score_rate{window}",
        } <= recorded_names()


def unit_tests() -> list[dict[str, Any]]:
    return [test for path in RULE_TESTS for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]]


def test_every_recording_rule_value_is_unit_tested() -> None:
    tested = {case["expr"].split("{")[0].strip() for test in unit_tests() for case in test.get("promql_expr_test", [])
              if case.get("exp_samples")}
    assert recorded_names() <= tested, f"recording rules without a tested value: {sorted(recorded_names() - tested)}"


def alert_rules() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    firing: set[tuple[str, str]] = set()
    silent: set[str] = set()
    for test in unit_tests():
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts") or []:
                firing.add((case["alertname"], alert["exp_labels"]["severity"]))
            if not case.get("exp_alerts"):
                silent.add(case["alertname"])
    for rule in alert_rules():
        assert (rule["alert"], rule["labels"]["severity"]) in firing, f"{rule['alert']} ({rule['labels']['severity']}) never tested firing"
        assert rule["alert"] in silent, f"{rule['alert']} never tested not firing"


def test_the_required_alerts_exist() -> None:
    assert {rule["alert"] for rule in alert_rules()} == {
        "CcpulseQueueSLABreach", "CcpulseQueueLongWait", "CcpulseQueueNoAgents", "CcpulseQueueHighAbandonRate",
        "CcpulseDown", "CcpulseReadModelNotReady", "CcpulseConsumerLagGrowing", "CcpulseDeadLetterRate",
        "CcpulseReadModelStale",
    }


def test_every_alert_has_severity_annotations_and_a_runbook() -> None:
    anchors = markdown_anchors(OPERATIONS)
    for rule in alert_rules():
        name = rule["alert"]
        assert rule.get("labels", {}).get("severity") in SEVERITIES, f"{name}: severity must be one of {SEVERITIES}"
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            assert str(annotations.get(key, "")).strip(), f"{name}: no {key} annotation"
        url = annotations["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path.endswith("docs/operations.md"), f"{name}: runbook_url should point to docs/operations.md, got {url}"
        assert anchor in anchors, f"{name}: docs/operations.md has no heading with anchor #{anchor}"
        assert anchors[anchor].strip("` ") == name, f"{name}: #{anchor} is the section of {anchors[anchor]!r}"
        assert rule.get("for"), f"{name}: set a `for` duration so that a single bad scrape does not notify"


def test_every_alert_and_stream_rule_has_a_runbook_section() -> None:
    from ccpulse.domain.alerts import RULES

    headings = {heading.strip("` ") for heading in markdown_anchors(OPERATIONS).values()}
    missing = ({rule["alert"] for rule in alert_rules()} | set(RULES)) - headings
    assert not missing, f"docs/operations.md needs a runbook section (a heading) for: {sorted(missing)}"


# ---- Alertmanager --------------------------------------------------------------------------------
def test_alertmanager_config_is_valid(amtool: str) -> None:
    assert_ok(run(amtool, "check-config", ALERTMANAGER_CONFIG))


@pytest.mark.parametrize(("labels", "receiver"), [
    (["severity=critical", "alertname=CcpulseQueueSLABreach", "queue=sales"], "pager"),
    (["severity=critical", "alertname=CcpulseDown", "instance=api:8000"], "pager"),
    (["severity=warning", "alertname=CcpulseQueueLongWait", "queue=sales"], "chatops"),
    (["alertname=SomethingWithoutSeverity"], "chatops"),
])
def test_alertmanager_routes_by_severity(amtool: str, labels: list[str], receiver: str) -> None:
    result = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels)
    assert_ok(result)
    assert result.stdout.split() == [receiver]


def test_every_severity_reaches_a_receiver(amtool: str) -> None:
    for severity in sorted({rule["labels"]["severity"] for rule in alert_rules()}):
        result = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", f"severity={severity}")
        assert_ok(result)
        assert result.stdout.split() == ["pager" if severity == "critical" else "chatops"]


def walk(value: Any) -> Iterable[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def test_alertmanager_groups_inhibits_and_carries_no_secrets() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    assert set(config["route"]["group_by"]) == {"alertname", "queue"}
    [inhibit] = config["inhibit_rules"]
    assert inhibit["source_matchers"] == ['severity = "critical"']
    assert inhibit["target_matchers"] == ['severity = "warning"']
    assert set(inhibit["equal"]) == {"alertname", "queue"}
    urls = [hook["url"] for receiver in config["receivers"] for hook in receiver.get("webhook_configs", [])]
    assert {r["name"] for r in config["receivers"]} == {"pager", "chatops"}
    assert all(url.startswith("http://alert-receiver:9000/") for url in urls), urls
    for value in walk(config):
        if isinstance(value, str):
            assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", value), f"credentials in a URL: {value}"
    keys = {key for value in walk(config) if isinstance(value, dict) for key in value}
    assert not keys & {"password", "bearer_token", "api_key", "routing_key", "service_key", "auth_password"}


# ---- docker-compose.yml: the monitoring services -------------------------------------------------
def compose_services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> host source of a service's bind mounts (short syntax)."""
    out = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str) and volume.startswith("./"):
            source, target = volume.split(":")[:2]
            out[target] = source
    return out


def test_compose_runs_prometheus_and_alertmanager_on_these_files() -> None:
    services = compose_services()
    prometheus, alertmanager = services["prometheus"], services["alertmanager"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", prometheus["image"])
    assert re.fullmatch(r"prom/alertmanager:v\d+\.\d+\.\d+", alertmanager["image"])
    assert mounts(prometheus)["/etc/prometheus"] == "./deploy/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert mounts(alertmanager)["/etc/alertmanager"] == "./deploy/alertmanager"
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in alertmanager["command"]
    for service in (prometheus, alertmanager):
        assert service["restart"] == "unless-stopped"
        assert service["healthcheck"]["test"]
