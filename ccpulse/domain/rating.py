"""Rating-template callbacks (e.g. Zalo ZNS rating templates) as ``survey.responded`` events.

A business sends a post-contact rating template to the customer's messaging app; the
customer's answer — 1 to 5 stars, tags picked from the template's list, a free note — comes back
to a webhook. :func:`rating_survey_event` maps one such callback onto the event contract, so a
rating is counted exactly like any CSAT answer (docs/metrics.md: CSAT on 1–5, 4–5 satisfied):

=====================  ==================================================================
callback field         ``survey.responded``
=====================  ==================================================================
``rate`` (1–5)         ``survey = "csat"``, ``score`` (default scale 1–5)
``feedbacks`` (tags)   ``tags`` (list, kept as sent)
``note``               ``comment`` (empty → none)
``tracking_id``        ``contact_id``: send the template with the ccpulse contact id as its
                       tracking id; the rating is then attributed to the contact's queue and agent
``msg_id``             ``event_id = "rating-<msg_id>"``: a callback delivered twice is one answer
``submit_time`` (ms)   ``occurred_at`` (UTC)
=====================  ==================================================================

The fields may come at the top level or inside ``message`` (Zalo's webhook envelope), and in
snake_case or camelCase (``msgId``, ``trackingId``, ``submitDate``), as the platforms and their
resellers send them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["RATING_SOURCE", "RatingCallback", "RatingRejected", "rating_survey_event"]

#: ``source`` of the events made from rating callbacks.
RATING_SOURCE = "rating-callback"


class RatingRejected(ValueError):
    """A callback body that cannot become a survey answer, with a reason for the sender."""


class RatingCallback(BaseModel):
    """One rating answer, as messaging platforms' rating templates report it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rate: int = Field(ge=1, le=5, validation_alias=AliasChoices("rate", "rating", "stars"))
    feedbacks: list[str] = Field(default_factory=list, max_length=50,
                                 validation_alias=AliasChoices("feedbacks", "tags"))
    note: str | None = Field(default=None, max_length=1024)
    msg_id: str = Field(min_length=1, max_length=118, validation_alias=AliasChoices("msg_id", "msgId"))
    tracking_id: str = Field(min_length=1, max_length=128, validation_alias=AliasChoices("tracking_id", "trackingId"))
    submit_time: int = Field(ge=946684800000, lt=4102444800000,  # 2000..2100, in milliseconds
                             validation_alias=AliasChoices("submit_time", "submitTime", "submitDate"))

    @field_validator("feedbacks")
    @classmethod
    def _short_tags(cls, tags: list[str]) -> list[str]:
        if any(len(tag) > 256 for tag in tags):
            raise ValueError("a tag is longer than 256 characters")
        return tags


def rating_survey_event(payload: Any) -> dict[str, Any]:
    """The ``survey.responded`` event (a contract dict) of one rating callback body, or
    :class:`RatingRejected` naming what is wrong."""
    if not isinstance(payload, dict):
        raise RatingRejected(f"expected a JSON object, got {type(payload).__name__}")
    body = payload.get("message") if isinstance(payload.get("message"), dict) else payload
    try:
        rating = RatingCallback.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise RatingRejected(f"{where}: {first['msg']}"[:500]) from None
    at = datetime.fromtimestamp(rating.submit_time / 1000, timezone.utc)
    event: dict[str, Any] = {
        "type": "survey.responded",
        "event_id": f"rating-{rating.msg_id}",
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
        "source": RATING_SOURCE,
        "contact_id": rating.tracking_id,
        "survey": "csat",
        "score": rating.rate,
    }
    if rating.note and rating.note.strip():
        event["comment"] = rating.note
    tags = [tag for tag in rating.feedbacks if tag.strip()]
    if tags:
        event["tags"] = tags
    return event
