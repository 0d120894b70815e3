"""docs/connectors.md names only settings that exist, and every mapped or ignored platform event it lists."""

from __future__ import annotations

import re
from pathlib import Path

from ccpulse.connectors import asterisk, twilio
from tests.deploy.test_compose import settings_path_error

DOC = (Path(__file__).resolve().parents[3] / "docs" / "connectors.md").read_text()


def test_every_variable_in_the_doc_is_a_setting() -> None:
    names = set(re.findall(r"\b(CCPULSE_[A-Z0-9_]*[A-Z0-9])\b", DOC)) - {"CCPULSE_CONNECTORS__ASTERISK"}
    assert names
    assert {n: settings_path_error(n) for n in names if settings_path_error(n)} == {}


def test_the_asterisk_table_covers_every_event_the_mapping_knows() -> None:
    for event in asterisk.CALL_EVENTS | asterisk.MEMBER_EVENTS | asterisk.IGNORED_EVENTS:
        assert f"`{event}`" in DOC or event.startswith("AGENTCALLBACK"), event  # the pair: `AGENTCALLBACK…`


def test_the_twilio_table_covers_every_mapped_event() -> None:
    for event in twilio.MAPPED_EVENTS:
        assert f"`{event}`" in DOC, event
