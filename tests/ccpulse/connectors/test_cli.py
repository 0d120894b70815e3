"""``ccpulse connect`` and ``ccpulse demo --source``: help that lists the connectors, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _ccpulse(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ccpulse", *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "CCPULSE_BOOTSTRAP_SERVERS": "127.0.0.1:1"})


def test_connect_help_lists_the_connectors(tmp_path: Path) -> None:
    done = _ccpulse("connect", "--help", cwd=tmp_path)
    assert done.returncode == 0
    for name in ("asterisk", "amazon-connect", "twilio", "/api/v1/connectors/twilio/taskrouter"):
        assert name in done.stdout
    top = _ccpulse("--help", cwd=tmp_path)
    assert "connect" in top.stdout


def test_one_line_errors_naming_the_fix(tmp_path: Path) -> None:
    missing = _ccpulse("connect", "asterisk", "--queue-log", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0
    assert missing.stderr.startswith("ccpulse: no such file:") and "--queue-log" in missing.stderr
    log = tmp_path / "queue_log"
    log.write_text("1772442000|NONE|NONE|NONE|QUEUESTART|\n")
    unreachable = _ccpulse("connect", "asterisk", "--queue-log", str(log), cwd=tmp_path)
    assert unreachable.returncode == 2 and unreachable.stderr.startswith("ccpulse: cannot reach Kafka")
    assert "Traceback" not in unreachable.stderr
    no_input = _ccpulse("connect", "amazon-connect", "--input", str(tmp_path / "none.jsonl"), cwd=tmp_path)
    assert no_input.returncode == 2 and no_input.stderr.startswith("ccpulse: no such file:")
    zone = _ccpulse("connect", "asterisk", "--queue-log", str(log), "--timezone", "Mars/Olympus", cwd=tmp_path)
    assert zone.returncode == 2 and "unknown time zone" in zone.stderr
    demo = _ccpulse("demo", "--source", "freeswitch:/x", cwd=tmp_path)
    assert demo.returncode == 2 and demo.stderr.strip() == "ccpulse: --source 'freeswitch:/x': use asterisk:PATH (the path of a queue_log)"
    demo = _ccpulse("demo", "--source", f"asterisk:{tmp_path / 'missing'}", cwd=tmp_path)
    assert demo.returncode == 2 and demo.stderr.startswith("ccpulse: --source: no such file")
