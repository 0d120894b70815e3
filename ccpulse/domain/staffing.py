"""Erlang C staffing predictions: how many agents an interval's load needs.

The live metrics in :mod:`ccpulse.domain.formulas` *measure* what happened;
this module *predicts* what a given staffing would achieve, using the Erlang C
(M/M/n queue, no abandonment) model that workforce planners use:

* traffic ``A = λ · AHT`` Erlang (λ arrivals per second, AHT seconds),
* ``C(A, n)``: probability an arriving contact has to wait with ``n`` agents,
* service level ``1 − C · exp(−(n − A) · T / AHT)`` within a threshold ``T``,
* average speed of answer ``C · AHT / (n − A)``.

Erlang C overstates the need a little when callers abandon (abandoning callers
free the queue) and ignores shrinkage (breaks, training); callers that staff
real schedules add shrinkage on top of :func:`agents_required`.

Everything here is pure and standard-library only. ``C`` is computed with the
Erlang B recursion rather than ``A**n / n!`` so it neither overflows nor loses
precision for thousands of agents (``48**171`` already overflows a float).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "agents_required",
    "asa_erlang_c",
    "erlang_c",
    "occupancy",
    "service_level_erlang_c",
    "staffing_for_interval",
]


def _check_traffic(traffic_erlangs: float) -> None:
    if not math.isfinite(traffic_erlangs) or traffic_erlangs < 0:
        raise ValueError(f"traffic must be a finite number of Erlang >= 0, got {traffic_erlangs!r}")


def _check_agents(agents: int) -> None:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 0:
        raise ValueError(f"agents must be an int >= 0, got {agents!r}")


def _erlang_b_step(traffic: float, agents: int, previous_b: float) -> float:
    """One step of the Erlang B recursion: ``B(n)`` from ``B(n−1)``.

    Every term stays in (0, 1], which is why the recursion is stable where the
    factorial form overflows.
    """
    a_b = traffic * previous_b
    return a_b / (agents + a_b)


def _erlang_c_from_b(traffic: float, agents: int, erlang_b: float) -> float:
    """Erlang C from Erlang B for the same ``A`` and ``n`` (requires ``n > A``).

    Shared by :func:`erlang_c` and the incremental search in
    :func:`agents_required` so both produce bit-identical values.
    """
    return agents * erlang_b / (agents - traffic * (1.0 - erlang_b))


def _service_level(c: float, traffic: float, agents: int, aht_seconds: float, threshold_seconds: float) -> float:
    """``1 − C·exp(−(n−A)·T/AHT)`` clamped to [0, 1] against rounding (requires ``n > A``)."""
    value = 1.0 - c * math.exp(-(agents - traffic) * threshold_seconds / aht_seconds)
    return min(1.0, max(0.0, value))


def erlang_c(traffic_erlangs: float, agents: int) -> float:
    """Probability that an arriving contact has to wait (Erlang C).

    Uses ``B(0) = 1``, ``B(n) = A·B(n−1) / (n + A·B(n−1))`` and then
    ``C = n·B / (n − A·(1 − B))``: O(n) time, no factorials, no overflow.

    With ``agents <= traffic`` the queue grows without bound, so every contact
    waits: 1.0. With zero traffic nobody ever waits: 0.0 (this is checked
    first, so ``erlang_c(0, 0)`` is 0.0, consistent with the service level
    being 1.0 and the ASA 0.0 for zero traffic).

    Raises ``ValueError`` for negative or non-finite traffic or a negative /
    non-integer number of agents: those are caller bugs, not "no answer".
    """
    _check_traffic(traffic_erlangs)
    _check_agents(agents)
    if traffic_erlangs == 0:
        return 0.0
    if agents <= traffic_erlangs:
        return 1.0
    b = 1.0
    for n in range(1, agents + 1):
        b = _erlang_b_step(traffic_erlangs, n, b)
    return _erlang_c_from_b(traffic_erlangs, agents, b)


def _traffic(arrival_rate_per_second: float, aht_seconds: float) -> float:
    if not math.isfinite(arrival_rate_per_second) or arrival_rate_per_second < 0:
        raise ValueError(f"arrival rate must be finite and >= 0, got {arrival_rate_per_second!r}")
    if not math.isfinite(aht_seconds) or aht_seconds <= 0:
        raise ValueError(f"AHT must be finite and > 0 seconds, got {aht_seconds!r}")
    return arrival_rate_per_second * aht_seconds


def service_level_erlang_c(
    arrival_rate_per_second: float,
    aht_seconds: float,
    agents: int,
    threshold_seconds: float,
) -> float:
    """Predicted share of contacts answered within ``threshold_seconds``.

    ``1 − C·exp(−(n − A)·T / AHT)``: a contact either does not wait (1 − C) or
    waits an exponential time with rate ``(n − A) / AHT``.

    1.0 for zero traffic (nobody waits); 0.0 when ``agents <= traffic``
    (unbounded queue: in the long run nobody is answered within any finite
    threshold). Always within [0, 1]. Raises ``ValueError`` for a negative
    rate or threshold, a non-positive AHT, or bad ``agents``.
    """
    traffic = _traffic(arrival_rate_per_second, aht_seconds)
    _check_agents(agents)
    if not math.isfinite(threshold_seconds) or threshold_seconds < 0:
        raise ValueError(f"threshold must be finite and >= 0 seconds, got {threshold_seconds!r}")
    if traffic == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return _service_level(erlang_c(traffic, agents), traffic, agents, aht_seconds, threshold_seconds)


def asa_erlang_c(arrival_rate_per_second: float, aht_seconds: float, agents: int) -> float | None:
    """Predicted average speed of answer in seconds: ``C·AHT / (n − A)``.

    The mean wait over *all* contacts (those answered at once count as 0).
    ``None`` when ``agents <= traffic``: the queue is unstable and the mean
    wait is unbounded, which no number would represent honestly. 0.0 for zero
    traffic. Raises ``ValueError`` like :func:`service_level_erlang_c`.
    """
    traffic = _traffic(arrival_rate_per_second, aht_seconds)
    _check_agents(agents)
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return None
    return erlang_c(traffic, agents) * aht_seconds / (agents - traffic)


def occupancy(traffic: float, agents: int) -> float | None:
    """Predicted agent occupancy ``A / n``: the share of staffed time spent handling.

    Capped at 1.0: with ``agents <= traffic`` every agent is busy all the time
    (the excess piles up in the queue, it does not make occupancy exceed 100%).
    ``None`` with no agents, since there is no staffed time to divide by.
    Raises ``ValueError`` for negative / non-finite traffic or bad ``agents``.
    """
    _check_traffic(traffic)
    _check_agents(agents)
    if agents == 0:
        return None
    return min(1.0, traffic / agents)


def agents_required(
    arrival_rate_per_second: float,
    aht_seconds: float,
    threshold_seconds: float,
    target: float,
    max_agents: int = 10000,
) -> int | None:
    """Smallest number of agents whose predicted service level reaches ``target``.

    Returns 0 when there is no traffic (nobody to answer). Returns ``None``
    rather than raising when the inputs cannot give an answer: non-finite or
    negative rate/threshold, AHT <= 0, a target outside (0, 1) (0 is met by
    any staffing and 1 by none), or no ``n <= max_agents`` reaches the target.

    The search starts at the smallest stable staffing, ``floor(A) + 1``
    (``ceil(A)``, plus one when ``A`` is an integer), and walks up one agent
    at a time, carrying the Erlang B value along: O(A + extra agents) in
    total instead of recomputing Erlang C from scratch for every candidate.
    Service level increases with ``n`` above ``A``, so the first ``n`` that
    meets the target is the minimum. Values are bit-identical to
    :func:`service_level_erlang_c` for the returned ``n`` and ``n − 1``.
    """
    if isinstance(max_agents, bool) or not isinstance(max_agents, int) or max_agents < 0:
        return None
    values = (arrival_rate_per_second, aht_seconds, threshold_seconds, target)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return None
    if arrival_rate_per_second < 0 or aht_seconds <= 0 or threshold_seconds < 0 or not 0 < target < 1:
        return None
    traffic = arrival_rate_per_second * aht_seconds
    if traffic == 0:
        return 0
    start = math.floor(traffic) + 1
    if start > max_agents:
        return None
    b = 1.0
    for n in range(1, start + 1):
        b = _erlang_b_step(traffic, n, b)
    n = start
    while True:
        c = _erlang_c_from_b(traffic, n, b)
        if _service_level(c, traffic, n, aht_seconds, threshold_seconds) >= target:
            return n
        if n >= max_agents:
            return None
        n += 1
        b = _erlang_b_step(traffic, n, b)


def staffing_for_interval(
    offered: int,
    interval_seconds: float,
    handled: int,
    handle_seconds_total: float,
    threshold_seconds: float,
    target: float,
) -> dict[str, Any]:
    """Erlang C staffing for one interval's observed load.

    The arrival rate comes from ``offered`` over the interval and AHT from the
    contacts ``handled`` in it (``handle_seconds_total / handled``). Returns::

        {"arrival_rate_per_hour", "aht_seconds", "traffic_erlangs",
         "agents_required", "predicted_service_level", "predicted_asa_seconds"}

    with ``None`` wherever a value is undefined, following the rest of
    ccpulse ("unknown" is not 0):

    * no handled contacts: AHT unknown, so traffic and the staffing are too —
      unless nothing was offered, in which case the load is 0 whatever the AHT
      and 0 agents are required (predicted service level 1.0, ASA 0.0);
    * AHT of 0 seconds, a target outside (0, 1), or more than 10 000 agents
      needed: ``agents_required`` and the predictions are ``None``.

    Raises ``ValueError`` for negative counts or handle time or a
    non-positive interval length (caller bugs).
    """
    if offered < 0 or handled < 0:
        raise ValueError(f"offered and handled must be >= 0, got {offered!r}, {handled!r}")
    if not math.isfinite(interval_seconds) or interval_seconds <= 0:
        raise ValueError(f"interval length must be > 0 seconds, got {interval_seconds!r}")
    if not math.isfinite(handle_seconds_total) or handle_seconds_total < 0:
        raise ValueError(f"handle time must be finite and >= 0 seconds, got {handle_seconds_total!r}")

    rate_per_second = offered / interval_seconds
    aht = handle_seconds_total / handled if handled > 0 else None
    result: dict[str, Any] = {
        "arrival_rate_per_hour": rate_per_second * 3600.0,
        "aht_seconds": aht,
        "traffic_erlangs": None,
        "agents_required": None,
        "predicted_service_level": None,
        "predicted_asa_seconds": None,
    }
    if offered == 0:
        result.update(
            traffic_erlangs=0.0,
            agents_required=0,
            predicted_service_level=1.0,
            predicted_asa_seconds=0.0,
        )
        return result
    if aht is None:
        return result
    result["traffic_erlangs"] = rate_per_second * aht
    agents = agents_required(rate_per_second, aht, threshold_seconds, target)
    if agents is None:
        return result
    result.update(
        agents_required=agents,
        predicted_service_level=service_level_erlang_c(rate_per_second, aht, agents, threshold_seconds),
        predicted_asa_seconds=asa_erlang_c(rate_per_second, aht, agents),
    )
    return result
