"""How contact and survey events turn into interval contributions and a live row.

A contact keeps the events it received (sorted by event time, de-duplicated by
``event_id``). Its figures are a pure function of that list – :func:`fold_contact`
– so arrival order, duplicates and redeliveries cannot change them: the driver
re-folds after every new event and sends only the *difference* between the new
and the previous contributions (:func:`diff_contributions`) downstream.

Counting rules (docs/metrics.md): ``offered`` counts in the bucket the contact
entered the queue; answered/abandoned/flowed-out and waits in the bucket it left
the queue; handle time in the bucket ACW finished (or, with no ACW, where it
ended); surveys and QA in the bucket they were given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ccpulse.domain.calendar import BusinessClock
from ccpulse.domain.formulas import ces_difficult, ces_easy, csat_dissatisfied, csat_satisfied, normalise_score, nps_bucket
from ccpulse.domain.intervals import AGENT_QUEUE, BUCKET_SECONDS, agent_queue
from schemas.events import DEFAULT_SURVEY_SCALES, Event

__all__ = [
    "Contributions",
    "ContactFold",
    "SlaLookup",
    "add_event",
    "bucket_key",
    "diff_contributions",
    "compact_record",
    "event_record",
    "expired_record",
    "fold_contact",
    "TOP_PREFIX",
]

#: (queue_id, channel) -> (service-level threshold seconds, short-abandon seconds[, SLA clock]).
#: The optional third item is the queue's business-hours clock (None or absent: wall time).
SlaLookup = Callable[[str, str], "tuple[float, float] | tuple[float, float, BusinessClock | None]"]
#: bucket key -> measure -> value. Every value is an integer (durations in ms, scores in
#: milli-points) so sums are exact whatever the order. Keys starting with TOP_PREFIX hold
#: one wait each (for the max wait).
Contributions = dict[str, dict[str, float]]
TOP_PREFIX = "~"

#: Events of one contact closer in time than this are ordered by the lifecycle, not by their
#: timestamps (``Settings.skew_tolerance_seconds``; docs/events.md, "Ordering").
DEFAULT_SKEW_SECONDS = 1.0
#: Synthetic records the drivers add to a contact's events (never produced by a source).
EXPIRED_TYPE = "contact.expired"  # an open contact reached its channel's open-contact limit
SUMMARY_TYPE = "contact.summary"  # stands for a finished contact's events once they are compacted
_LATER = ("survey.responded", "qa.evaluated")  # steps that never change where a contact is
# Payload fields kept per event type (the rest of the event is not needed to fold).
_FIELDS = ("queue_id", "channel", "customer_id", "priority", "agent_id", "to_queue_id", "to_agent_id",
           "reason", "resolved", "survey", "score", "scale_min", "scale_max", "comment")


def _ms(seconds: float) -> int:
    """Durations are summed as whole milliseconds so sums are exact in any order."""
    return max(0, round(seconds * 1000))


def bucket_key(dimension: str, entity: str, t: float) -> str:
    """Key of the 15-minute bucket of ``entity`` (e.g. a queue) holding instant ``t``."""
    return f"{dimension}|{entity}|{int(t // BUCKET_SECONDS) * BUCKET_SECONDS}"  # int(bucket_start(t)), one call less


def event_record(event: Event, raw: bytes, src: str, offset: int) -> dict[str, Any]:
    """The compact, JSON-ready form in which an entity keeps one of its events.

    ``src``/``off`` identify the Kafka message so a redelivery (same message after a
    restart) is told apart from a duplicate (same ``event_id`` in another message).
    ``raw`` is kept so a rejection found later still dead-letters the original bytes.
    """
    rec: dict[str, Any] = {"id": event.event_id, "type": event.type, "t": event.at, "src": src, "off": offset}
    values = event.__dict__  # the model's field values (getattr of a field a model lacks is slow in pydantic)
    for name in _FIELDS:
        value = values.get(name)
        if value is not None:
            rec[name] = value
    if values.get("opens_new_contact"):
        rec["opens_new_contact"] = True
    rec["raw"] = raw.decode("utf-8", "replace")
    return rec


def _sort_key(rec: dict[str, Any]) -> tuple[float, str, int]:
    """Event time, then the producer's order (offset within the source partition).

    Never the ``event_id``: ids are opaque (often random), so ordering by them would make a
    same-second pair's figures depend on chance. Which of several close events comes first is
    decided when folding (:func:`fold_contact`), by the lifecycle.
    """
    return rec["t"], rec["src"], rec["off"]


def _producer_key(rec: dict[str, Any]) -> tuple[str, int, float]:
    return rec["src"], rec["off"], rec["t"]


def add_event(events: list[dict[str, Any]], rec: dict[str, Any]) -> str:
    """Insert ``rec`` into the sorted ``events`` list in place.

    Returns ``"applied"``, ``"redelivered"`` (the very same message again: ignore
    silently) or ``"duplicate"`` (same ``event_id`` in another message: reject).
    """
    for existing in events:
        if existing["id"] == rec["id"]:
            same_message = existing["src"] == rec["src"] and existing["off"] == rec["off"]
            return "redelivered" if same_message else "duplicate"
    events.append(rec)
    if len(events) > 1 and _sort_key(events[-2]) > _sort_key(rec):  # in order (the usual case): already sorted
        events.sort(key=_sort_key)
    return "applied"


@dataclass
class ContactFold:
    """What a contact's events add up to."""

    contributions: Contributions = field(default_factory=dict)
    live: dict[str, Any] | None = None  # the read-model row; None once the contact is done
    anomalies: list[tuple[str, str, str]] = field(default_factory=list)  # (event_id, reason, message)
    queued: bool = False  # has the contact ever entered a queue?
    summary: dict[str, Any] | None = None  # the contact's story so far (drill-down row)
    fcr: dict[str, Any] | None = None  # what first-contact resolution and retention need, for contacts with a customer_id


class _Folder:
    """One pass over a contact's sorted events (see :func:`fold_contact`).

    The scalar fields start as class attributes and become instance ones when a step sets them: a
    contact is re-folded on every event, and setting ~30 attributes per fold was 4% of ``ccpulse
    recompute``'s time."""

    visits = 0
    queue: str | None = None  # queue of the current/last visit
    channel = "voice"
    queued_at: float | None = None  # set while waiting in a queue
    customer_id: str | None = None
    priority: int | None = None
    status = "new"
    agent: str | None = None
    answered_at: float | None = None
    hold_start: float | None = None
    hold_total = 0  # milliseconds
    hold_count = 0
    ended_at: float | None = None
    # for the summary and first-contact resolution
    first_queued_at: float | None = None
    last_wait: float | None = None
    last_wait_business: float | None = None  # the last wait on the queue's SLA clock
    outcome = "waiting"
    breached = False
    breached_at: float | None = None  # queue entry + threshold of the first visit that breached
    nps: dict[str, Any] | None = None  # the latest NPS answer: {"at", "bucket"} (retention); replaced, never changed
    handled: tuple[float, str, str | None] | None = None  # (time, queue, agent) of the last handling
    resolved: bool | None = None
    comment: str | None = None
    # The current agent's leg (agent-to-agent transfers give each agent its own handling).
    leg_start: float | None = None
    talk_ended_at: float | None = None  # when the last handled conversation ended (before ACW)
    leg_hold = 0  # milliseconds of hold in the current leg
    leg_hold_count = 0
    legs = 0  # legs finished by an agent-to-agent transfer in this handling

    def __init__(self, contact_id: str, sla: SlaLookup) -> None:
        self.contact_id = contact_id
        self.sla = sla
        self.out = ContactFold()
        self.scores: dict[str, int] = {}
        self._keys: dict[tuple[float, str, str, str | None], list[str]] = {}

    # ---- helpers ------------------------------------------------------------------
    def add(self, t: float, queue: str, measure: str, value: int = 1, agent: str | None = None) -> None:
        """Credit ``measure`` to the queue's, the channel's and (when given) the agent's bucket at ``t``."""
        self.credit(t, queue, {measure: value}, agent)

    def credit(self, t: float, queue: str, measures: dict[str, int], agent: str | None = None) -> None:
        """:meth:`add` of several measures at once (a step credits up to six to the same buckets: one
        call each was 8% of ``ccpulse recompute``'s time)."""
        where = (t, queue, self.channel, agent)
        keys = self._keys.get(where)
        if keys is None:  # several measures go to the same buckets: build their keys once
            keys = [bucket_key("queue", queue, t), bucket_key("channel", self.channel, t)]
            if agent is not None:
                keys.append(bucket_key("agent", agent, t))
                keys.append(bucket_key(AGENT_QUEUE, agent_queue(agent, queue), t))  # the agent on this queue
            self._keys[where] = keys
        contributions = self.out.contributions
        for key in keys:
            bucket = contributions.get(key)
            if bucket is None:
                contributions[key] = dict(measures)
            else:
                for measure, value in measures.items():
                    bucket[measure] = bucket.get(measure, 0) + value

    def add_agent(self, t: float, queue: str, agent: str, measure: str, value: int = 1) -> None:
        """Credit ``measure`` to the agent's bucket at ``t`` only (an agent's own leg of a contact)."""
        for key in (bucket_key("agent", agent, t), bucket_key(AGENT_QUEUE, agent_queue(agent, queue), t)):
            bucket = self.out.contributions.setdefault(key, {})
            bucket[measure] = bucket.get(measure, 0) + value

    def anomaly(self, rec: dict[str, Any], message: str) -> None:
        self.out.anomalies.append((rec["id"], "impossible_transition", f"{rec['type']} {message}"))

    def leave_queue(self, t: float, outcome: str) -> None:
        """The contact leaves the queue it waits in: answered, abandoned or flowed_out.

        The SL threshold is applied to the wait on the queue's SLA clock (open hours only for a
        business-hours queue); short abandons and the max wait are wall time (customer patience).
        """
        assert self.queue is not None and self.queued_at is not None
        wait = _ms(t - self.queued_at)
        found = self.sla(self.queue, self.channel)
        threshold, short = found[0], found[1]
        clock = found[2] if len(found) > 2 else None  # type: ignore[misc]
        sla_wait = wait if clock is None else _ms(clock.seconds(self.queued_at, t))
        top = f"{TOP_PREFIX}{self.contact_id}#{self.visits}"
        measures = {outcome: 1}
        if outcome == "answered":
            measures["wait_answered_ms"] = wait
            measures["wait_answered_business_ms"] = sla_wait
            if sla_wait <= threshold * 1000:
                measures["answered_within_sl"] = 1
            self.credit(t, self.queue, measures, self.agent)
            measures = {}
        elif outcome == "abandoned":
            measures["wait_abandoned_ms"] = wait
            measures["wait_abandoned_business_ms"] = sla_wait
            if sla_wait <= threshold * 1000:
                measures["abandoned_within_sl"] = 1
            if wait < short * 1000:
                measures["short_abandoned"] = 1
        measures[top] = wait  # the queue's and the channel's only
        self.credit(t, self.queue, measures)
        if wait > threshold * 1000 and self.breached_at is None:
            self.breached_at = self.queued_at + threshold
        self.queued_at = None
        self.last_wait, self.outcome = wait / 1000.0, outcome
        self.last_wait_business = sla_wait / 1000.0
        self.breached = self.breached or sla_wait > threshold * 1000

    def count_handled(self, t: float, acw: float) -> None:
        """A handled contact: its talk, hold and ACW count where handling finished.

        The queue (and channel) count the contact once, with its whole handle time; after
        agent-to-agent transfers each agent counts only its own leg (:meth:`agent_leg`).
        """
        assert self.queue is not None and self.answered_at is not None
        end = self.ended_at if self.ended_at is not None else t
        talk = max(0, _ms(end - self.answered_at) - self.hold_total)
        agent = self.agent
        self.handled = (t, self.queue, agent)
        self.talk_ended_at = end
        whole = agent if not self.legs else None
        measures = {"handled": 1, "talk_ms": talk, "hold_ms": self.hold_total, "acw_ms": _ms(acw)}
        if self.hold_count:
            measures["hold_count"] = self.hold_count
        self.credit(t, self.queue, measures, whole)
        if self.legs and agent is not None:
            self.agent_leg(t, end, _ms(acw))
        self.answered_at = None
        self.legs = 0

    def agent_leg(self, t: float, end: float, acw: int) -> None:
        """The current agent's own leg: handled 1, its talk from ``leg_start`` to ``end`` less its hold."""
        assert self.queue is not None and self.agent is not None and self.leg_start is not None
        queue, agent = self.queue, self.agent
        self.add_agent(t, queue, agent, "handled")
        self.add_agent(t, queue, agent, "talk_ms", max(0, _ms(end - self.leg_start) - self.leg_hold))
        self.add_agent(t, queue, agent, "hold_ms", self.leg_hold)
        self.add_agent(t, queue, agent, "acw_ms", acw)
        if self.leg_hold_count:
            self.add_agent(t, queue, agent, "hold_count", self.leg_hold_count)

    def handling(self) -> bool:
        return self.answered_at is not None and self.ended_at is None

    def close_hold(self, t: float) -> None:
        if self.hold_start is not None:
            held = _ms(t - self.hold_start)
            self.hold_total += held
            self.hold_count += 1
            self.leg_hold += held
            self.leg_hold_count += 1
            self.hold_start = None

    def start_handling(self, t: float, agent: str) -> None:
        self.agent = agent
        self.answered_at = self.leg_start = t
        self.hold_start, self.hold_total, self.hold_count, self.ended_at = None, 0, 0, None
        self.leg_hold, self.leg_hold_count, self.legs = 0, 0, 0
        self.status = "in_progress"

    # ---- which event comes next ------------------------------------------------------

    def valid(self, rec: dict[str, Any]) -> bool:
        """Is ``rec`` a lifecycle step from the current state that needs no implicit move?

        Decides the order of events closer in time than the skew tolerance (:func:`fold_contact`).
        """
        kind = rec["type"]
        if kind == "contact.queued":  # a re-queue into the queue it waits in continues the wait: no move
            return (self.queued_at is None and not self.handling()) or (self.queued_at is not None
                                                                        and rec["queue_id"] == self.queue)
        if kind in ("contact.answered", "contact.abandoned", "contact.flowed_out"):
            return self.queued_at is not None
        if kind == "contact.transferred" and rec.get("opens_new_contact"):
            return self.agent is not None  # answered: the platform's new contact moves nothing here
        if kind in ("contact.transferred", "contact.ended"):
            return self.handling()
        if kind == "contact.hold_started":
            return self.handling() and self.hold_start is None
        if kind == "contact.hold_ended":
            return self.handling() and self.hold_start is not None
        if kind == "contact.wrapped_up":
            return self.answered_at is not None and self.ended_at is not None
        return True

    def transfer_out(self, t: float) -> None:
        """Handling ends by a transfer to another queue: counted handled, no ACW."""
        self.close_hold(t)
        self.ended_at = t
        self.count_handled(t, 0.0)
        self.ended_at = None
        self.status = "transferring"

    # ---- the state machine -----------------------------------------------------------
    def step(self, rec: dict[str, Any]) -> None:
        kind, t = rec["type"], rec["t"]
        if kind == "contact.queued":
            if self.queued_at is not None and rec["queue_id"] == self.queue:
                # Re-queued into the queue it waits in (ring-no-answer, re-announcement): the same wait goes on.
                self.priority = rec.get("priority", self.priority)
                return None
            if self.queued_at is not None:  # moved to another queue without a flow-out event
                self.leave_queue(t, "flowed_out")
            elif self.handling():  # re-queued while talking: an implicit transfer
                self.add(t, self.queue or rec["queue_id"], "transfers", agent=self.agent)
                self.transfer_out(t)
            self.out.queued = True
            self.visits += 1
            if self.first_queued_at is None:
                self.first_queued_at = t
            self.queue, self.channel, self.queued_at = rec["queue_id"], rec["channel"], t
            self.customer_id = rec.get("customer_id", self.customer_id)
            self.priority = rec.get("priority")
            self.status = "waiting"
            # offered_<channel> tells the read side the queue's channel
            self.credit(t, self.queue, {"offered": 1, f"offered_{self.channel}": 1})
        elif kind == "contact.answered":
            if self.queued_at is None:
                return self.anomaly(rec, "for a contact that is not waiting in a queue")
            self.agent = rec["agent_id"]
            self.leave_queue(t, "answered")
            self.start_handling(t, rec["agent_id"])
        elif kind in ("contact.abandoned", "contact.flowed_out"):
            if self.queued_at is None:
                return self.anomaly(rec, "for a contact that is not waiting in a queue")
            self.leave_queue(t, "abandoned" if kind == "contact.abandoned" else "flowed_out")
            self.status = "done"
        elif kind == "contact.hold_started":
            if not self.handling() or self.hold_start is not None:
                return self.anomaly(rec, "while the contact is not being handled or is already on hold")
            self.hold_start = t
        elif kind == "contact.hold_ended":
            if not self.handling() or self.hold_start is None:
                return self.anomaly(rec, "while the contact is not on hold")
            self.close_hold(t)
        elif kind == "contact.transferred" and rec.get("opens_new_contact"):
            # The target is another contact, counted on its own; this one's handling (talk, hold,
            # ACW) goes on to its own end, even if that came first: the platform may report the
            # transfer only once the target accepted.
            if self.agent is None:
                return self.anomaly(rec, "(opening a new contact) for a contact no agent answered")
            self.add(t, self.queue or "", "transfers", agent=self.agent)
        elif kind == "contact.transferred":
            if self.queued_at is not None:  # transferred straight out of the queue
                self.leave_queue(t, "flowed_out")
                self.status = "transferring"
            elif self.handling():
                self.add(t, self.queue or "", "transfers", agent=self.agent)
                if rec.get("to_agent_id") and rec.get("to_queue_id") in (None, self.queue):
                    # The same visit goes on with another agent: the first agent's leg ends here.
                    self.close_hold(t)
                    if self.agent is not None:
                        self.agent_leg(t, t, 0)
                    self.legs += 1
                    # A leg never starts before the one it follows (the desktop's clock may run behind).
                    self.agent, self.leg_start = rec["to_agent_id"], max(t, self.leg_start or t)
                    self.leg_hold, self.leg_hold_count = 0, 0
                else:
                    self.transfer_out(t)
            else:
                return self.anomaly(rec, "while the contact is not being handled")
        elif kind == "contact.ended":
            if not self.handling():
                return self.anomaly(rec, "for a contact that is not being handled")
            self.close_hold(t)
            self.ended_at = t
            self.status = "acw"
        elif kind == "contact.wrapped_up":
            if self.answered_at is None or self.ended_at is None:
                return self.anomaly(rec, "before the contact ended")
            self.count_handled(t, t - self.ended_at)
            self.ended_at = None
            self.status = "done"
            self.resolved = rec.get("resolved")
        elif kind == EXPIRED_TYPE:
            self.expire(t)
        elif kind == SUMMARY_TYPE:
            self.out.queued = True
            self.queue, self.channel = rec.get("queue_id"), rec.get("channel", self.channel)
            self.agent, self.customer_id = rec.get("agent_id"), rec.get("customer_id")
            self.first_queued_at, self.outcome = rec.get("queued_at"), rec.get("outcome", "done")
            self.status = "done"
        elif kind == "survey.responded":
            self.survey(rec)
        elif kind == "qa.evaluated":
            queue = self.queue
            if queue is None:
                return self.out.anomalies.append((rec["id"], "unknown_contact", "qa.evaluated for a contact never queued"))
            self.add(t, queue, "qa_count", agent=rec["agent_id"])
            self.add(t, queue, "qa_score_milli", round(rec["score"] * 1000), agent=rec["agent_id"])

    def expire(self, t: float) -> None:
        """An open contact reached its channel's open-contact limit: it ends, counted as ``expired``.

        Not an abandon and not handled: nothing is known of how it ended. Its wait so far is not a
        wait of any outcome, so no wait, service-level or handle figure changes.
        """
        if self.status in ("done", "new"):
            return
        if self.answered_at is not None and self.ended_at is not None:
            # In ACW: its talk already counts where it ended (as :meth:`finish` counts it); keep that.
            self.count_handled(self.ended_at, 0.0)
        self.add(t, self.queue or "", "expired")
        self.queued_at = self.answered_at = self.ended_at = self.hold_start = None
        self.status, self.outcome = "done", "expired"

    def survey(self, rec: dict[str, Any]) -> None:
        t, kind, score = rec["t"], rec["survey"], rec["score"]
        queue = rec.get("queue_id") or self.queue
        if queue is None:
            self.out.anomalies.append((rec["id"], "unknown_contact", "survey for a contact never queued and without queue_id"))
            return
        agent = rec.get("agent_id") or self.agent
        self.scores[kind] = score
        self.comment = rec.get("comment", self.comment)
        default = DEFAULT_SURVEY_SCALES[kind]
        scale = (rec.get("scale_min", default[0]), rec.get("scale_max", default[1]))
        self.add(t, queue, f"{kind}_responses", agent=agent)
        if kind == "csat":
            self.add(t, queue, "csat_score_milli", round(normalise_score(score, scale, default) * 1000), agent=agent)
            if csat_satisfied(score, scale):
                self.add(t, queue, "csat_satisfied", agent=agent)
            elif csat_dissatisfied(score, scale):
                self.add(t, queue, "csat_dissatisfied", agent=agent)
        elif kind == "nps":
            bucket = nps_bucket(score, scale)
            self.nps = {"at": t, "bucket": bucket}
            if bucket != "passive":
                self.add(t, queue, f"nps_{bucket}s", agent=agent)
        else:
            self.add(t, queue, "ces_score_milli", round(normalise_score(score, scale, default) * 1000), agent=agent)
            if ces_easy(score, scale):
                self.add(t, queue, "ces_easy", agent=agent)
            elif ces_difficult(score, scale):
                self.add(t, queue, "ces_difficult", agent=agent)

    def finish(self) -> ContactFold:
        # Ended and no wrap-up (yet): count it where it ended, without ACW. A later
        # wrap-up re-folds the contact, which moves it to the wrap-up's interval.
        if self.answered_at is not None and self.ended_at is not None:
            self.count_handled(self.ended_at, 0.0)
        self.out.summary = {
            "contact_id": self.contact_id,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "queue_id": self.queue,
            "agent_id": self.agent,
            "queued_at": self.first_queued_at,
            "wait_seconds": self.last_wait,
            "wait_business_seconds": self.last_wait_business,
            "breached": self.breached,
            "outcome": self.outcome,
            "handled_at": self.handled[0] if self.handled else None,
            "resolved": self.resolved,
            "csat": self.scores.get("csat"),
            "nps": self.scores.get("nps"),
            "ces": self.scores.get("ces"),
            "comment": self.comment,
        }
        if self.customer_id is not None:
            self.out.fcr = {
                "contact_id": self.contact_id,
                "channel": self.channel,
                "queued_at": self.first_queued_at,
                "handled_at": self.handled[0] if self.handled else None,
                "talk_ended_at": self.talk_ended_at,
                "queue_id": self.handled[1] if self.handled else self.queue,
                "agent_id": self.handled[2] if self.handled else None,
                "resolved": self.resolved,
                # still waiting or being handled (a case stays open while one of its contacts is)
                "open": self.status not in ("done", "new"),
                # for retention (ccpulse.domain.retention): the service this customer got
                "breached_at": self.breached_at,
                "nps": self.nps,
            }
        if self.status not in ("done", "new"):
            self.out.live = {
                "contact_id": self.contact_id,
                "status": self.status,
                "queue_id": self.queue,
                "channel": self.channel,
                "queued_at": self.queued_at,
                "priority": self.priority,
                "customer_id": self.customer_id,
                "agent_id": self.agent if self.status != "waiting" else None,
                "answered_at": self.answered_at,
                "on_hold": self.hold_start is not None,
            }
        return self.out


def fold_contact(contact_id: str, events: Iterable[dict[str, Any]], sla: SlaLookup,
                 skew: float = DEFAULT_SKEW_SECONDS) -> ContactFold:
    """Fold a contact's event records (sorted by :func:`add_event`) into its figures.

    Events closer in time than ``skew`` to the earliest event not yet applied are candidates
    together: the next one applied is the first, in the producer's order, that is a valid step
    from the contact's state without an implicit move (:meth:`_Folder.valid`); surveys and QA come
    after such steps; when none is valid, the earliest. A whole-second ACD log stamps an answer and
    a transfer with the same second, and an agent desktop's clock may run 300 ms behind the ACD's:
    neither the timestamps nor any fixed rank of types can say which came first, the lifecycle can.
    """
    events = events if isinstance(events, list) else list(events)
    folder = _Folder(contact_id, sla)
    pending = list(events)
    while pending:
        first_t = pending[0]["t"]
        end = 1
        while end < len(pending) and (pending[end]["t"] - first_t < skew or pending[end]["t"] == first_t):
            end += 1
        pick = 0
        if end > 1:
            window = sorted(range(end), key=lambda i: _producer_key(pending[i]))
            pick = next((i for i in window if pending[i]["type"] not in _LATER and folder.valid(pending[i])),
                        next((i for i in window if pending[i]["type"] in _LATER), 0))
        folder.step(pending.pop(pick))
    if not folder.out.queued:
        # Events for a contact that never queued stay pending; once settled they are rejected.
        folder.out.contributions.clear()
        folder.out.anomalies = [
            (rec["id"], "unknown_contact", f"{rec['type']} for contact {contact_id} that never queued")
            for rec in events
        ]
        return folder.out
    return folder.finish()


def compact_record(contact_id: str, events: list[dict[str, Any]], sla: SlaLookup,
                   skew: float = DEFAULT_SKEW_SECONDS) -> dict[str, Any]:
    """One record standing for a finished contact's events, kept for surveys and QA days later.

    Folding it contributes nothing (the driver resets the stored contributions when it compacts:
    figures already sent are final); a later survey or QA folded after it counts for the contact's
    queue, channel and last agent.
    """
    fold = fold_contact(contact_id, events, sla, skew)
    summary = fold.summary or {}
    return {"id": f"summary:{contact_id}", "type": SUMMARY_TYPE, "t": max((r["t"] for r in events), default=0.0),
            "src": "", "off": -1, "raw": "", "queue_id": summary.get("queue_id"), "channel": summary.get("channel"),
            "agent_id": summary.get("agent_id"), "customer_id": summary.get("customer_id"),
            "queued_at": summary.get("queued_at"), "outcome": summary.get("outcome")}


def expired_record(contact_id: str, t: float) -> dict[str, Any]:
    """The record a driver adds when an open contact reaches its open-contact limit at ``t``."""
    return {"id": f"expired:{contact_id}", "type": EXPIRED_TYPE, "t": t, "src": "", "off": -1, "raw": ""}


def diff_contributions(old: Contributions, new: Contributions) -> Contributions:
    """What has to be applied downstream to turn ``old`` into ``new``.

    Numeric measures become signed deltas; a top-wait entry that disappeared is sent
    as ``None`` (remove). Buckets without a change are omitted.
    """
    out: Contributions = {}
    for key, after in new.items():
        before = old.get(key)
        if before != after:  # most buckets of a re-fold are unchanged: skip them at once
            delta = _measure_delta(before or {}, after)
            if delta:
                out[key] = delta
    for key, before in old.items():
        if key not in new:
            delta = _measure_delta(before, {})
            if delta:
                out[key] = delta
    return out


def _measure_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    # Two passes over the dicts rather than over the union of their keys (a new set per bucket per event).
    delta: dict[str, Any] = {}
    for measure, value in after.items():
        if measure.startswith(TOP_PREFIX):
            if before.get(measure) != value:
                delta[measure] = value
        else:
            change = value - before.get(measure, 0)
            if change:
                delta[measure] = change
    for measure, value in before.items():
        if measure not in after:
            if measure.startswith(TOP_PREFIX):
                delta[measure] = None
            elif value:
                delta[measure] = -value
    return delta
