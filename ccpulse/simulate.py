"""``ccpulse simulate``: realistic, reproducible multichannel contact-center traffic.

:func:`generate` is a pure discrete-event simulation (a heap of scheduled
happenings, one ``random.Random(seed)``): the same :class:`SimConfig` always gives
byte-identical events, so a demo, a bug report or a test can be replayed exactly.
It models what the wallboard and the metrics must cope with: time-of-day arrival
profiles, skills-based routing (priority first, then longest wait, to the
longest-idle agent), ringing, patience-based abandonment, callbacks, hold,
transfers, after-contact work, breaks, surveys, QA and repeat contacts. Agent
events are derived from the same routing decisions as contact events, so the two
never contradict each other.

:class:`MmcConfig` switches to a textbook M/M/c queue (Poisson arrivals,
exponential handling, no abandonment, FIFO) whose figures can be checked against
Erlang C.

The Kafka and file writers and the CLI glue live here too; Kafka modules are only
imported when events are actually sent, so :func:`generate` stays import-light.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import heapq
import itertools
import logging
import math
import random
import re
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

import orjson

from ccpulse.domain.calendar import BusinessClock, Calendar, open_spans

if TYPE_CHECKING:
    from ccpulse.settings import Settings

__all__ = [
    "CHANNEL_MODELS",
    "DAY_PROFILE",
    "DEFAULT_QUEUES",
    "ChannelModel",
    "MmcConfig",
    "QueueSpec",
    "SimConfig",
    "SimSummary",
    "add_arguments",
    "deliveries",
    "generate",
    "parse_duration",
    "parse_mmc",
    "parse_speed",
    "quiet_kafka_logs",
    "run",
    "sample_patience",
    "simulate_to_file",
    "simulate_to_kafka",
    "until_signalled",
    "weibull_through",
]

Channel = Literal["voice", "chat", "email"]
T = TypeVar("T")
SOURCE = "ccpulse-simulate"
#: Which system stamps and sends each event type on a real platform (``--skew`` names them). The
#: ACD routes and tracks presence; the agent desktop transfers, holds, ends and wraps up.
SOURCES: dict[str, str] = {
    "contact.queued": "acd", "contact.answered": "acd", "contact.abandoned": "acd", "contact.flowed_out": "acd",
    "agent.state_changed": "acd", "contact.transferred": "desktop", "contact.hold_started": "desktop",
    "contact.hold_ended": "desktop", "contact.ended": "desktop", "contact.wrapped_up": "desktop",
    "survey.responded": "surveys", "qa.evaluated": "qa",
}
SOURCE_NAMES = ("acd", "desktop", "surveys", "qa", "crm")  # crm: customer events
BOT_AGENT = "bot-ivr"
IVR_QUEUE = "ivr"
CALLBACK_QUEUE = "callbacks"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
PROGRESS_SECONDS = 5.0  # progress lines this often during the first minute, then every 30 s


# ---- model parameters -----------------------------------------------------------------------
def weibull_through(t1: float, p1: float, t2: float, p2: float) -> tuple[float, float]:
    """(scale, shape) of the Weibull distribution with CDF ``p1`` at ``t1`` and ``p2`` at ``t2``.

    Patience is usually quoted as "x % hang up within t seconds"; fitting two such
    anchors exactly keeps the model honest to the quoted figures.
    """
    h1, h2 = -math.log(1 - p1), -math.log(1 - p2)
    shape = math.log(h2 / h1) / math.log(t2 / t1)
    return t1 / h1 ** (1 / shape), shape


#: Voice patience from the product owner's material: 1/3 hang up within 60 s, 2/3 within 180 s.
VOICE_PATIENCE = weibull_through(60, 1 / 3, 180, 2 / 3)


@dataclass(frozen=True)
class ChannelModel:
    """How contacts of one channel behave. Times in seconds; ranges are uniform (low, high)."""

    handle_mean: float  # talk / chat conversation / email composing, without hold
    handle_shape: float = 2.0  # gamma shape: 1 = exponential; 2 = fewer implausibly short contacts
    handle_min: float = 0.0
    ring: tuple[float, float] = (0.0, 0.0)  # routed → answered (ringing, chat accept)
    acw: tuple[float, float] = (0.0, 0.0)
    hold_probability: float = 0.0
    hold_mean: float = 45.0
    transfer_probability: float = 0.0
    patience: tuple[float, float] | None = None  # Weibull (scale, shape); None = never abandons
    callback_offer_after: float | None = None  # waiting this long, the caller is offered a callback
    callback_acceptance: float = 0.0
    retry_after_abandon: float = 0.0  # probability an abandoning customer tries again later
    resolved_rate: float | None = None  # None: wrap-ups carry no resolved/disposition
    repeat_if_unresolved: float = 0.0
    survey_rate: float = 0.0
    survey_delay: tuple[float, float] = (30.0, 300.0)
    qa_rate: float = 0.0

    def handle_time(self, rng: random.Random) -> float:
        if self.handle_shape == 1.0:
            return max(self.handle_min, rng.expovariate(1 / self.handle_mean))
        return max(self.handle_min, rng.gammavariate(self.handle_shape, self.handle_mean / self.handle_shape))


CHANNEL_MODELS: dict[str, ChannelModel] = {
    "voice": ChannelModel(
        handle_mean=240, handle_min=20, ring=(2, 8), acw=(20, 60), hold_probability=0.2, hold_mean=45,
        transfer_probability=0.04, patience=VOICE_PATIENCE, callback_offer_after=60, callback_acceptance=0.2,
        retry_after_abandon=0.3, resolved_rate=0.85, repeat_if_unresolved=0.4, survey_rate=0.25,
        survey_delay=(20, 240), qa_rate=0.05,
    ),
    "chat": ChannelModel(
        handle_mean=540, handle_shape=2.5, handle_min=60, ring=(3, 15), acw=(15, 45),
        patience=(VOICE_PATIENCE[0] * 4, VOICE_PATIENCE[1]), retry_after_abandon=0.2, resolved_rate=0.8,
        repeat_if_unresolved=0.3, survey_rate=0.35, survey_delay=(5, 120), qa_rate=0.04,
    ),
    "email": ChannelModel(
        handle_mean=180, handle_min=30, ring=(0, 5), acw=(20, 40), resolved_rate=0.75, repeat_if_unresolved=0.3,
        survey_rate=0.15, survey_delay=(600, 4 * 3600), qa_rate=0.03,
    ),
}


def sample_patience(rng: random.Random, channel: str = "voice", models: Mapping[str, ChannelModel] = CHANNEL_MODELS) -> float:
    """How long a customer of ``channel`` waits before leaving (``inf``: never, as for email)."""
    patience = models[channel].patience
    return math.inf if patience is None else rng.weibullvariate(*patience)


@dataclass(frozen=True)
class QueueSpec:
    """One queue: its channel, its arrival rate at the busiest time of day and routing priority."""

    queue_id: str
    channel: Channel
    arrivals_per_hour: float
    priority: int | None = None  # higher is routed first; voice before chat before email
    dispositions: tuple[str, ...] = ("resolved", "info-given")


#: Peak rates sized for ~18 agents: busy but not hopeless at the peak, visible traffic at once.
DEFAULT_QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("sales", "voice", 45, 10, ("order-placed", "quote-sent", "no-sale")),
    QueueSpec("support", "voice", 60, 10, ("issue-fixed", "how-to", "replacement-sent")),
    QueueSpec("billing", "voice", 36, 10, ("payment-arranged", "refund-issued", "address-changed")),
    QueueSpec("chat_support", "chat", 22, 5, ("issue-fixed", "how-to", "link-sent")),
    QueueSpec("email_support", "email", 30, 1, ("answered", "info-sent", "refund-issued")),
)
_UNRESOLVED_DISPOSITIONS = ("follow-up-needed", "escalated", "customer-to-call-back")

#: Relative arrival rate by local hour (1.0 = busiest: late morning and afternoon). It never
#: drops below 0.5 so that a demo started at night still shows traffic within seconds.
DAY_PROFILE: tuple[float, ...] = (
    (0.5,) * 7 + (0.6, 0.8, 0.95, 1.0, 1.0, 0.85, 0.9, 1.0, 0.95, 0.85, 0.7, 0.6) + (0.5,) * 5
)


@dataclass(frozen=True)
class MmcConfig:
    """A textbook M/M/c queue: Poisson arrivals, exponential handling, ``agents`` servers, FIFO."""

    arrival_rate_per_hour: float
    mean_handle_seconds: float
    agents: int
    queue_id: str = "mmc"
    channel: Channel = "voice"

    def __post_init__(self) -> None:
        if self.arrival_rate_per_hour <= 0 or self.mean_handle_seconds <= 0 or self.agents < 1:
            raise ValueError("M/M/c needs a positive arrival rate and handle time and at least one agent")


def _this_minute() -> datetime:
    return datetime.now(timezone.utc).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. ``duration_seconds`` bounds arrivals (None: endless); contacts in
    flight at the end are completed, so a finite run holds whole contact lifecycles."""

    seed: int = 7
    start: datetime = field(default_factory=_this_minute)
    duration_seconds: float | None = None
    queues: tuple[QueueSpec, ...] = DEFAULT_QUEUES
    agents: int = 18
    load: float = 1.0  # multiplies every arrival rate
    customers: int = 5000  # size of the customer pool (repeat contacts)
    zone: tzinfo | None = None  # time zone of DAY_PROFILE; default: the start's
    channels: Mapping[str, ChannelModel] = field(default_factory=lambda: dict(CHANNEL_MODELS))
    mmc: MmcConfig | None = None
    # Customer events (subscriptions, purchases) for the same customer pool: a subscription history
    # before the start, then cancellations after bad service, upgrades and purchases after good service.
    customer_events: bool = False
    currency: str = "USD"
    # What real platforms write (all off by default, and then the output is the same as without them).
    # timestamps truncated to this many seconds (1: whole seconds; 0: microseconds), for every source or per source
    resolution: float | Mapping[str, float] = 0.0
    skew: Mapping[str, float] = field(default_factory=dict)  # source (SOURCE_NAMES) -> seconds its clock is ahead
    disorder_seconds: float = 0.0  # an event may reach the stream up to this long after its timestamp
    duplicate_rate: float = 0.0  # share of events a source sends twice (a retry: later, same event_id)
    email_hours: BusinessClock | None = None  # email is worked in these hours only: it waits over nights, weekends
    qa_delay_seconds: float | None = None  # QA scored between half this and this after the contact (None: 15 min-3 h)
    callbacks: bool = False  # callback requests wait in a callback queue (same contact) until an agent calls back
    requeue_rate: float = 0.0  # share of offers that ring unanswered: the contact is re-queued into its queue
    bot: bool = False  # voice contacts meet a bot in an IVR queue first, which hands them to the queue
    agent_transfer_rate: float = 0.0  # share of answered contacts an agent transfers to another agent

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        if self.duration_seconds is not None and self.duration_seconds < 0:
            raise ValueError("duration must not be negative")
        if self.mmc is None and (self.agents < 1 or not self.queues):
            raise ValueError("a simulation needs at least one agent and one queue")
        resolutions = self.resolution.values() if isinstance(self.resolution, Mapping) else (self.resolution,)
        if any(r < 0 or not math.isfinite(r) for r in resolutions):
            raise ValueError("the timestamp resolution must be a non-negative number of seconds")
        for what, names in (("clock skew", self.skew), ("resolution", self.resolution if isinstance(self.resolution, Mapping) else {})):
            unknown = sorted(set(names) - set(SOURCE_NAMES))
            if unknown:
                raise ValueError(f"unknown source {unknown[0]!r} in the {what}; use {', '.join(SOURCE_NAMES)}")
        if any(not math.isfinite(v) for v in self.skew.values()):
            raise ValueError("a clock skew must be a finite number of seconds")
        if self.disorder_seconds < 0 or not math.isfinite(self.disorder_seconds):
            raise ValueError("the disorder must be a non-negative number of seconds")
        for name, rate in (("duplicate", self.duplicate_rate), ("re-queue", self.requeue_rate),
                           ("agent transfer", self.agent_transfer_rate)):
            if not 0 <= rate <= 1:
                raise ValueError(f"the {name} rate must lie between 0 and 1")
        if self.qa_delay_seconds is not None and not 0 < self.qa_delay_seconds < math.inf:
            raise ValueError("the QA delay must be a positive duration")
        if self.email_hours is not None and not self.email_hours.calendar.ever_open:
            raise ValueError("the email opening hours are never open: email would never be answered")


# ---- the simulation -------------------------------------------------------------------------
@dataclass(eq=False, slots=True)
class _Agent:
    agent_id: str
    index: int
    queue_ids: list[str]
    team: str | None
    site: str | None
    state: str = "offline"
    idle_since: float = 0.0
    contact: _Contact | None = None  # ringing or being handled
    pending_break: str | None = None
    breaks_taken: int = 0


@dataclass(eq=False, slots=True)
class _Contact:
    contact_id: str
    number: int
    customer_id: str | None
    queue: QueueSpec
    model: ChannelModel
    priority: int | None = None
    segment: int = 0  # one per queue entry: timers of an earlier wait are ignored
    queued_at: float = 0.0
    state: str = "new"  # waiting, ringing, talking, done
    agent: _Agent | None = None
    transferred: bool = False
    home: str | None = None  # the queue it left for the callback queue


_SURVEY_KINDS = (("csat", 0.5), ("nps", 0.3), ("ces", 0.2))
# Answer weights, lowest score first: happy customers skew high, unhappy ones spread out.
_SURVEY_WEIGHTS = {
    "csat": (range(1, 6), (2, 3, 8, 30, 57), (15, 20, 25, 25, 15)),
    "nps": (range(0, 11), (1, 1, 1, 1, 2, 3, 4, 8, 14, 25, 40), (6, 5, 6, 8, 9, 12, 12, 14, 12, 9, 7)),
    "ces": (range(1, 8), (1, 2, 3, 6, 14, 34, 40), (8, 12, 15, 20, 20, 15, 10)),
}
_COMMENTS = {
    True: ("Quick and friendly.", "Solved on the first try, thanks!", "Very helpful agent."),
    False: ("Waited far too long.", "My problem is still not fixed.", "Had to explain everything twice."),
}


class _Simulation:
    """The discrete-event engine behind :func:`generate`. Handlers run at ``self.now`` and
    only ever emit events stamped ``now``, which is what keeps the output time-ordered."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.start = config.start.astimezone(timezone.utc)
        self.zone = config.zone or config.start.tzinfo
        self.horizon = math.inf if config.duration_seconds is None else float(config.duration_seconds)
        self.now = 0.0
        self._heap: list[tuple[float, int, bool | str, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._events = 0
        self._contacts = 0
        # (true time, stamped time, source, event): the stamped time differs under skew and truncation
        self._out: list[tuple[float, float, str, dict[str, Any]]] = []
        self._stamp_at = -1.0
        self._stamp = ""
        # Real-world options draw from their own random stream: turned off, the traffic is unchanged.
        self.xrng = random.Random(f"{config.seed}|real-world")
        self._start_us = (self.start - _EPOCH) // timedelta(microseconds=1)
        res = config.resolution
        per_source = {name: (res.get(name, 0.0) if isinstance(res, Mapping) else res) for name in SOURCE_NAMES}
        self._resolution_us = {name: max(1, round(r * 1e6)) for name, r in per_source.items()}
        self._timespec = {name: "seconds" if us % 1_000_000 == 0 else "milliseconds" if us % 1000 == 0 else "microseconds"
                          for name, us in self._resolution_us.items()}
        self._plain_stamps = not any(per_source.values()) and not config.skew
        self._stamps: dict[str, tuple[float, float, str]] = {}  # source -> (true time, stamped time, text)
        self._logged_off = False
        mmc = config.mmc
        self.tag = hashlib.blake2s(f"{config.seed}|{self.start.isoformat()}|{mmc!r}".encode(), digest_size=4).hexdigest()
        if mmc is None:
            self.queues = config.queues
            self.models = dict(config.channels)
        else:
            self.queues = (QueueSpec(mmc.queue_id, mmc.channel, mmc.arrival_rate_per_hour),)
            self.models = {mmc.channel: ChannelModel(handle_mean=mmc.mean_handle_seconds, handle_shape=1.0)}
        self.waiting: dict[str, list[_Contact]] = {q.queue_id: [] for q in self.queues}
        self.agents = self._staff()
        self.callback_queue: QueueSpec | None = None
        if config.callbacks and mmc is None and any(q.channel == "voice" for q in self.queues):
            # Every agent of a voice queue also calls customers back; callbacks wait (they do not hang up).
            self.callback_queue = QueueSpec(CALLBACK_QUEUE, "voice", 0, 0)
            self.waiting[CALLBACK_QUEUE] = []
            for agent in self.agents:
                if any(q.channel == "voice" and q.queue_id in agent.queue_ids for q in self.queues):
                    agent.queue_ids.append(CALLBACK_QUEUE)
        self.ivr = QueueSpec(IVR_QUEUE, "voice", 0) if config.bot and mmc is None else None
        self.email_queues = {q.queue_id for q in self.queues if q.channel == "email"}
        self._email_open_until = -math.inf  # email open (sim time) until then; closed until _email_closed_until
        self._email_closed_until = -math.inf
        self._email_wake_up = False
        # Customer events use their own random stream: turning them on leaves the contact traffic unchanged.
        self.customers_on = config.customer_events and mmc is None
        self.crng = random.Random(f"{config.seed}|customers")
        self.subscribed: dict[str, str] = {}  # customer id -> tier, while subscribed
        self._customer_events = 0

    # -- plumbing ---------------------------------------------------------------------------
    def _at(self, delay: float, handler: Callable[..., None], *args: Any, drains: bool | str = True) -> None:
        """Schedule ``handler`` in ``delay`` seconds. ``drains=False`` work (new arrivals, breaks,
        surveys, QA) is dropped after the horizon; the rest completes contacts in flight.
        ``drains="late"`` (QA days later) is kept, and comes after the agents have logged off."""
        heapq.heappush(self._heap, (self.now + delay, next(self._seq), drains, handler, args))

    def _emit(self, event_type: str, **fields: Any) -> None:
        self._events += 1
        if self._plain_stamps:
            if self.now != self._stamp_at:
                moment = self.start + timedelta(microseconds=round(self.now * 1e6))
                self._stamp, self._stamp_at = moment.isoformat(timespec="microseconds"), self.now
            source, stamped, text, name = "", self.now, self._stamp, SOURCE
        else:
            source = SOURCES[event_type]
            stamped, text = self._stamp_of(source)
            name = f"{SOURCE}/{source}" if self.config.skew else SOURCE
        event = {"event_id": f"ev-{self.tag}-{self._events:08d}", "type": event_type, "occurred_at": text,
                 "source": name}
        event.update((k, v) for k, v in fields.items() if v is not None)
        self._out.append((self.now, stamped, source, event))

    def _stamp_of(self, source: str, at: float | None = None) -> tuple[float, str]:
        """(stamped sim time, text) of sim time ``at`` (default now) as ``source``'s clock writes it:
        its skew added, then truncated to the resolution (as an ACD log writing whole seconds does)."""
        now = self.now if at is None else at
        cached = self._stamps.get(source)
        if cached is not None and cached[0] == now:
            return cached[1], cached[2]
        us = self._start_us + round((now + self.config.skew.get(source, 0.0)) * 1e6)
        us -= us % self._resolution_us[source]
        text = (_EPOCH + timedelta(microseconds=us)).isoformat(timespec=self._timespec[source])
        stamped = (us - self._start_us) / 1e6
        self._stamps[source] = (now, stamped, text)
        return stamped, text

    def _agent_event(self, agent: _Agent, state: str, reason: str | None = None) -> None:
        agent.state = state
        self._emit("agent.state_changed", agent_id=agent.agent_id, state=state, reason=reason,
                   queue_ids=list(agent.queue_ids), team=agent.team, site=agent.site)

    def _profile(self, t: float) -> float:
        if self.config.mmc is not None:
            return 1.0
        local = (self.start + timedelta(seconds=t)).astimezone(self.zone)
        hour = local.hour + local.minute / 60 + local.second / 3600
        low = int(hour)
        return DAY_PROFILE[low] + (DAY_PROFILE[(low + 1) % 24] - DAY_PROFILE[low]) * (hour - low)

    # -- staffing ---------------------------------------------------------------------------
    def _staff(self) -> list[_Agent]:
        mmc = self.config.mmc
        if mmc is not None:
            return [_Agent(f"agent-{1001 + i}", i, [mmc.queue_id], None, None) for i in range(mmc.agents)]
        rng, queues, n = self.rng, self.queues, self.config.agents
        work = [q.arrivals_per_hour * self.models[q.channel].handle_mean for q in queues]
        # Primary skills in proportion to each queue's work (largest remainder, at least one each).
        shares = [n * w / sum(work) for w in work]
        counts = [max(1, int(s)) if n >= len(queues) else int(s) for s in shares]
        for i in sorted(range(len(queues)), key=lambda i: int(shares[i]) - shares[i]):
            if sum(counts) >= n:
                break
            counts[i] += 1
        while sum(counts) > n:
            counts[counts.index(max(counts))] -= 1
        primaries = [q for q, c in zip(queues, counts) for _ in range(c)]
        rng.shuffle(primaries)
        agents = []
        for i, primary in enumerate(primaries):
            others = [q for q in queues if q is not primary]
            extra = rng.choices((0, 1, 2), weights=(35, 45, 20))[0]
            skills = {primary.queue_id, *(q.queue_id for q in rng.sample(others, min(extra, len(others))))}
            agents.append(_Agent(f"agent-{1001 + i}", i, [q.queue_id for q in queues if q.queue_id in skills],
                                 f"team-{'abc'[i % 3]}", ("site-lisbon", "site-manila")[i * 2 // n]))
        for queue in queues:  # fewer agents than queues: nobody may be left unstaffed
            if not any(queue.queue_id in a.queue_ids for a in agents):
                min(agents, key=lambda a: (len(a.queue_ids), a.index)).queue_ids.append(queue.queue_id)
        return agents

    # -- main loop --------------------------------------------------------------------------
    def run(self) -> Iterator[tuple[float, float, str, dict[str, Any]]]:
        if self.customers_on:
            self._customer_history()
        for agent in self.agents:
            agent.idle_since = 0.0
            self._agent_event(agent, "available")
            if self.config.mmc is None:
                self._at(self.rng.uniform(10 * 60, 100 * 60), self._break_due, agent, drains=False)
        for queue in self.queues:
            gap = self._next_arrival_gap(queue)
            if gap < math.inf:
                self._at(gap, self._arrival, queue, drains=False)
        yield from self._flush()
        while self._heap:
            t, _, drains, handler, args = heapq.heappop(self._heap)
            if t > self.horizon and not drains:
                continue
            if drains == "late" and t > self.horizon and not any(item[2] is True for item in self._heap):
                self._log_off()  # only late QA is left: the day's work is done
            self.now = t
            handler(*args)
            yield from self._flush()
        self._log_off()
        yield from self._flush()

    def _log_off(self) -> None:
        """A finite run: everybody logs off once the last contact is done."""
        if self.horizon < math.inf and not self._logged_off:
            self._logged_off = True
            self.now = max(self.now, self.horizon)
            for agent in self.agents:
                self._agent_event(agent, "offline")

    def _flush(self) -> Iterator[tuple[float, float, str, dict[str, Any]]]:
        if self._out:
            out, self._out = self._out, []
            yield from out

    # -- arrivals and queueing --------------------------------------------------------------
    def _next_arrival_gap(self, queue: QueueSpec) -> float:
        rate = queue.arrivals_per_hour * (1.0 if self.config.mmc else self.config.load) / 3600
        return self.rng.expovariate(rate) if rate > 0 else math.inf

    def _arrival(self, queue: QueueSpec) -> None:
        # Non-homogeneous Poisson by thinning: candidates at the peak rate, kept with the profile's share.
        gap = self._next_arrival_gap(queue)
        if gap < math.inf:
            self._at(gap, self._arrival, queue, drains=False)
        if self.config.mmc is not None or self.rng.random() < self._profile(self.now):
            self._new_contact(queue, self._customer())

    def _customer(self) -> str | None:
        if self.config.mmc is not None:
            return None
        return f"cust-{self.rng.randrange(self.config.customers) + 1:05d}"

    def _new_contact(self, queue: QueueSpec, customer_id: str | None) -> None:
        self._contacts += 1
        prefix = {"voice": "call", "chat": "chat", "email": "mail"}[queue.channel]
        contact = _Contact(f"{prefix}-{self.tag}-{self._contacts:06d}", self._contacts, customer_id, queue,
                           self.models[queue.channel])
        if self.ivr is not None and queue.channel == "voice":
            self._bot(contact, queue)
            return
        self._enqueue(contact, queue, queue.priority, patience_factor=1.0)

    # -- real-world options -----------------------------------------------------------------
    def _bot(self, contact: _Contact, queue: QueueSpec) -> None:
        """The IVR bot answers at once and hands the caller to ``queue``; a third of the time within
        the same second (answered, transferred and queued share a whole-second timestamp)."""
        assert self.ivr is not None
        contact.state = "bot"
        self._emit("contact.queued", contact_id=contact.contact_id, channel="voice", queue_id=IVR_QUEUE,
                   customer_id=contact.customer_id)
        self._emit("contact.answered", contact_id=contact.contact_id, agent_id=BOT_AGENT)
        rng = self.xrng
        talk = rng.uniform(0.0, 0.9) if rng.random() < 1 / 3 else rng.uniform(5.0, 60.0)
        self._at(talk, self._bot_hands_over, contact, queue)

    def _bot_hands_over(self, contact: _Contact, queue: QueueSpec) -> None:
        self._emit("contact.transferred", contact_id=contact.contact_id, to_queue_id=queue.queue_id)
        self._enqueue(contact, queue, queue.priority, patience_factor=1.0)

    def _home(self, contact: _Contact) -> QueueSpec:
        """The queue a customer calls again: not the callback queue (nobody dials into it)."""
        if contact.queue is self.callback_queue:
            return next((q for q in self.queues if q.queue_id == contact.home), self.queues[0])
        return contact.queue

    def _enqueue_callback(self, contact: _Contact) -> None:
        """A callback request waits in the callback queue (in the same second as the flow-out or
        abandon that made it) until an agent calls the customer back: it never abandons."""
        queue = self.callback_queue
        assert queue is not None
        contact.home = contact.queue.queue_id
        contact.queue, contact.priority, contact.state = queue, queue.priority, "waiting"
        contact.segment += 1
        contact.queued_at = self.now
        self._emit("contact.queued", contact_id=contact.contact_id, channel="voice", queue_id=queue.queue_id,
                   customer_id=contact.customer_id, priority=queue.priority)
        self.waiting[queue.queue_id].append(contact)
        self._route_contact(contact)

    def _ring_no_answer(self, contact: _Contact, segment: int) -> None:
        """The offered agent does not pick up: the contact is queued again into the same queue (the
        same wait goes on, at its old place) and the agent is set away for a short while."""
        agent = contact.agent
        if contact.segment != segment or contact.state != "ringing" or agent is None:
            return
        contact.agent, agent.contact, contact.state = None, None, "waiting"
        self._emit("contact.queued", contact_id=contact.contact_id, channel=contact.queue.channel,
                   queue_id=contact.queue.queue_id, customer_id=contact.customer_id, priority=contact.priority)
        self.waiting[contact.queue.queue_id].append(contact)
        self._agent_event(agent, "away", "missed")
        self._at(self.xrng.uniform(30, 90), self._back_from_missed, agent)
        self._route_contact(contact)

    def _back_from_missed(self, agent: _Agent) -> None:
        if agent.pending_break is not None:
            self._go_away(agent, agent.pending_break)
            return
        agent.idle_since = self.now
        self._agent_event(agent, "available")
        self._route_agent(agent)

    def _agent_transfer(self, contact: _Contact) -> None:
        """The agent hands the conversation to a free colleague of the same queue (each gets a leg)."""
        agent = contact.agent
        if agent is None or contact.state != "talking":
            return
        free = [a for a in self.agents if a.state == "available" and a.contact is None
                and contact.queue.queue_id in a.queue_ids]
        if not free:
            return
        other = min(free, key=lambda a: (a.idle_since, a.index))
        self._emit("contact.transferred", contact_id=contact.contact_id, to_agent_id=other.agent_id)
        contact.agent, other.contact, agent.contact = other, contact, None
        self._agent_event(other, "on_contact")
        self._agent_free(agent)

    def _email_open(self) -> bool:
        """Is email worked now (``email_hours``)? Cached per open or closed span."""
        hours = self.config.email_hours
        if hours is None or self.now < self._email_open_until:
            return True
        if self.now < self._email_closed_until:
            return False
        base = self.start.timestamp()
        at = base + self.now
        spans = open_spans(at, at + 8 * 86400, hours.calendar, ZoneInfo(hours.zone))
        if spans and spans[0][0] <= at:
            self._email_open_until = spans[0][1] - base
            return True
        self._email_closed_until = spans[0][0] - base if spans else math.inf
        return False

    def _email_opens(self) -> None:
        self._email_wake_up = False
        for agent in self.agents:
            self._route_agent(agent)

    def _enqueue(self, contact: _Contact, queue: QueueSpec, priority: int | None, patience_factor: float) -> None:
        contact.queue, contact.priority, contact.state = queue, priority, "waiting"
        contact.segment += 1
        contact.queued_at = self.now
        self._emit("contact.queued", contact_id=contact.contact_id, channel=queue.channel, queue_id=queue.queue_id,
                   customer_id=contact.customer_id, priority=priority)
        self.waiting[queue.queue_id].append(contact)
        patience = sample_patience(self.rng, queue.channel, self.models) * patience_factor
        if patience < math.inf:
            self._at(patience, self._patience_ran_out, contact, contact.segment)
        if contact.model.callback_offer_after is not None:
            self._at(contact.model.callback_offer_after, self._offer_callback, contact, contact.segment)
        self._route_contact(contact)

    # -- routing ----------------------------------------------------------------------------
    def _route_contact(self, contact: _Contact) -> None:
        """A new waiting contact goes to the longest-idle available agent with the skill."""
        if contact.queue.queue_id in self.email_queues and not self._email_open():
            if not self._email_wake_up and self._email_closed_until < math.inf:
                self._email_wake_up = True
                self._at(self._email_closed_until - self.now, self._email_opens)
            return
        free = [a for a in self.agents if a.state == "available" and a.contact is None
                and contact.queue.queue_id in a.queue_ids]
        if free:
            self._assign(min(free, key=lambda a: (a.idle_since, a.index)), contact)

    def _route_agent(self, agent: _Agent) -> None:
        """A free agent takes the highest-priority, longest-waiting contact of its queues."""
        if agent.state != "available" or agent.contact is not None:
            return
        if self.config.email_hours is not None and not self._email_open():
            waiting = [c for q in agent.queue_ids if q not in self.email_queues for c in self.waiting[q]]
        else:
            waiting = [c for q in agent.queue_ids for c in self.waiting[q]]
        if waiting:
            self._assign(agent, min(waiting, key=lambda c: (-(c.priority or 0), c.queued_at, c.number)))

    def _assign(self, agent: _Agent, contact: _Contact) -> None:
        self.waiting[contact.queue.queue_id].remove(contact)
        contact.state, contact.agent, agent.contact = "ringing", agent, contact
        ring = self.rng.uniform(*contact.model.ring)
        if ring > 0 and self.config.requeue_rate and self.xrng.random() < self.config.requeue_rate:
            self._at(ring, self._ring_no_answer, contact, contact.segment)
        elif ring > 0:
            self._at(ring, self._answer, contact, contact.segment)
        else:
            self._answer(contact, contact.segment)

    # -- handling ---------------------------------------------------------------------------
    def _answer(self, contact: _Contact, segment: int) -> None:
        if contact.segment != segment or contact.state != "ringing" or contact.agent is None:
            return
        agent, model, rng = contact.agent, contact.model, self.rng
        contact.state = "talking"
        self._emit("contact.answered", contact_id=contact.contact_id, agent_id=agent.agent_id)
        self._agent_event(agent, "on_contact")
        talk = model.handle_time(rng)
        if rng.random() < model.hold_probability:
            hold_at = talk * rng.uniform(0.2, 0.8)
            hold = min(600.0, max(5.0, rng.expovariate(1 / model.hold_mean)))
            self._at(hold_at, self._hold, contact, "contact.hold_started")
            self._at(hold_at + hold, self._hold, contact, "contact.hold_ended")
            talk += hold
        targets = [q for q in self.queues if q.channel == contact.queue.channel and q is not contact.queue]
        if targets and not contact.transferred and rng.random() < model.transfer_probability:
            self._at(talk, self._transfer, contact, rng.choice(targets))
        else:
            self._at(talk, self._end, contact)
        if self.config.agent_transfer_rate and self.xrng.random() < self.config.agent_transfer_rate:
            self._at(talk * self.xrng.uniform(0.2, 0.8), self._agent_transfer, contact)

    def _hold(self, contact: _Contact, event_type: str) -> None:
        self._emit(event_type, contact_id=contact.contact_id)

    def _transfer(self, contact: _Contact, target: QueueSpec) -> None:
        """A cold transfer: the contact waits again (with priority), the agent is free at once."""
        agent = contact.agent
        assert agent is not None
        self._emit("contact.transferred", contact_id=contact.contact_id, to_queue_id=target.queue_id)
        contact.agent, agent.contact, contact.transferred = None, None, True
        self._enqueue(contact, target, (target.priority or 0) + 10, patience_factor=2.0)
        self._agent_free(agent)

    def _end(self, contact: _Contact) -> None:
        assert contact.agent is not None
        self._emit("contact.ended", contact_id=contact.contact_id)
        self._agent_event(contact.agent, "after_contact_work")
        acw = self.rng.uniform(*contact.model.acw)
        if acw > 0:
            self._at(acw, self._wrap_up, contact)
        else:
            self._wrap_up(contact)

    def _wrap_up(self, contact: _Contact) -> None:
        agent, model, rng = contact.agent, contact.model, self.rng
        assert agent is not None
        resolved = disposition = None
        if model.resolved_rate is not None:
            resolved = rng.random() < model.resolved_rate * (0.8 if contact.transferred else 1.0)
            if rng.random() < 0.8:
                disposition = rng.choice(contact.queue.dispositions if resolved else _UNRESOLVED_DISPOSITIONS)
        self._emit("contact.wrapped_up", contact_id=contact.contact_id, disposition=disposition, resolved=resolved)
        contact.state, contact.agent, agent.contact = "done", None, None
        if rng.random() < model.survey_rate:
            happy = resolved is not False and not contact.transferred
            self._at(rng.uniform(*model.survey_delay), self._survey, contact, agent.agent_id, happy, drains=False)
        if rng.random() < model.qa_rate:
            delay = rng.uniform(15 * 60, 3 * 3600)
            late = self.config.qa_delay_seconds
            if late is None:
                self._at(delay, self._qa, contact.contact_id, agent.agent_id, drains=False)
            else:  # scored days later: written even after the run's last arrival
                self._at(self.xrng.uniform(late / 2, late), self._qa, contact.contact_id, agent.agent_id, drains="late")
        if resolved is False and rng.random() < model.repeat_if_unresolved:
            self._at(rng.uniform(10 * 60, 4 * 3600), self._new_contact, self._home(contact), contact.customer_id,
                     drains=False)
        self._agent_free(agent)

    def _agent_free(self, agent: _Agent) -> None:
        if agent.pending_break is not None:
            self._go_away(agent, agent.pending_break)
            return
        agent.idle_since = self.now
        self._agent_event(agent, "available")
        self._route_agent(agent)

    # -- leaving the queue unanswered -------------------------------------------------------
    def _patience_ran_out(self, contact: _Contact, segment: int) -> None:
        if contact.segment != segment or contact.state not in ("waiting", "ringing"):
            return
        agent = contact.agent
        if agent is not None:  # hung up while it was ringing: the agent never left "available"
            contact.agent, agent.contact = None, None
        else:
            self.waiting[contact.queue.queue_id].remove(contact)
        contact.state = "done"
        self._emit("contact.abandoned", contact_id=contact.contact_id)
        if (self.callback_queue is not None and contact.queue.channel == "voice"
                and contact.queue is not self.callback_queue and self.xrng.random() < 0.1):
            self._enqueue_callback(contact)  # left a callback request on the way out
        self._after_service(contact.customer_id, happy=False)
        if self.rng.random() < contact.model.retry_after_abandon:
            self._at(self.rng.uniform(120, 1800), self._new_contact, self._home(contact), contact.customer_id,
                     drains=False)
        if agent is not None:
            if agent.pending_break is not None:
                self._go_away(agent, agent.pending_break)
            else:
                self._route_agent(agent)

    def _offer_callback(self, contact: _Contact, segment: int) -> None:
        if contact.segment != segment or contact.state != "waiting":
            return
        if self.rng.random() < contact.model.callback_acceptance:
            self.waiting[contact.queue.queue_id].remove(contact)
            contact.state = "done"
            self._emit("contact.flowed_out", contact_id=contact.contact_id, reason="callback")
            if self.callback_queue is not None:
                self._enqueue_callback(contact)

    # -- breaks -----------------------------------------------------------------------------
    def _break_due(self, agent: _Agent) -> None:
        reason = "lunch" if agent.breaks_taken % 3 == 1 else "break"
        if agent.state == "available" and agent.contact is None:
            self._go_away(agent, reason)
        else:
            agent.pending_break = reason  # taken after the current contact

    def _go_away(self, agent: _Agent, reason: str) -> None:
        agent.pending_break = None
        self._agent_event(agent, "away", reason)
        length = self.rng.uniform(28 * 60, 32 * 60) if reason == "lunch" else self.rng.uniform(10 * 60, 15 * 60)
        self._at(length, self._back_from_break, agent)

    def _back_from_break(self, agent: _Agent) -> None:
        agent.breaks_taken += 1
        agent.idle_since = self.now
        self._agent_event(agent, "available")
        self._at(self.rng.uniform(80 * 60, 140 * 60), self._break_due, agent, drains=False)
        self._route_agent(agent)

    # -- after the contact ------------------------------------------------------------------
    def _survey(self, contact: _Contact, agent_id: str, happy: bool) -> None:
        rng = self.rng
        kind = rng.choices([k for k, _ in _SURVEY_KINDS], weights=[w for _, w in _SURVEY_KINDS])[0]
        scores, good, bad = _SURVEY_WEIGHTS[kind]
        score = rng.choices(scores, weights=good if happy else bad)[0]
        comment = rng.choice(_COMMENTS[happy]) if rng.random() < 0.15 else None
        self._emit("survey.responded", contact_id=contact.contact_id, survey=kind, score=score, comment=comment,
                   agent_id=agent_id, queue_id=contact.queue.queue_id)
        self._after_service(contact.customer_id, happy=happy)

    # -- customers (``customer_events``) ------------------------------------------------------
    _PLANS = {"basic": ("basic-monthly", 12.0), "premium": ("premium-monthly", 29.0)}

    def _customer_event(self, event_type: str, at: datetime, customer_id: str, **fields: Any) -> None:
        self._customer_events += 1
        if self._plain_stamps:
            stamped, text, name = (at - self.start).total_seconds(), at.isoformat(timespec="microseconds"), SOURCE
        else:
            stamped, text = self._stamp_of("crm", (at - self.start) / timedelta(microseconds=1) / 1e6)
            name = f"{SOURCE}/crm" if self.config.skew else SOURCE
        self._out.append((self.now, stamped, "crm", {
            "event_id": f"cev-{self.tag}-{self._customer_events:07d}", "type": event_type, "occurred_at": text,
            "source": name, "customer_id": customer_id, **fields}))

    def _subscription(self, event_type: str, at: datetime, customer_id: str, tier: str) -> None:
        plan, mrr = self._PLANS[tier]
        self._customer_event(event_type, at, customer_id, plan=plan, tier=tier, mrr=mrr, currency=self.config.currency)
        self.subscribed[customer_id] = tier

    def _customer_history(self) -> None:
        """Before the start: most of the pool subscribed at some time in the last three years; some changed
        tier, some left again, some bought things. Events in the past are fine on the customer topic (no
        lateness bound there); they come first, in time order."""
        rng, history = self.crng, []
        for n in range(1, self.config.customers + 1):
            customer = f"cust-{n:05d}"
            if rng.random() >= 0.8:
                continue
            since = rng.uniform(0, 3 * 365 * 86400)
            tier = "premium" if rng.random() < 0.3 else "basic"
            history.append((since, 0, customer, "customer.subscription_started", tier))
            if rng.random() < 0.2:
                history.append((rng.uniform(0, since), 1, customer, "customer.subscription_changed",
                                "basic" if tier == "premium" else "premium"))
            if rng.random() < 0.25:
                history.append((rng.uniform(0, since), 3, customer, "customer.subscription_cancelled", None))
            for _ in range(rng.randrange(5)):
                history.append((rng.uniform(0, since), 2, customer, "customer.purchase", None))
        for ago, _, customer, kind, tier in sorted(history, key=lambda h: (-h[0], h[1], h[2])):
            at = self.start - timedelta(seconds=round(ago))
            if kind == "customer.subscription_cancelled":
                self._customer_event(kind, at, customer)
                self.subscribed.pop(customer, None)
            elif kind == "customer.purchase":
                self._customer_event(kind, at, customer, amount=round(rng.uniform(5, 80), 2), currency=self.config.currency)
            elif kind == "customer.subscription_changed" and customer not in self.subscribed:
                continue  # its cancellation came first
            else:
                self._subscription(kind, at, customer, tier)

    def _after_service(self, customer_id: str | None, happy: bool) -> None:
        """A customer reacts to the service it got (soon, so a demo shows it): after a bad experience a
        subscriber may cancel; after a good one a basic subscriber may upgrade, anyone may buy or subscribe."""
        if not self.customers_on or customer_id is None:
            return
        rng = self.crng
        if not happy:
            if customer_id in self.subscribed and rng.random() < 0.08:
                self.subscribed.pop(customer_id)  # decided now: no second cancellation in the meantime
                self._at(rng.uniform(300, 3600), self._cancel, customer_id, drains=False)
            return
        moment = self.start + timedelta(microseconds=round(self.now * 1e6))
        draw = rng.random()
        if customer_id not in self.subscribed:
            if draw < 0.03:
                self._subscription("customer.subscription_started", moment, customer_id, "basic")
        elif self.subscribed[customer_id] == "basic" and draw < 0.02:
            self._subscription("customer.subscription_changed", moment, customer_id, "premium")
        elif draw < 0.10:
            self._customer_event("customer.purchase", moment, customer_id, amount=round(rng.uniform(5, 80), 2),
                                 currency=self.config.currency)

    def _cancel(self, customer_id: str) -> None:
        moment = self.start + timedelta(microseconds=round(self.now * 1e6))
        self._customer_event("customer.subscription_cancelled", moment, customer_id, reason="service")

    def _qa(self, contact_id: str, agent_id: str) -> None:
        score = round(min(100.0, max(0.0, self.rng.gauss(84, 9))), 1)
        self._emit("qa.evaluated", contact_id=contact_id, agent_id=agent_id, score=score,
                   evaluator_id=f"qa-lead-{self.rng.randint(1, 3)}")


def generate(config: SimConfig) -> Iterator[dict[str, Any]]:
    """Contract events (JSON-ready dicts, ``None`` fields omitted) in non-decreasing event time
    (except, with ``customer_events``, the customers' history before the start, which comes first).

    With ``skew`` or ``resolution`` the timestamps are those the sources write (a later event may be
    stamped earlier than one of another source); with ``disorder_seconds`` or ``duplicate_rate`` the
    events come in delivery order, up to ``disorder_seconds`` behind their timestamps.

    Deterministic: the same config gives the same events, ids included. Endless when
    ``config.duration_seconds`` is None.
    """
    return (event for event, _ in deliveries(config))


def deliveries(config: SimConfig) -> Iterator[tuple[dict[str, Any], bool]]:
    """(event, is a duplicate) in the order a consumer receives them (see :func:`generate`)."""
    happenings = _Simulation(config).run()
    if not config.disorder_seconds and not config.duplicate_rate:
        return ((event, False) for _, _, _, event in happenings)
    return _deliver(happenings, config)


def _deliver(happenings: Iterator[tuple[float, float, str, dict[str, Any]]],
             config: SimConfig) -> Iterator[tuple[dict[str, Any], bool]]:
    """Out-of-order delivery and duplicates, never beyond ``disorder_seconds`` behind a timestamp.

    Each event leaves its source a random delay (< ``disorder_seconds``) after its timestamp, but a
    source keeps its own order for one entity (a producer's messages to a partition stay in order,
    which is what the producer-order rule relies on); the sources interleave as they happen to. A
    duplicate is a retry: the same event again, later, within the same bound. So when an event
    arrives the newest timestamp seen so far is at most ``disorder_seconds`` ahead of its own, and
    a disorder within ``CCPULSE_LATENESS_SECONDS`` never makes an event late.
    """
    rng = random.Random(f"{config.seed}|delivery")
    spread, rate = config.disorder_seconds, config.duplicate_rate
    # A later happening is never stamped more than this before its true time: any pending event
    # due before ``true time + ahead`` can go, no later happening will come before it.
    res = config.resolution
    coarsest = max(res.values(), default=0.0) if isinstance(res, Mapping) else res
    ahead = min([0.0, *config.skew.values()]) - coarsest
    pending: list[tuple[float, int, dict[str, Any], bool]] = []
    last: dict[tuple[str, bytes], float] = {}  # (source, entity) -> its latest delivery time
    seq = itertools.count()
    for n, (true, stamped, source, event) in enumerate(happenings):
        due = true + ahead
        while pending and pending[0][0] < due:
            _, _, out, duplicate = heapq.heappop(pending)
            yield out, duplicate
        at = stamped + rng.uniform(0.0, spread) if spread else stamped
        ident = (source, _entity_key(event))
        at = max(at, last.get(ident, at))
        last[ident] = at
        heapq.heappush(pending, (at, next(seq), event, False))
        if rate and rng.random() < rate:
            again = rng.uniform(at, stamped + spread) if stamped + spread > at else at
            heapq.heappush(pending, (again, next(seq), event, True))
        if n % 4096 == 4095:  # an entity whose last delivery is behind ``due`` constrains nothing more
            last = {k: v for k, v in last.items() if v >= due}
    while pending:
        _, _, out, duplicate = heapq.heappop(pending)
        yield out, duplicate


# ---- writers --------------------------------------------------------------------------------
@dataclass
class SimSummary:
    """What a simulator run sent, for the progress lines and the final one-line summary."""

    destination: str
    events: int = 0
    contacts: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    clock: str | None = None  # event time of the last event sent
    interrupted: bool = False

    def count(self, event: dict[str, Any], duplicate: bool = False) -> None:
        self.events += 1
        self.clock = event["occurred_at"]
        if duplicate:
            self.duplicates += 1
        elif event["type"] == "contact.queued":
            # Contact ids end with the contact's number: transfers, callbacks and re-queues of one
            # contact (more contact.queued) and disorder leave the count right.
            self.contacts = max(self.contacts, int(event["contact_id"].rsplit("-", 1)[1]))

    def line(self) -> str:
        stopped = " (stopped)" if self.interrupted else ""
        dups = f", {self.duplicates:,} of them duplicates" if self.duplicates else ""
        return (f"ccpulse simulate: sent {self.events:,} events ({self.contacts:,} contacts{dups}) in "
                f"{self.seconds:.1f} s to {self.destination}{stopped}")


Progress = Callable[[SimSummary], None]


class _Ticker:
    """Calls ``progress`` every ``PROGRESS_SECONDS`` at first, then every 30 s: a real-time
    run shares the demo's terminal for hours and must not flood it."""

    def __init__(self, summary: SimSummary, progress: Progress | None) -> None:
        self.summary, self.progress = summary, progress
        self.started = self.last = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        self.summary.seconds = now - self.started
        interval = PROGRESS_SECONDS if self.summary.seconds < 60 else 6 * PROGRESS_SECONDS
        if self.progress is not None and now - self.last >= interval:
            self.last = now
            self.progress(self.summary)


def _entity_key(event: dict[str, Any]) -> bytes:
    """``schemas.events.entity_key`` for a generated dict, without validating it again."""
    kind = event["type"]
    if kind == "agent.state_changed":
        return event["agent_id"].encode()
    return (event["customer_id"] if kind.startswith("customer.") else event["contact_id"]).encode()


def simulate_to_file(config: SimConfig, path: str | Path, progress: Progress | None = None) -> SimSummary:
    """Write the simulation as JSONL (one contract event per line) as fast as possible.

    An endless config runs until Ctrl-C; the file then holds everything generated so far.
    """
    summary = SimSummary(destination=str(path))
    ticker = _Ticker(summary, progress)
    with open(path, "wb") as out:
        try:
            for n, (event, duplicate) in enumerate(deliveries(config)):
                out.write(orjson.dumps(event) + b"\n")
                summary.count(event, duplicate)
                if n % 256 == 0:
                    ticker.tick()
        except KeyboardInterrupt:
            summary.interrupted = True
    ticker.tick()
    return summary


class _Pacer:
    """Maps event time to wall time at ``speed``× (0 or inf: no waiting).

    Pacing starts at the first event. When that event lies in the last two minutes (the
    default start is "now, rounded down to the minute") the clock is anchored at *now*,
    so the backlog is sent at once and, at speed 1, event time tracks the wall clock.
    """

    def __init__(self, speed: float) -> None:
        self.fast = not (speed > 0 and math.isfinite(speed))
        self.speed = speed
        self.anchor: tuple[float, float] | None = None  # (event time, monotonic time)

    def delay(self, occurred_at: str) -> float:
        if self.fast:
            return 0.0
        at = datetime.fromisoformat(occurred_at).timestamp()
        if self.anchor is None:
            now = time.time()
            self.anchor = (now if at <= now <= at + 120 else at, time.monotonic())
        event_anchor, wall_anchor = self.anchor
        return wall_anchor + (at - event_anchor) / self.speed - time.monotonic()


async def simulate_to_kafka(settings: Settings, config: SimConfig, speed: float, servers: str,
                            progress: Progress | None = None) -> SimSummary:
    """Send the simulation to Kafka, paced at ``speed``× event time (0/inf: as fast as possible).

    Each event goes to its contract topic keyed by its entity id. Cancellation (Ctrl-C
    under ``asyncio.run``) ends the run: pending messages are flushed and the summary
    of what was sent is returned. Raises :class:`ccpulse.kafka.KafkaUnreachable`.
    """
    from aiokafka.errors import KafkaError

    from ccpulse.kafka import KafkaUnreachable, ensure_topics, start_producer, topic_for_type

    await ensure_topics(settings, servers)
    producer = await start_producer(servers)
    summary = SimSummary(destination=servers)
    ticker, pacer = _Ticker(summary, progress), _Pacer(speed)
    pending: list[asyncio.Future[Any]] = []
    topics = {t: topic_for_type(settings, t) for t in ("contact.queued", "agent.state_changed", "survey.responded")}
    try:
        try:
            history_until = config.start.timestamp()
            for event, duplicate in deliveries(config):
                history = event["type"].startswith("customer.") and (
                    datetime.fromisoformat(event["occurred_at"]).timestamp() < history_until)
                delay = 0.0 if history else pacer.delay(event["occurred_at"])  # the customer history: at once
                while delay > 0:  # sleep in slices so progress keeps coming in quiet periods
                    await asyncio.sleep(min(delay, PROGRESS_SECONDS))
                    ticker.tick()
                    delay = pacer.delay(event["occurred_at"])
                kind = event["type"]
                topic = topics.get(kind) or topics.setdefault(kind, topic_for_type(settings, kind))
                pending.append(await producer.send(topic, orjson.dumps(event), key=_entity_key(event)))
                summary.count(event, duplicate)
                if len(pending) >= 1000:
                    await asyncio.gather(*pending)
                    pending.clear()
                ticker.tick()
            await asyncio.gather(*pending)
        except (asyncio.CancelledError, KeyboardInterrupt):
            summary.interrupted = True
        finally:
            await producer.stop()  # flushes what is still buffered
    except KafkaError as exc:
        raise KafkaUnreachable(servers) from exc
    ticker.tick()
    return summary


# ---- CLI ------------------------------------------------------------------------------------
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``3d`` or plain seconds → seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)\s*", text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 90s, 15m, 2h, 3d or seconds")
    return float(match[1]) * _UNITS.get(match[2] or "s", 1)


def parse_mmc(text: str) -> MmcConfig:
    """``RATE,AHT,AGENTS`` (arrivals per hour, mean handle seconds, agents) → :class:`MmcConfig`."""
    try:
        rate, aht, agents = (part.strip() for part in text.split(","))
        return MmcConfig(float(rate), float(aht), int(agents))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid --mmc {text!r}: use RATE,AHT,AGENTS, e.g. 120,300,12 (per hour, seconds, agents)") from None


def _parse_start(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid --start {text!r}: use ISO 8601, e.g. 2026-11-23T08:00:00+01:00") from None


def parse_speed(text: str) -> float:
    """``--speed`` of simulate and replay: a non-negative number; 0 and ``inf`` mean no pacing."""
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid --speed {text!r}: a number, e.g. 1, 60, 0 (as fast as possible)") from None
    if speed < 0 or math.isnan(speed):
        raise argparse.ArgumentTypeError("--speed must not be negative")
    return speed


_FINE_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}


def _seconds(text: str, what: str, signed: bool = False) -> float:
    """``1s``, ``250ms``, ``-0.3`` (seconds) → seconds."""
    sign = r"[+-]?" if signed else ""
    match = re.fullmatch(rf"\s*({sign}(?:\d+(?:\.\d*)?|\.\d+))\s*(s|ms|us|µs)?\s*", text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: use e.g. 1s, 250ms or seconds")
    return float(match[1]) * _FINE_UNITS[match[2] or "s"]


def _per_source(text: str, what: str, signed: bool) -> dict[str, float]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in SOURCE_NAMES:
            raise argparse.ArgumentTypeError(
                f"invalid {what} {part!r}: use SOURCE=VALUE with SOURCE one of {', '.join(SOURCE_NAMES)}")
        out[name] = _seconds(value, what, signed)
    if not out:
        raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: e.g. desktop=-300ms,surveys=2s")
    return out


def parse_resolution(text: str) -> float | dict[str, float]:
    """``1s`` (every source) or ``acd=1s,desktop=1ms`` → seconds (per source)."""
    if "=" in text:
        return _per_source(text, "--resolution", signed=False)
    return _seconds(text, "--resolution")


def parse_skew(text: str) -> dict[str, float]:
    """``desktop=-300ms,surveys=2s`` → seconds each source's clock is ahead (negative: behind)."""
    return _per_source(text, "--skew", signed=True)


def parse_rate(text: str) -> float:
    """A share between 0 and 1: ``0.02`` or ``2%``."""
    try:
        rate = float(text[:-1]) / 100 if text.strip().endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid rate {text!r}: a share, e.g. 0.02 or 2%") from None
    if not 0 <= rate <= 1:
        raise argparse.ArgumentTypeError(f"invalid rate {text!r}: between 0 and 1 (0% and 100%)")
    return rate


#: ``--real-world``: what a typical platform writes. The ACD logs whole seconds; the desktop's clock
#: runs 400 ms behind it (behind, and by under a second: so the ordering rule's default 1 s tolerance
#: still covers every pair of events of one contact; see docs/events.md).
REAL_WORLD: dict[str, Any] = {
    "resolution": {"acd": 1.0, "desktop": 0.001, "surveys": 1.0, "qa": 1.0, "crm": 1.0},
    "skew": {"desktop": -0.4, "surveys": 2.0, "qa": -30.0},
    "disorder": 30.0,
    "duplicates": 0.01,
    "email_hours": True,
    "qa_delay": 5 * 86400.0,
    "callbacks": True,
    "requeues": 0.05,
    "bot": True,
    "agent_transfers": 0.05,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=None, help="random seed; same seed, same events (default 7)")
    parser.add_argument("--speed", type=parse_speed, default=1.0,
                        help="event time per wall time: 1 = real time, 60 = a minute per second, "
                             "0 or inf = as fast as possible (default 1; files are always written at full speed)")
    parser.add_argument("--duration", type=parse_duration, default=None,
                        help="simulated time of arrivals, e.g. 90s, 15m, 2h, 3d or seconds (default: endless, Ctrl-C stops)")
    parser.add_argument("--start", type=_parse_start, default=None,
                        help="simulated start time, ISO 8601 (default: now, rounded down to the minute; "
                             "without an offset: CCPULSE_TIMEZONE)")
    parser.add_argument("--output", "-o", type=Path, default=None, metavar="FILE",
                        help="write JSONL to FILE instead of sending to Kafka")
    parser.add_argument("--mmc", type=parse_mmc, default=None, metavar="RATE,AHT,AGENTS",
                        help="M/M/c mode: Poisson arrivals per hour, exponential handle time (s), fixed agents, no abandons")
    parser.add_argument("--customer-events", action="store_true",
                        help="also customer events (subscriptions, purchases) for the contacts' customers: a history "
                             "before the start, then churn after bad service (currency: CCPULSE_RETENTION__CURRENCY)")
    real = parser.add_argument_group(
        "real-world streams", "Write what real platforms write. Sources: acd (queued, answered, abandoned, flowed_out, "
        "agent states), desktop (transferred, hold, ended, wrapped_up), surveys, qa, crm (customer events).")
    real.add_argument("--real-world", action="store_true",
                      help="all of the below at typical values: --resolution acd=1s,desktop=1ms,surveys=1s,qa=1s,crm=1s "
                           "--skew desktop=-400ms,surveys=2s,qa=-30s --disorder 30s --duplicates 1%% --email-hours "
                           "--qa-delay 5d --callbacks --requeues 5%% --bot --agent-transfers 5%% (each can be overridden)")
    real.add_argument("--resolution", type=parse_resolution, default=None, metavar="1s|SOURCE=1s,...",
                      help="truncate timestamps to whole seconds (1s), milliseconds (1ms), ...: for every source, or per "
                           "source as acd=1s,desktop=1ms (default: microseconds)")
    real.add_argument("--skew", type=parse_skew, default=None, metavar="SOURCE=SECONDS,...",
                      help="per-source clock skew, e.g. desktop=-300ms,surveys=2s (negative: the clock is behind); "
                           "events then carry source ccpulse-simulate/SOURCE. With whole-second timestamps, keep the "
                           "other sources behind the whole-second one by under a second, or raise "
                           "CCPULSE_SKEW_TOLERANCE_SECONDS")
    real.add_argument("--disorder", type=parse_duration, default=None, metavar="DURATION",
                      help="out-of-order delivery: each event arrives up to DURATION after its timestamp (each source "
                           "keeps its own order per contact/agent); at most CCPULSE_LATENESS_SECONDS")
    real.add_argument("--duplicates", type=parse_rate, default=None, metavar="RATE",
                      help="share of events sent twice (same event_id, later, within --disorder), e.g. 0.01 or 1%%")
    real.add_argument("--email-hours", action="store_true", default=None,
                      help="email is worked only in the email queues' business hours (default Mon-Fri 08:00-18:00, "
                           "CCPULSE_CHANNELS__EMAIL__BUSINESS_HOURS): emails wait across nights and weekends")
    real.add_argument("--qa-delay", type=parse_duration, default=None, metavar="DURATION",
                      help="QA is scored between half of DURATION and DURATION after the contact, e.g. 5d (default "
                           "15 min-3 h); late evaluations are written after the last contact, agents logged off")
    real.add_argument("--callbacks", action="store_true", default=None,
                      help="callback requests (accepted offers, some abandons) wait in the queue 'callbacks', queued in "
                           "the same second as the flow-out or abandon, until a voice agent calls back")
    real.add_argument("--requeues", type=parse_rate, default=None, metavar="RATE",
                      help="share of offers that ring unanswered: the contact is queued again into the same queue "
                           "(the same wait goes on) and the agent is away for a minute")
    real.add_argument("--bot", action="store_true", default=None,
                      help="voice contacts first meet a bot (agent bot-ivr) in the queue 'ivr', which hands them "
                           "to their queue, a third of them in under a second")
    real.add_argument("--agent-transfers", type=parse_rate, default=None, metavar="RATE",
                      help="share of answered contacts an agent transfers to a free colleague of the queue "
                           "(contact.transferred with to_agent_id)")


def _config(args: argparse.Namespace, settings: Settings) -> SimConfig:
    kwargs: dict[str, Any] = {"zone": settings.zone, "duration_seconds": args.duration, "mmc": args.mmc,
                              "customer_events": getattr(args, "customer_events", False),
                              "currency": settings.retention.currency}
    kwargs.update(_real_world(args, settings))
    if args.seed is not None:
        kwargs["seed"] = args.seed
    if args.start is not None:
        kwargs["start"] = args.start if args.start.tzinfo else args.start.replace(tzinfo=settings.zone)
    return SimConfig(**kwargs)


def _real_world(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """SimConfig fields of the real-world options (``--real-world`` values, overridden one by one)."""
    chosen = dict(REAL_WORLD) if getattr(args, "real_world", False) else {}
    for name in REAL_WORLD:
        value = getattr(args, name, None)
        if value is not None:
            chosen[name] = value
    out: dict[str, Any] = {}
    if "resolution" in chosen:
        out["resolution"] = chosen["resolution"]
    if "skew" in chosen:
        out["skew"] = chosen["skew"]
    if "disorder" in chosen:
        if chosen["disorder"] > settings.lateness_seconds:
            raise ValueError(f"--disorder {chosen['disorder']:g}s is beyond the lateness bound "
                             f"(CCPULSE_LATENESS_SECONDS={settings.lateness_seconds:g}): such events would be rejected "
                             "as late; use a shorter --disorder or raise the bound")
        out["disorder_seconds"] = chosen["disorder"]
    if "duplicates" in chosen:
        out["duplicate_rate"] = chosen["duplicates"]
    if chosen.get("email_hours"):
        email = next((q.queue_id for q in DEFAULT_QUEUES if q.channel == "email"), "email")
        out["email_hours"] = BusinessClock(settings.queue(email, "email").business_hours.calendar(), settings.timezone)
    if "qa_delay" in chosen:
        out["qa_delay_seconds"] = chosen["qa_delay"]
    if chosen.get("callbacks"):
        out["callbacks"] = True
    if "requeues" in chosen:
        out["requeue_rate"] = chosen["requeues"]
    if chosen.get("bot"):
        out["bot"] = True
    if "agent_transfers" in chosen:
        out["agent_transfer_rate"] = chosen["agent_transfers"]
    return out


def _progress_printer() -> Progress:
    last = {"events": 0, "at": time.monotonic()}

    def show(summary: SimSummary) -> None:
        now = time.monotonic()
        rate = (summary.events - last["events"]) / max(1e-9, now - last["at"])
        last.update(events=summary.events, at=now)
        clock = (summary.clock or "-")[:19].replace("T", " ")
        print(f"ccpulse simulate: {summary.events:,} events, {summary.contacts:,} contacts, "
              f"clock {clock}, {rate:,.{0 if rate >= 10 else 1}f} events/s", file=sys.stderr, flush=True)

    return show


async def until_signalled(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` with SIGINT and SIGTERM cancelling it, so that Ctrl-C, ``kill`` and
    ``docker stop`` all end a run with its summary (even where SIGINT was inherited ignored)."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            pass
    try:
        return await coro
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Let ``kill``/``docker stop`` end a synchronous run like Ctrl-C does (with its summary)."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def quiet_kafka_logs(settings: Settings) -> None:
    """aiokafka logs every failed connection attempt; the CLI reports its own one-line errors."""
    if settings.log_level != "debug":
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """``ccpulse simulate``: exit 0 when done or stopped with Ctrl-C, 2 on a usage or Kafka problem."""
    from ccpulse.kafka import KafkaUnreachable

    try:
        config = _config(args, settings)
    except ValueError as exc:
        print(f"ccpulse: {exc}", file=sys.stderr)
        return 2
    if config.duration_seconds is None:
        print("ccpulse simulate: endless run (use --duration to stop by itself); Ctrl-C stops it", file=sys.stderr)
    try:
        if args.output is not None:
            with _sigterm_interrupts():
                summary = simulate_to_file(config, args.output, _progress_printer())
        else:
            quiet_kafka_logs(settings)
            summary = asyncio.run(until_signalled(
                simulate_to_kafka(settings, config, args.speed, settings.kafka_servers, _progress_printer())))
    except asyncio.CancelledError:  # stopped while still connecting: nothing was sent
        return 130
    except KafkaUnreachable as exc:
        print(f"ccpulse: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ccpulse: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(summary.line(), file=sys.stderr, flush=True)
    return 0
