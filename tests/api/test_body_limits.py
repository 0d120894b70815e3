"""Bodies are limited while streaming: a 50 MB post to the rating callback (unsigned or signed) or
to the ingest endpoint is refused with 413/401 without the API process buffering it. Measured on
a real API process (uvicorn), by its peak RSS (``VmHWM``), not by trusting the code path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.auth import hash_token
from tests.api.test_callbacks import SECRET

INGEST = "ccp_body-limit-ingest"
BODY_MB = 50
#: Peak RSS the process may gain over a 50 MB request: well below the body (it must not be buffered).
MAX_GROWTH_MB = 15

APP = """
import uvicorn
from api.main import create_app
uvicorn.run(create_app(), host="127.0.0.1", port={port}, log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = _free_port()
    tokens = tmp_path_factory.mktemp("limits") / "tokens.toml"
    tokens.write_text(f'[[tokens]]\nname = "ingest"\nsha256 = "{hash_token(INGEST)}"\nscopes = ["ingest"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCPULSE_")}
    env.update(CCPULSE_API_TOKENS_FILE=str(tokens), CCPULSE_RATING_CALLBACK_SECRET=SECRET,
               CCPULSE_BOOTSTRAP_SERVERS="127.0.0.1:1")  # no broker: every request here ends before Kafka
    process = subprocess.Popen([sys.executable, "-c", APP.format(port=port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.2)
    yield url, process.pid
    process.terminate()
    process.wait(timeout=10)


def _send(url: str, path: str, headers: dict[str, str], chunked: bool) -> int | None:
    """POST a 50 MB body, in 1 MB chunks; the status, or None when the server closed the connection
    before the body was sent (it refused it without reading it: also correct)."""
    chunk = b"[" + b" " * (1024 * 1024 - 1)

    def body() -> Iterator[bytes]:
        for _ in range(BODY_MB):
            yield chunk

    length = {} if chunked else {"Content-Length": str(BODY_MB * 1024 * 1024)}
    try:
        return httpx.post(url + path, content=body(), headers={**headers, **length}, timeout=60).status_code
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        return None


@pytest.mark.parametrize("path, headers, chunked, expected", [
    ("/api/v1/callbacks/rating", {}, True, 401),  # unsigned: refused before a byte is read
    ("/api/v1/callbacks/rating", {"X-Ccpulse-Signature": "sha256=" + "0" * 64}, True, 413),
    ("/api/v1/callbacks/rating", {"X-Ccpulse-Signature": "sha256=" + "0" * 64}, False, 413),
    ("/api/v1/events", {"Authorization": f"Bearer {INGEST}"}, True, 413),
    ("/api/v1/events", {"Authorization": f"Bearer {INGEST}"}, False, 413),
])
def test_a_50_mb_body_is_refused_without_being_buffered(api, path: str, headers: dict[str, str], chunked: bool,
                                                        expected: int) -> None:
    url, pid = api
    before = _peak_rss_mb(pid)
    status = _send(url, path, headers, chunked)
    assert status in (expected, None)
    growth = _peak_rss_mb(pid) - before
    assert growth < MAX_GROWTH_MB, f"peak RSS grew by {growth:.1f} MB for a {BODY_MB} MB body"
    # The process is fine and still answers.
    assert httpx.get(url + "/healthz", timeout=5).status_code == 200


def test_the_refusal_is_a_413_with_a_clear_detail(api) -> None:
    url, _ = api
    response = httpx.post(url + "/api/v1/events", content=b"[" + b" " * (5 * 1024 * 1024),
                          headers={"Authorization": f"Bearer {INGEST}"}, timeout=30)
    assert response.status_code == 413 and "at most 4 MiB" in response.json()["detail"]
