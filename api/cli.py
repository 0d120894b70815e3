"""``ccpulse api``: run the read API, wallboard and /metrics.

Registered as a ``ccpulse.commands`` entry point (pyproject.toml) rather than listed in
``ccpulse.cli``: the command line lives in ``ccpulse/``, which never imports ``api``
(tests/test_import_rules.py); the API adds its own commands to it.
"""

from __future__ import annotations

import argparse
import asyncio

from ccpulse.kafka import ensure_topics
from ccpulse.settings import Settings

__all__ = ["HELP", "add_arguments", "run"]

HELP = "run the read API, wallboard and /metrics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=None, help="port (default CCPULSE_API_PORT, 8000)")
    parser.add_argument("--host", default=None, help="interface (default CCPULSE_API_HOST, 127.0.0.1)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.main import create_app

    app = create_app(settings)  # a bad token file fails here, before Kafka is asked anything
    asyncio.run(ensure_topics(settings))
    uvicorn.run(app, host=args.host or settings.api_host, port=args.port or settings.api_port,
                log_level="warning", timeout_graceful_shutdown=5)
    return 0
