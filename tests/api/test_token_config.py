"""Strict token configuration: a misspelled limit is an error naming the key and the file, never a
token without its limit; a bad file stops ``ccpulse api`` with one ``ccpulse: …`` line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.auth import TokenRegistry, hash_token
from ccpulse.settings import ConfigError, Settings, load_settings

GOOD_HASH = hash_token("ccp_config-test")


def _token_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "tokens.toml"
    path.write_text(body)
    return path


@pytest.mark.parametrize("key", ["groups", "queue"])
def test_a_misspelled_limit_in_a_token_file_is_an_error_naming_key_and_file(tmp_path: Path, key: str) -> None:
    path = _token_file(tmp_path, f'[[tokens]]\nname = "acme"\nsha256 = "{GOOD_HASH}"\n{key} = ["billing"]\n')
    with pytest.raises(ConfigError) as caught:
        TokenRegistry(Settings(api_tokens_file=path))
    message = str(caught.value)
    assert f"unknown key 'tokens[0].{key}'" in message and str(path) in message and "\n" not in message


def test_unknown_top_level_keys_of_a_token_file_are_errors(tmp_path: Path) -> None:
    path = _token_file(tmp_path, f'[[token]]\nname = "acme"\nsha256 = "{GOOD_HASH}"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'token' in token file"):
        TokenRegistry(Settings(api_tokens_file=path))


def test_a_misspelled_limit_in_the_settings_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ccpulse.toml"
    config.write_text(f'[[api_tokens]]\nname = "acme"\nsha256 = "{GOOD_HASH}"\ngroups = ["care"]\n')
    monkeypatch.setenv("CCPULSE_CONFIG_FILE", str(config))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "unknown key 'api_tokens.0.groups'" in str(caught.value) and str(config) in str(caught.value)
    # Anywhere in the file: a misspelled queue setting too.
    config.write_text('[queues.billing]\nsl_threshold_seconds = 20\nsl_treshold = 30\n')
    with pytest.raises(ConfigError, match=r"unknown key 'queues.billing.sl_treshold'"):
        load_settings()
    config.write_text('timezone = "UTC"\ntime_zone = "Asia/Ho_Chi_Minh"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'time_zone'"):
        load_settings()


def _ccpulse_api(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CCPULSE_")}
    # An unreachable broker: were the token file accepted, the command would fail on Kafka instead.
    clean.update({"CCPULSE_BOOTSTRAP_SERVERS": "127.0.0.1:1", "CCPULSE_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run([sys.executable, "-m", "ccpulse", "api"], env=clean, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)


@pytest.mark.parametrize("body, expected", [
    ("[[tokens]\nname = 'x'\n", "is not valid TOML"),
    ('[[tokens]]\nname = "acme"\nsha256 = "abc123"\n', "invalid 'tokens[0].sha256'"),
    (f'[[tokens]]\nname = "acme"\nsha256 = "{GOOD_HASH}"\nscopes = ["read", "admin"]\n', "invalid 'tokens[0].scopes.1'"),
    (f'[[tokens]]\nname = "acme"\nsha256 = "{GOOD_HASH}"\ngroups = ["care"]\n', "unknown key 'tokens[0].groups'"),
    (None, "does not exist"),
])
def test_ccpulse_api_refuses_a_bad_token_file_in_one_line(tmp_path: Path, body: str | None, expected: str) -> None:
    path = tmp_path / "tokens.toml"
    if body is not None:
        path.write_text(body)
    done = _ccpulse_api(tmp_path, CCPULSE_API_TOKENS_FILE=str(path))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccpulse: "), done.stderr
    assert expected in lines[0] and str(path) in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("body, expected", [
    ("queues = [", "is not valid TOML"),
    ('[[api_tokens]]\nname = "acme"\nsha256 = "%s"\nqueue = ["care"]\n' % GOOD_HASH, "unknown key 'api_tokens.0.queue'"),
    (None, "does not exist"),
])
def test_ccpulse_api_refuses_a_bad_config_file_in_one_line(tmp_path: Path, body: str | None, expected: str) -> None:
    path = tmp_path / "ccpulse.toml"
    if body is not None:
        path.write_text(body)
    done = _ccpulse_api(tmp_path, CCPULSE_CONFIG_FILE=str(path))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccpulse: ") and expected in lines[0], done.stderr
    assert str(path) in lines[0]
