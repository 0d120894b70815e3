"""The read API over HTTP for ``ccpulse report`` (standard library only: no client dependency)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ApiClient", "ApiError", "ApiUnreachable"]


class ApiUnreachable(Exception):
    """Nothing answers at the API's address."""


class ApiError(Exception):
    """The API answered with an error status (its ``detail`` in the message)."""

    def __init__(self, status: int, path: str, detail: str) -> None:
        super().__init__(f"{path}: {status} {detail}")
        self.status, self.path, self.detail = status, path, detail


class ApiClient:
    """``client(path, params)`` -> the decoded JSON answer; counts requests for progress."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0,
                 on_request: Callable[[int, str], None] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.on_request = on_request
        self.requests = 0

    def __call__(self, path: str, params: Mapping[str, Any]) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        url = self.base_url + urllib.parse.quote(path) + (f"?{query}" if query else "")
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("detail", exc.reason)
            except (ValueError, AttributeError):
                detail = exc.reason
            raise ApiError(exc.code, path, detail if isinstance(detail, str) else json.dumps(detail)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ApiUnreachable(str(getattr(exc, "reason", exc))) from None
        self.requests += 1
        if self.on_request is not None:
            self.on_request(self.requests, path)
        return json.loads(body)
