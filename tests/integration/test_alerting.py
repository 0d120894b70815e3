"""SLA breach end to end: worker rules → cc.alerts → API, and a real Prometheus with the project's
rules scraping the API, whose own alert for the queue becomes active."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timezone

import httpx
import orjson
import pytest
import yaml

from ccpulse.broker import free_port, wait_for_port
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


READ_TOKEN, METRICS_TOKEN = "ccp_alerting-read", "ccp_alerting-scrape"


@pytest.fixture
def alert_stack(broker, tmp_path):
    from tests.conftest import Stack

    config = tmp_path / "queues.toml"
    config.write_text("[queues.hot]\nsl_threshold_seconds = 20\nalert_clear_seconds = 2\n")
    # Authentication on, as deployed: Prometheus scrapes with a metrics token from a credentials file.
    stack = Stack(broker, tmp_path, {"CCPULSE_CONFIG_FILE": str(config)},
                  tokens={READ_TOKEN: ["read"], METRICS_TOKEN: ["metrics"]}).start(workers=1)
    yield stack
    stack.stop()


@pytest.fixture
def prometheus(alert_stack, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the Prometheus server is required: run .ci/system-deps (apt-get install prometheus)", pytrace=False)
    port = free_port()
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    (tmp_path / "scrape.token").write_text(METRICS_TOKEN + "\n")
    [scrape] = [job for job in config["scrape_configs"] if job["job_name"] == "ccpulse-api"]
    scrape.update({"scrape_interval": "1s", "scrape_timeout": "1s", "static_configs": [{"targets": [f"127.0.0.1:{alert_stack.api_port}"]}]})
    scrape["authorization"]["credentials_file"] = str(tmp_path / "scrape.token")
    config["scrape_configs"] = [scrape]
    config.pop("alerting", None)
    config["rule_files"] = [str(p) for p in sorted((ROOT / "deploy/prometheus/rules").glob("*.yml"))]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([binary, f"--config.file={path}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    assert wait_for_port("127.0.0.1", port, 30), (tmp_path / "prometheus.log").read_text()
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=15)


def _ccpulse_alerts(stack, state):
    return {a["rule"]: a for a in stack.get("/api/v1/alerts", state=state, queue_id="hot").json()["alerts"]}


def test_queue_breach_fires_and_resolves_in_ccpulse_and_prometheus(alert_stack, prometheus) -> None:
    stack = alert_stack
    stack.produce([{"event_id": "h-1", "type": "contact.queued", "occurred_at": _now(), "contact_id": "hot-1",
                    "channel": "voice", "queue_id": "hot"}])
    # (a) ccpulse's own rules: nobody staffed at once; the wait crosses 20 s with no further event.
    firing = stack.wait_for(lambda: (a := _ccpulse_alerts(stack, "firing")) and "contact_waiting_over_threshold" in a and a,
                            timeout=60, what="ccpulse alerts firing")
    assert firing["no_agents_available"]["severity"] == "critical"
    assert firing["contact_waiting_over_threshold"]["value"] == 1.0
    assert firing["contact_waiting_over_threshold"]["threshold"] == 20.0

    # (b) Prometheus, with the project's rules, scraping the API: its alert for the queue becomes active.
    def prometheus_alert():
        alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "CcpulseQueueNoAgents" and a["labels"].get("queue") == "hot"
                and a["state"] == "firing"]

    active = stack.wait_for(prometheus_alert, timeout=120, what="Prometheus alert CcpulseQueueNoAgents firing")
    assert active[0]["labels"]["severity"] == "critical"
    metrics = stack.get("/metrics", token=METRICS_TOKEN).text
    assert 'ccpulse_alerts_firing{queue="hot",rule="no_agents_available",severity="critical"} 1.0' in metrics

    # The customer hangs up: the conditions clear and each alert is resolved exactly once.
    stack.produce([{"event_id": "h-2", "type": "contact.abandoned", "occurred_at": _now(), "contact_id": "hot-1"}])
    resolved = stack.wait_for(lambda: (a := _ccpulse_alerts(stack, "resolved")) and {"no_agents_available", "contact_waiting_over_threshold"} <= a.keys() and a,
                              timeout=60, what="ccpulse alerts resolved")
    assert resolved["no_agents_available"]["resolved_at"] is not None
    assert not _ccpulse_alerts(stack, "firing").keys() & {"no_agents_available", "contact_waiting_over_threshold"}
    records = [orjson.loads(m.value) for m in stack.topic_messages(stack.settings.topics.alerts)
               if m.value and orjson.loads(m.value)["rule"] == "no_agents_available"]
    assert [r["state"] for r in records] == ["firing", "resolved"]  # once each: no flapping duplicates
    assert len({r["id"] for r in records}) == 1
