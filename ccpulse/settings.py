"""All of ccpulse's settings, in one pydantic-settings class.

Values come from (highest first) ``CCPULSE_*`` environment variables, then the
optional TOML file named by ``CCPULSE_CONFIG_FILE`` (per-queue SLA settings live
there), then the defaults below. Nested values use ``__`` in environment
variables, e.g. ``CCPULSE_TOPICS__CONTACT_EVENTS=acme.contacts``.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from ccpulse.domain.calendar import BusinessClock, Calendar

__all__ = ["AmazonConnectSettings", "ApiToken", "AsteriskSettings", "BusinessHours", "ConfigError", "ConnectorSettings", "QueueSettings",
           "RetentionSettings", "Settings", "SlClock", "SlFormula", "Topics", "describe_error", "get_settings", "load_settings", "read_toml"]

#: The service-level formulas a queue can choose (see docs/metrics.md).
SlFormula = Literal[
    "answered_within_over_answered_abandoned_minus_short",
    "answered_within_over_answered_abandoned",
    "answered_within_over_answered",
    "removed_within_over_answered_abandoned",
]

#: How a queue's waits and SL threshold are timed: wall-clock time, or open hours only.
SlClock = Literal["calendar", "business_hours"]


def _default_hours() -> dict[str, list[str]]:
    return {day: ["08:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


class BusinessHours(BaseModel):
    """Opening hours of a queue, in the configured time zone (``timezone``).

    ``hours`` maps weekdays (mon … sun) to spans ``"HH:MM-HH:MM"`` (several per day allowed,
    ``24:00`` ends a span at midnight; a missing day is closed); ``holidays`` are closed dates.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    hours: dict[str, list[str]] = Field(default_factory=_default_hours,
                                        description="Weekday -> opening spans, e.g. {mon = [\"08:00-12:00\", \"13:00-17:00\"]}.")
    holidays: list[date] = Field(default_factory=list, description="Closed dates, e.g. [2026-01-01, 2026-04-30].")

    @model_validator(mode="after")
    def _valid_calendar(self) -> "BusinessHours":
        self.calendar()  # raises ValueError with a clear message
        return self

    def calendar(self) -> Calendar:
        """The pure-core calendar (``ccpulse.domain.calendar``) of these hours."""
        return _calendar(tuple((day, tuple(spans)) for day, spans in sorted(self.hours.items())), tuple(self.holidays))


@lru_cache(maxsize=256)
def _calendar(hours: tuple[tuple[str, tuple[str, ...]], ...], holidays: tuple[date, ...]) -> Calendar:
    return Calendar.build(dict(hours), holidays)


class QueueSettings(BaseModel):
    """SLA settings of one queue (or the default of one channel)."""

    model_config = ConfigDict(extra="forbid")  # a misspelled key is an error, never silently ignored

    sl_threshold_seconds: float = Field(gt=0, description="Answer within this many seconds to meet the service level.")
    sl_target: float = Field(default=0.80, ge=0, le=1, description="Service-level target, a ratio.")
    short_abandon_seconds: float = Field(default=5, ge=0, description="Abandons quicker than this are short abandons.")
    sl_formula: SlFormula = "answered_within_over_answered_abandoned_minus_short"
    name: str | None = Field(default=None, description="Display name for the wallboard.")
    group: str | None = Field(default=None, description="Queue group (wallboard rotation, filters).")
    longest_wait_warning_seconds: float | None = Field(default=None, gt=0, description="Default: 2 × threshold.")
    longest_wait_critical_seconds: float | None = Field(default=None, gt=0, description="Default: 4 × threshold.")
    abandon_rate_limit: float = Field(default=0.10, ge=0, le=1, description="Alert above this abandon rate.")
    alert_min_contacts: int = Field(default=10, ge=1, description="Ratio alerts need at least this many contacts.")
    alert_for_seconds: float = Field(default=30, ge=0, description="Ratio conditions must hold this long to fire.")
    alert_clear_seconds: float = Field(default=60, ge=0, description="A condition must be clear this long to resolve.")
    sl_clock: SlClock | None = Field(
        default=None, description="calendar (wall time) or business_hours (open hours only count towards waits, "
        "first-response and resolution times and the SL threshold). Unset: business_hours for email, else calendar.")
    business_hours: BusinessHours = Field(default_factory=BusinessHours,
                                          description="Opening hours and holidays (used with sl_clock = business_hours).")

    def clock_kind(self, channel: str | None) -> SlClock:
        """The SLA clock of a queue of ``channel`` with these settings."""
        if self.sl_clock is not None:
            return self.sl_clock
        return "business_hours" if channel == "email" else "calendar"


class ApiToken(BaseModel):
    """One API token: its SHA-256 (never the token itself), scopes and optional queue limit."""

    model_config = ConfigDict(extra="forbid")  # a misspelled key is an error, never silently ignored

    name: str = Field(min_length=1, description="Who holds the token (shown in logs), e.g. \"acme-wallboard\".")
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="Hex SHA-256 of the token (`ccpulse token create`).")
    scopes: list[Literal["read", "metrics", "ingest", "customer_ids"]] = Field(
        default_factory=lambda: ["read"], description="read, metrics, ingest, customer_ids (unmasked customer ids).")
    queues: list[str] | None = Field(default=None, description="Only these queues (with queue_groups: either).")
    queue_groups: list[str] | None = Field(default=None, description="Only the queues of these groups.")


class RetentionSettings(BaseModel):
    """How customer retention is measured (docs/metrics.md, "Customer retention")."""

    model_config = ConfigDict(extra="forbid")  # a misspelled key is an error, never silently ignored

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="The one currency of every amount "
                          "(ISO 4217). Events in another currency need an explicit exchange_rate, else they are "
                          "dead-lettered `currency_mismatch`.")
    gross_margin: float = Field(default=1.0, gt=0, le=1, description="Gross margin for CLV (1.0 = revenue CLV).")
    premium_tiers: list[str] = Field(default_factory=lambda: ["premium"], description="Subscription tiers that "
                                     "make a customer premium.")
    loyal_min_months: int | None = Field(default=12, ge=1, description="Loyal: subscribed without a break for at "
                                         "least this many months (None: tenure does not count)...")
    loyal_min_purchases: int | None = Field(default=3, ge=1, description="... or at least this many purchases "
                                            "(None: purchases do not count).")
    breach_window_days: float = Field(default=30, gt=0, description="A service-level breach this many days "
                                      "before a customer churned (or before the month ended) links the two.")


class Topics(BaseModel):
    """Kafka topic names. Defaults follow the event contract."""

    model_config = ConfigDict(extra="forbid")  # a misspelled key is an error, never silently ignored

    contact_events: str = "cc.contact-events"
    agent_events: str = "cc.agent-events"
    survey_events: str = "cc.survey-events"
    customer_events: str = "cc.customer-events"
    deadletter: str = "cc.deadletter"
    read_model: str = "cc.read-model"
    interval_facts: str = "cc.interval-facts"
    customer_facts: str = "cc.customer-facts"
    interval_stats: str = "cc.interval-stats"
    alerts: str = "cc.alerts"


class AsteriskSettings(BaseModel):
    """How the Asterisk queue_log connector names things (docs/connectors.md)."""

    wrapup_seconds: dict[str, float] = Field(default_factory=dict, description="Queue -> its wrapuptime "
                                             "(queues.conf): contact.wrapped_up comes this long after the call ends.")
    default_wrapup_seconds: float = Field(default=0, ge=0, description="Wrap-up of queues not in wrapup_seconds.")
    channels: dict[str, Literal["voice", "chat", "email"]] = Field(
        default_factory=dict, description="Queue -> channel; a queue_log has no channel, so voice by default.")
    agents: dict[str, str] = Field(default_factory=dict, description="Queue member (interface or member name) -> "
                                   "agent id; unmapped members keep their queue_log name.")
    queue_ids: dict[str, str] = Field(default_factory=dict, description="Queue name -> ccpulse queue id (default: the name).")
    queue_extensions: dict[str, str] = Field(default_factory=dict, description="Dialled extension -> queue name, so a "
                                             "TRANSFER to it becomes a transfer to that queue.")
    exit_key_reasons: dict[str, Literal["callback", "voicemail", "overflow"]] = Field(
        default_factory=dict, description="EXITWITHKEY key -> flow-out reason (default overflow).")


class AmazonConnectSettings(BaseModel):
    """The Amazon Connect connector (docs/connectors.md)."""

    raw_topic: str | None = Field(default=None, description="A topic of raw contact events and agent event stream "
                                  "records (e.g. filled by a Kinesis source connector); set it and the workers translate it.")
    queue_ids: dict[str, str] = Field(default_factory=dict, description="Queue ARN or queue id -> ccpulse queue id "
                                      "(default: the id at the end of the ARN).")
    agent_ids: dict[str, str] = Field(default_factory=dict, description="Agent ARN or agent id -> ccpulse agent id "
                                      "(default: the id at the end of the ARN).")


class ConnectorSettings(BaseModel):
    """Settings of the platform connectors (``ccpulse connect``, the connector endpoints)."""

    asterisk: AsteriskSettings = Field(default_factory=AsteriskSettings)
    amazon_connect: AmazonConnectSettings = Field(default_factory=AmazonConnectSettings)
    twilio_auth_token: str | None = Field(default=None, description="Auth token of the Twilio account: "
                                          "X-Twilio-Signature is checked with it. Unset: the TaskRouter endpoint answers 503.")
    twilio_activities: dict[str, Literal["available", "away", "offline"]] = Field(
        default_factory=dict, description="TaskRouter activity name -> agent state (default: Available -> available, "
        "Offline -> offline, any other -> away with the activity as reason).")
    twilio_public_url: str | None = Field(default=None, description="The URL Twilio calls (the workspace's "
                                          "EventCallbackUrl) when ccpulse sits behind a proxy that changes it.")


def _channel_defaults() -> dict[str, QueueSettings]:
    return {
        "voice": QueueSettings(sl_threshold_seconds=20),
        "chat": QueueSettings(sl_threshold_seconds=60),
        "email": QueueSettings(sl_threshold_seconds=4 * 3600),
    }


def _open_expiry_defaults() -> dict[str, float]:
    # A call or chat open a whole day is a lost end event; an email can wait in a queue over a long weekend
    # and a holiday and still be answered.
    return {"voice": 1.0, "chat": 1.0, "email": 30.0}


class Settings(BaseSettings):
    """Every setting ccpulse reads. Construct with ``get_settings()``."""

    model_config = SettingsConfigDict(env_prefix="CCPULSE_", env_nested_delimiter="__", extra="forbid")

    bootstrap_servers: str | None = Field(
        default=None,
        description="Kafka bootstrap servers, comma separated. Unset: `ccpulse demo` starts the embedded broker; "
        "other commands use localhost:9092.",
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    broker_port: int = Field(default=9092, ge=1, le=65535, description="Port of the embedded broker.")
    topics: Topics = Topics()
    partitions: int = Field(default=4, ge=1, le=256, description="Partitions of the event topics.")
    replication_factor: int = Field(
        default=1, ge=1, le=16, description="Replicas of every topic ccpulse creates (3 on a production cluster, "
        "with min.insync.replicas=2 on the brokers).")
    store: str = Field(
        default="memory://",
        description="Table store: memory:// (tests, demo) or rocksdict:// (production: durable, on local disk).",
    )
    recovery_consistency_check: bool = Field(
        default=True,
        description="Refuse to start when local table state is ahead of its changelog. Turn off only on the "
        "embedded broker, whose end offsets lag behind multi-record batches (see README).",
    )
    data_dir: Path = Field(default=Path(".ccpulse"), description="Worker state directory (rocksdict, Faust data).")
    worker_id: str = Field(default="ccpulse", description="Faust app id = Kafka consumer group of the workers.")
    timezone: str = Field(default="UTC", description="IANA time zone of day boundaries and reports.")
    lateness_seconds: float = Field(default=3600, ge=0, description="How far behind the watermark an event may arrive.")
    skew_tolerance_seconds: float = Field(
        default=1.0, ge=0, le=60, description="Events of one contact closer in time than this are ordered by the "
        "contact's lifecycle, not by their timestamps: whole-second ACD logs and sources whose clocks disagree "
        "by a few hundred milliseconds (docs/events.md, \"Ordering\").")
    contact_retention_seconds: float = Field(
        default=24 * 3600, ge=0, description="How long a finished contact keeps all its events after its last one "
        "(then only a summary is kept: contact_summary_days).")
    contact_summary_days: float = Field(
        default=90, gt=0, description="How long a finished contact's summary (queue, channel, last agent, customer) "
        "is kept after its last event, so surveys and QA scored days later count for the right queue and agent.")
    open_contact_expiry_days: dict[str, float] = Field(
        default_factory=_open_expiry_defaults, description="Per channel: days after its last event at which a contact "
        "still waiting, being handled or in ACW is closed as expired (counted, dead-lettered as expired_open).")
    fcr_window_seconds: float = Field(default=24 * 3600, gt=0, description="A repeat contact within this window after a handled contact makes it not first-contact-resolved.")
    retention_days: float = Field(default=8, gt=0, description="How long 15-minute intervals are kept.")
    publish_interval_seconds: float = Field(default=0.25, gt=0, description="Read-model rows are coalesced this long.")
    channels: dict[str, QueueSettings] = Field(default_factory=_channel_defaults)
    queues: dict[str, QueueSettings] = Field(default_factory=dict, description="Per-queue overrides.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the API (CORS), e.g. [\"https://wall.example\"]."
    )
    auth_enabled: bool = Field(
        default=True, description="Require an API token on every endpoint but /healthz, /readyz and the wallboard "
        "page. Turn off only for demos (`ccpulse demo` does, and says so).")
    api_tokens: list[ApiToken] = Field(default_factory=list, description="Accepted API tokens (hashes).")
    api_tokens_file: Path | None = Field(default=None, description="TOML file with more tokens as [[tokens]] tables.")
    alert_webhook_url: str | None = Field(default=None, description="POST every alert transition here (optional).")
    alert_webhook_secret: str | None = Field(default=None, description="HMAC-SHA256 key for X-Ccpulse-Signature.")
    alert_interval_seconds: float = Field(default=1.0, gt=0, description="How often alert rules are evaluated.")
    retention: RetentionSettings = Field(default_factory=RetentionSettings, description="Customer retention figures.")
    rating_callback_secret: str | None = Field(
        default=None, description="HMAC-SHA256 key of POST /api/v1/callbacks/rating (X-Ccpulse-Signature); "
        "unset: the endpoint answers 503.")
    rating_callback_queues: list[str] | None = Field(
        default=None, description="Limit the rating callback to contacts of these queues, as a queue-limited "
        "ingest token is (a relay shared by one client only); unset: any contact.")
    connectors: ConnectorSettings = Field(default_factory=ConnectorSettings, description="Platform connectors.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. UTC, Europe/Berlin, Asia/Ho_Chi_Minh)") from None
        return value

    @field_validator("store")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if value.split("://", 1)[0] not in ("memory", "rocksdict", "rocksdb"):
            raise ValueError(f"unknown store {value!r}; use memory:// or rocksdict://")
        return value

    @property
    def faust_store(self) -> str:
        """The store URL in Faust's terms: its ``rocksdb://`` store runs on rocksdict when installed."""
        scheme, _, rest = self.store.partition("://")
        return f"rocksdb://{rest}" if scheme == "rocksdict" else self.store

    @field_validator("open_contact_expiry_days")
    @classmethod
    def _positive_expiry(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(channel for channel, days in value.items() if not days > 0)
        if bad:
            raise ValueError(f"open_contact_expiry_days must be above 0 days (channels {', '.join(bad)})")
        return {**_open_expiry_defaults(), **value}

    @field_validator("channels")
    @classmethod
    def _all_channels(cls, value: dict[str, QueueSettings]) -> dict[str, QueueSettings]:
        return {**_channel_defaults(), **value}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("CCPULSE_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # ---- derived values -------------------------------------------------------------
    @property
    def kafka_servers(self) -> str:
        """Bootstrap servers to use when the command does not start its own broker."""
        return self.bootstrap_servers or "localhost:9092"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def queue(self, queue_id: str, channel: str | None = None) -> QueueSettings:
        """SLA settings of ``queue_id``: its override, else its channel's default (voice when unknown)."""
        if queue_id in self.queues:
            return self.queues[queue_id]
        return self.channels.get(channel or "voice", self.channels["voice"])

    def sla_clock(self, queue_id: str, channel: str | None = None) -> BusinessClock | None:
        """The business-hours clock of ``queue_id``, or None when its SLA clock is wall time."""
        sla = self.queue(queue_id, channel)
        if sla.clock_kind(channel) != "business_hours":
            return None
        return BusinessClock(sla.business_hours.calendar(), self.timezone)


class ConfigError(ValueError):
    """A configuration problem as one line that names the file, the key and the fix; the CLI prints
    it as ``ccpulse: …`` and exits 2 (a traceback would bury the one thing the operator must change)."""


def describe_error(exc: ValidationError, source: str) -> str:
    """The first problem of ``exc`` as one line naming the key and ``source`` (a file or the variables)."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"unknown key {where!r} in {source}: remove it or fix its spelling"
    return f"invalid {where!r} in {source}: {first['msg']}"


def read_toml(path: Path | str, what: str) -> dict:
    """A TOML file's tables, or :class:`ConfigError` naming the file when it is missing or not TOML."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{what} {str(path)!r} does not exist: create it or fix the path") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {str(path)!r} is not valid TOML: {exc}") from None


def load_settings() -> Settings:
    """Settings from the environment and ``CCPULSE_CONFIG_FILE``, or :class:`ConfigError`."""
    config_file = os.environ.get("CCPULSE_CONFIG_FILE")
    if config_file:
        read_toml(config_file, "CCPULSE_CONFIG_FILE")  # missing or bad TOML: one line, not a traceback
    source = f"CCPULSE_CONFIG_FILE {config_file!r} or the CCPULSE_* variables" if config_file else "the CCPULSE_* variables"
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, source)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once); :class:`ConfigError` when they are wrong."""
    return load_settings()
