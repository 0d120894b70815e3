"""Event contract v1: one JSON event per Kafka message.

Every event is a pydantic model in a discriminated union on ``type``. Workers
decode raw message bytes with :func:`decode_event`, which never raises anything
but :class:`EventRejected` – so a bad message becomes a dead-letter record with a
machine-readable reason instead of a crashed worker.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import cached_property
from typing import Annotated, Literal, Union

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "AgentState",
    "AgentStateChanged",
    "Channel",
    "ContactAbandoned",
    "ContactAnswered",
    "ContactEnded",
    "ContactEvent",
    "ContactFlowedOut",
    "ContactHoldEnded",
    "ContactHoldStarted",
    "ContactQueued",
    "ContactTransferred",
    "ContactWrappedUp",
    "CustomerEvent",
    "CustomerPurchase",
    "CUSTOMER_EVENT_TYPES",
    "Event",
    "EventRejected",
    "QaEvaluated",
    "SubscriptionCancelled",
    "SubscriptionChanged",
    "SubscriptionStarted",
    "SurveyResponded",
    "DEFAULT_SURVEY_SCALES",
    "EVENT_TYPES",
    "ID_PATTERN",
    "TOPIC_OF_TYPE",
    "decode_event",
    "entity_key",
    "event_adapter",
]

Channel = Literal["voice", "chat", "email"]
AgentState = Literal["available", "on_contact", "after_contact_work", "away", "offline"]
SurveyKind = Literal["csat", "nps", "ces"]

#: Default answer scale of each survey kind (inclusive). Other scales must be sent
#: explicitly with ``scale_min``/``scale_max`` and are normalised, never mixed.
DEFAULT_SURVEY_SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}

#: No control characters (C0, DEL, C1) in ids: ids end up in CSV exports, logs, Kafka keys and
#: wallboards, where NUL, newlines or escape sequences corrupt or forge what a reader sees.
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]
OptionalText = Annotated[str | None, Field(default=None, max_length=1024)]
#: An ISO 4217 currency code (``EUR``, ``VND``). Amounts in another currency than the deployment's
#: are converted only with an explicit ``exchange_rate``, never summed as they are.
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code, e.g. EUR or VND.")]
#: A money amount in whole or fractional units of its currency (not cents).
Amount = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
ExchangeRate = Annotated[float | None, Field(default=None, gt=0, le=1e9, allow_inf_nan=False)]

# Events far outside any plausible operating window are rejected: they would open
# intervals nobody can see and usually mean a unit mistake (ms sent as seconds).
_MIN_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
#: The shape of an RFC 3339 date-time with an offset (its values are checked by pydantic).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z")
_MAX_TIME = datetime(2100, 1, 1, tzinfo=timezone.utc)


class _Event(BaseModel):
    """Fields common to every event."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False)

    event_id: Id = Field(description="Unique id of this event; used for de-duplication.")
    occurred_at: AwareDatetime = Field(
        description="Event time, RFC 3339 with an offset. Every interval is computed from it."
    )
    source: OptionalText = Field(default=None, description="System that emitted the event.")

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _rfc3339_text(cls, value: object) -> object:
        # Numbers would be read as epoch seconds or milliseconds – ambiguous: the contract is text.
        # So would a string of digits ("1772438400000"), which pydantic also takes for an epoch.
        if not isinstance(value, str) or not _RFC3339.match(value):
            raise PydanticCustomError("datetime_type", "occurred_at must be an RFC 3339 string with an offset")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        if not (_MIN_TIME <= value < _MAX_TIME):
            raise PydanticCustomError(
                "implausible_time", "occurred_at {value} is outside 2000-01-01..2100-01-01", {"value": str(value)}
            )
        return value

    @cached_property
    def at(self) -> float:
        """Event time as UTC epoch seconds, the core's time unit.

        Cached (the model is frozen): the fold reads it about 4 times per event, and
        ``timestamp()`` of a pydantic-aware datetime costs ~1 µs, 5% of ``ccpulse recompute``."""
        return self.occurred_at.timestamp()


class _ContactEvent(_Event):
    contact_id: Id


class ContactQueued(_ContactEvent):
    """A contact entered a queue. A transfer into another queue is a new ``contact.queued``."""

    type: Literal["contact.queued"]
    channel: Channel
    queue_id: Id
    customer_id: Id | None = None
    priority: int | None = Field(default=None, ge=0, le=1000)


class ContactAnswered(_ContactEvent):
    """An agent accepted the contact (voice answered, chat accepted, email first response)."""

    type: Literal["contact.answered"]
    agent_id: Id


class ContactAbandoned(_ContactEvent):
    """The customer left before an agent answered."""

    type: Literal["contact.abandoned"]


class ContactHoldStarted(_ContactEvent):
    type: Literal["contact.hold_started"]


class ContactHoldEnded(_ContactEvent):
    type: Literal["contact.hold_ended"]


class ContactTransferred(_ContactEvent):
    """The handling agent transferred the contact; a queue transfer is followed by ``contact.queued``."""

    type: Literal["contact.transferred"]
    to_queue_id: Id | None = None
    to_agent_id: Id | None = None
    opens_new_contact: bool | None = Field(
        None, description="The platform made the target a new contact (Amazon Connect, Twilio Flex): this "
                           "contact's handling goes on to its own end and wrap-up, and only the transfer is "
                           "counted here.")


class ContactFlowedOut(_ContactEvent):
    """The contact left the queue unanswered without hanging up (callback, voicemail, overflow)."""

    type: Literal["contact.flowed_out"]
    reason: Literal["callback", "voicemail", "overflow"] | None = None


class ContactEnded(_ContactEvent):
    """The conversation ended; after-contact work (ACW) starts."""

    type: Literal["contact.ended"]


class ContactWrappedUp(_ContactEvent):
    """After-contact work finished."""

    type: Literal["contact.wrapped_up"]
    disposition: OptionalText = None
    resolved: bool | None = None


class AgentStateChanged(_Event):
    """An agent changed state; ``queue_ids`` (when present) replaces the agent's staffed queues."""

    type: Literal["agent.state_changed"]
    agent_id: Id
    state: AgentState
    reason: OptionalText = None
    queue_ids: list[Id] | None = Field(default=None, max_length=500)
    team: Id | None = None
    site: Id | None = None


class SurveyResponded(_ContactEvent):
    """A post-interaction survey answer (CSAT, NPS or CES)."""

    type: Literal["survey.responded"]
    survey: SurveyKind
    score: int
    scale_min: int | None = None
    scale_max: int | None = None
    comment: OptionalText = None
    tags: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        default=None, max_length=50, description="Tags the customer picked (rating templates); kept, not counted.")
    agent_id: Id | None = None
    queue_id: Id | None = None

    @model_validator(mode="after")
    def _score_in_scale(self) -> "SurveyResponded":
        low, high = self.scale
        if low >= high:
            raise PydanticCustomError("invalid_scale", "scale_min {low} must be below scale_max {high}", {"low": low, "high": high})
        if not low <= self.score <= high:
            raise PydanticCustomError(
                "score_out_of_scale",
                "{survey} score {score} is outside its scale {low}..{high}",
                {"survey": self.survey, "score": self.score, "low": low, "high": high},
            )
        return self

    @property
    def scale(self) -> tuple[int, int]:
        default_low, default_high = DEFAULT_SURVEY_SCALES[self.survey]
        low = default_low if self.scale_min is None else self.scale_min
        high = default_high if self.scale_max is None else self.scale_max
        return low, high


class QaEvaluated(_ContactEvent):
    """A quality-assurance evaluation of an agent's handling of a contact (0–100)."""

    type: Literal["qa.evaluated"]
    agent_id: Id
    score: float = Field(ge=0, le=100)
    evaluator_id: Id | None = None


class _CustomerEvent(_Event):
    """Customer (subscription and purchase) events: keyed and partitioned by ``customer_id``."""

    customer_id: Id = Field(description="The customer, the same id contact.queued carries.")


class _Subscription(_CustomerEvent):
    plan: Id = Field(description="The plan the customer subscribes to.")
    tier: Id | None = Field(default=None, description="Its tier, e.g. premium (see retention.premium_tiers).")
    mrr: Amount = Field(description="Monthly recurring revenue of the subscription from now on, in `currency`.")
    currency: Currency
    exchange_rate: ExchangeRate = Field(
        default=None, description="Deployment-currency units per unit of `currency`, when they differ.")


class SubscriptionStarted(_Subscription):
    """The customer started a subscription (a new customer, or one coming back)."""

    type: Literal["customer.subscription_started"]


class SubscriptionChanged(_Subscription):
    """The subscription changed plan, tier or recurring revenue (an upgrade or a downgrade)."""

    type: Literal["customer.subscription_changed"]


class SubscriptionCancelled(_CustomerEvent):
    """The customer's subscription ended: the customer churned."""

    type: Literal["customer.subscription_cancelled"]
    reason: OptionalText = None


class CustomerPurchase(_CustomerEvent):
    """A one-off purchase (counts towards loyalty; not recurring revenue)."""

    type: Literal["customer.purchase"]
    amount: Amount
    currency: Currency
    exchange_rate: ExchangeRate = Field(
        default=None, description="Deployment-currency units per unit of `currency`, when they differ.")
    order_id: Id | None = None


Event = Annotated[
    Union[
        ContactQueued,
        ContactAnswered,
        ContactAbandoned,
        ContactHoldStarted,
        ContactHoldEnded,
        ContactTransferred,
        ContactFlowedOut,
        ContactEnded,
        ContactWrappedUp,
        AgentStateChanged,
        SurveyResponded,
        QaEvaluated,
        SubscriptionStarted,
        SubscriptionChanged,
        SubscriptionCancelled,
        CustomerPurchase,
    ],
    Field(discriminator="type"),
]

event_adapter: TypeAdapter[Event] = TypeAdapter(Event)

#: The events about one contact (they carry ``contact_id``) and about one customer (``customer_id``).
ContactEvent = _ContactEvent
CustomerEvent = _CustomerEvent

#: Every event type, in contract order.
EVENT_TYPES: tuple[str, ...] = tuple(
    model.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
    for model in Event.__origin__.__args__  # type: ignore[attr-defined]
)

#: Which logical topic (a key of ``Settings.topics``) carries each event type.
TOPIC_OF_TYPE: dict[str, str] = {
    t: ("agent_events" if t.startswith("agent.") else "survey_events" if t.startswith(("survey.", "qa."))
        else "customer_events" if t.startswith("customer.") else "contact_events")
    for t in EVENT_TYPES
}

#: The event types of ``cc.customer-events`` (subscriptions and purchases).
CUSTOMER_EVENT_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if TOPIC_OF_TYPE[t] == "customer_events")


def entity_key(event: Event) -> str:
    """The Kafka message key the contract prescribes for ``event`` (its entity id)."""
    if isinstance(event, AgentStateChanged):
        return event.agent_id
    if isinstance(event, _CustomerEvent):
        return event.customer_id
    return event.contact_id


class EventRejected(Exception):
    """A message that cannot be accepted, with a machine-readable reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


_REASON_OF_ERROR = {
    "union_tag_invalid": "unknown_type",
    "union_tag_not_found": "missing_type",
    "score_out_of_scale": "score_out_of_scale",
    "invalid_scale": "schema_violation",
    "implausible_time": "invalid_timestamp",
    "timezone_aware": "invalid_timestamp",
    "datetime_parsing": "invalid_timestamp",
    "datetime_from_date_parsing": "invalid_timestamp",
    "datetime_type": "invalid_timestamp",
}


def _describe(error: ValidationError) -> tuple[str, str]:
    first = error.errors(include_url=False)[0]
    reason = _REASON_OF_ERROR.get(first["type"], "schema_violation")
    if first["type"] == "string_pattern_mismatch" and (first.get("ctx") or {}).get("pattern") == ID_PATTERN:
        reason = "invalid_id"
        first = {**first, "msg": "ids may not contain control characters (U+0000–U+001F, U+007F–U+009F)"}
    where = ".".join(str(p) for p in first["loc"][1:] or first["loc"]) or "event"
    count = error.error_count()
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    return reason, f"{where}: {first['msg']}{more}"[:500]


def decode_event(raw: bytes | None) -> Event:
    """Decode one message value into an event, or raise :class:`EventRejected`."""
    if not raw:
        raise EventRejected("empty", "message has no value")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EventRejected("not_json", f"not UTF-8 JSON: {exc}"[:300]) from None
    if not isinstance(data, dict):
        raise EventRejected("not_object", f"expected a JSON object, got {type(data).__name__}")
    try:
        return event_adapter.validate_python(data)
    except ValidationError as exc:
        raise EventRejected(*_describe(exc)) from None
