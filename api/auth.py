"""API tokens: who is calling, which scopes they hold, which queues they may see.

Tokens are random strings handed to integrators once (``ccpulse token create``);
only their SHA-256 is configured (settings or a token file), so the configuration
and its backups never hold a usable secret. A token is presented as
``Authorization: Bearer <token>`` or, where a browser cannot set headers
(``EventSource``, a wallboard URL on a TV), as ``?access_token=<token>``.

A token limited to queues is enforced by handing every route a
:class:`~api.scope.ScopedStore` instead of the whole read model (see ``api.deps``),
so a route cannot forget to filter.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ccpulse.settings import ApiToken, ConfigError, Settings, describe_error, read_toml

__all__ = ["ANONYMOUS", "Principal", "SCOPES", "TokenRegistry", "hash_token", "new_token"]

#: What a token may do. ``read``: every read endpoint and the stream; ``metrics``: ``/metrics``;
#: ``ingest``: ``POST /api/v1/events``; ``customer_ids``: see customer ids unmasked.
SCOPES: tuple[str, ...] = ("read", "metrics", "ingest", "customer_ids")


@dataclass(frozen=True)
class Principal:
    """The caller: a token's name, its scopes and the queues it may see (None = every queue)."""

    name: str
    scopes: frozenset[str]
    queues: frozenset[str] | None = None

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    def sees_queue(self, queue_id: str | None) -> bool:
        return self.queues is None or (queue_id is not None and queue_id in self.queues)


#: The caller when authentication is disabled (demos): every queue, but customer ids stay masked
#: (unmasking is always an explicit grant).
ANONYMOUS = Principal("anonymous (authentication disabled)", frozenset({"read", "metrics", "ingest"}))


def hash_token(token: str) -> str:
    """The hex SHA-256 configured for ``token``. Tokens are long random strings, so a fast hash
    is enough (a password hash would only slow every request down)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits)."""
    return "ccp_" + secrets.token_urlsafe(32)


def load_token_file(path: Path) -> list[ApiToken]:
    """``[[tokens]]`` tables of a TOML file (the same fields as ``api_tokens`` in the settings).

    Strict: a key the file does not define (``groups`` for ``queue_groups``, ``queue`` for
    ``queues``) is a :class:`ConfigError`, because ignoring it would hand out a token without
    the limit its author meant to set."""
    data = read_toml(path, "token file")
    unknown = sorted(set(data) - {"tokens"})
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in token file {str(path)!r}: the file holds [[tokens]] tables only")
    entries = data.get("tokens", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"'tokens' in token file {str(path)!r} must be [[tokens]] tables")
    tokens = []
    for index, entry in enumerate(entries):
        try:
            tokens.append(ApiToken.model_validate(entry))
        except ValidationError as exc:
            raise ConfigError(describe_error(exc, f"token file {str(path)!r}").replace(
                "key '", f"key 'tokens[{index}].", 1).replace("invalid '", f"invalid 'tokens[{index}].", 1)) from None
    return tokens


class TokenRegistry:
    """The configured tokens by hash; ``lookup`` turns a presented token into a :class:`Principal`."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.auth_enabled
        tokens = list(settings.api_tokens)
        if settings.api_tokens_file is not None:
            tokens += load_token_file(settings.api_tokens_file)
        self._by_hash: dict[str, Principal] = {}
        for token in tokens:
            self._by_hash[token.sha256.lower()] = Principal(
                name=token.name, scopes=frozenset(token.scopes), queues=_queues_of(token, settings))

    def __len__(self) -> int:
        return len(self._by_hash)

    def lookup(self, presented: str | None) -> Principal | None:
        """The principal of a presented token, None if it is unknown (or none was presented)."""
        if not self.enabled:
            return ANONYMOUS
        if not presented:
            return None
        digest = hash_token(presented)
        for known, principal in self._by_hash.items():
            if hmac.compare_digest(known, digest):  # no early exit on the first differing byte
                return principal
        return None


def _queues_of(token: ApiToken, settings: Settings) -> frozenset[str] | None:
    if token.queues is None and token.queue_groups is None:
        return None
    queues = set(token.queues or ())
    groups = set(token.queue_groups or ())
    queues.update(q for q, conf in settings.queues.items() if conf.group in groups)
    return frozenset(queues)


# ---- `ccpulse token create` (a ccpulse.commands entry point: pyproject.toml) ------------------------
HELP = "create an API token (prints the token once and its hashed configuration entry)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["create"], help="create: print a new token and its configuration entry")
    parser.add_argument("--name", required=True, help="who holds the token, e.g. acme-wallboard")
    parser.add_argument("--scopes", default="read", help=f"comma-separated, of {', '.join(SCOPES)} (default read)")
    parser.add_argument("--queues", default=None, help="limit to these queues (comma-separated)")
    parser.add_argument("--groups", default=None, help="limit to the queues of these queue groups (comma-separated)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    def split(text: str | None) -> list[str] | None:
        return None if text is None else [part.strip() for part in text.split(",") if part.strip()]

    scopes = split(args.scopes) or ["read"]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        print(f"ccpulse token: unknown scope {unknown[0]!r}; use some of {', '.join(SCOPES)}", file=sys.stderr)
        return 2
    token = new_token()
    entry = ApiToken(name=args.name, sha256=hash_token(token), scopes=scopes,  # type: ignore[arg-type]
                     queues=split(args.queues), queue_groups=split(args.groups))
    lines = ["[[tokens]]  # in CCPULSE_API_TOKENS_FILE; or [[api_tokens]] in CCPULSE_CONFIG_FILE",
             f'name = "{entry.name}"', f'sha256 = "{entry.sha256}"', f"scopes = {_toml_list(entry.scopes)}"]
    if entry.queues is not None:
        lines.append(f"queues = {_toml_list(entry.queues)}")
    if entry.queue_groups is not None:
        lines.append(f"queue_groups = {_toml_list(entry.queue_groups)}")
    print(f"token (shown once; give it to {entry.name}, it is not stored anywhere):\n  {token}\n")
    print("configuration entry (only the hash):\n" + "\n".join(lines))
    return 0


def _toml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"
