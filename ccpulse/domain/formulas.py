"""Every metric formula of ccpulse, each a pure function, each defined once.

docs/metrics.md carries the same definitions in a supervisor's words. A ratio
whose denominator is zero is ``None`` (shown as null / "–"), never 0 or 1:
"no contacts" is not "perfect service" nor "no service".
"""

from __future__ import annotations

__all__ = [
    "SL_FORMULAS",
    "abandon_rate",
    "ces_difficult",
    "ces_easy",
    "csat_dissatisfied",
    "csat_satisfied",
    "mean",
    "normalise_score",
    "nps_bucket",
    "nps_score",
    "occupancy",
    "ratio",
    "service_level",
    "utilization",
]


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when the denominator is not positive."""
    return numerator / denominator if denominator > 0 else None


def mean(total: float, count: float) -> float | None:
    """Mean from a sum and a count; ``None`` when there is nothing to average."""
    return ratio(total, count)


#: The per-queue service-level formulas. Keys are the values of ``QueueSettings.sl_formula``.
SL_FORMULAS: dict[str, str] = {
    "answered_within_over_answered_abandoned_minus_short": "answered_within / (answered + abandoned − short_abandoned)",
    "answered_within_over_answered_abandoned": "answered_within / (answered + abandoned)",
    "answered_within_over_answered": "answered_within / answered",
    "removed_within_over_answered_abandoned": "(answered_within + abandoned_within) / (answered + abandoned)",
}


def service_level(
    formula: str,
    *,
    answered: float,
    abandoned: float,
    short_abandoned: float,
    answered_within: float,
    abandoned_within: float,
) -> float | None:
    """Service level of a set of contacts under one of :data:`SL_FORMULAS`.

    ``answered_within``/``abandoned_within`` count contacts that were answered /
    abandoned with a wait at or below the queue's threshold.
    """
    if formula == "answered_within_over_answered_abandoned_minus_short":
        return ratio(answered_within, answered + abandoned - short_abandoned)
    if formula == "answered_within_over_answered_abandoned":
        return ratio(answered_within, answered + abandoned)
    if formula == "answered_within_over_answered":
        return ratio(answered_within, answered)
    if formula == "removed_within_over_answered_abandoned":
        return ratio(answered_within + abandoned_within, answered + abandoned)
    raise ValueError(f"unknown service-level formula {formula!r}; choose one of {', '.join(SL_FORMULAS)}")


def abandon_rate(*, answered: float, abandoned: float, short_abandoned: float) -> float | None:
    """Abandons that were not short, over contacts that were answered or (not short) abandoned."""
    return ratio(abandoned - short_abandoned, answered + abandoned - short_abandoned)


def occupancy(*, available: float, on_contact: float, after_contact_work: float) -> float | None:
    """Share of staffed time spent on contacts: (on contact + ACW) / (available + on contact + ACW)."""
    return ratio(on_contact + after_contact_work, available + on_contact + after_contact_work)


def utilization(*, available: float, on_contact: float, after_contact_work: float, away: float) -> float | None:
    """Share of logged-in time (away included) spent on contacts: (on contact + ACW) / logged in."""
    return ratio(on_contact + after_contact_work, available + on_contact + after_contact_work + away)


# ---- surveys -------------------------------------------------------------------------
def normalise_score(score: float, scale: tuple[int, int], target: tuple[int, int]) -> float:
    """Map ``score`` linearly from ``scale`` onto ``target`` (e.g. CES 1–5 onto 1–7)."""
    low, high = scale
    t_low, t_high = target
    return t_low + (score - low) * (t_high - t_low) / (high - low)


def _box(scale: tuple[int, int]) -> int:
    """How many points count as the top (or bottom) box: two on scales of 5+ points, else one.

    On a 2-point (thumbs up/down, 0–1) or 3-point scale a top-two box would hold every answer or
    the middle one too: "satisfied" would mean nothing.
    """
    return 2 if scale[1] - scale[0] + 1 >= 5 else 1


def csat_satisfied(score: int, scale: tuple[int, int]) -> bool:
    """Top box: one of the two highest points on scales of 5+ points (4–5 on 1–5), else the top point."""
    return score > scale[1] - _box(scale)


def csat_dissatisfied(score: int, scale: tuple[int, int]) -> bool:
    """Bottom box: one of the two lowest points on scales of 5+ points (1–2 on 1–5), else the lowest point."""
    return score < scale[0] + _box(scale)


def nps_bucket(score: int, scale: tuple[int, int]) -> str:
    """``promoter`` (top two points: 9–10), ``detractor`` (6 or below on 0–10/1–10) or ``passive``."""
    high = scale[1]
    if score >= high - 1:
        return "promoter"
    if score <= high - 4:
        return "detractor"
    return "passive"


def nps_score(*, promoters: float, detractors: float, responses: float) -> float | None:
    """Net Promoter Score = %promoters − %detractors, from −100 to 100."""
    if responses <= 0:
        return None
    return 100.0 * (promoters - detractors) / responses


def ces_easy(score: int, scale: tuple[int, int]) -> bool:
    """The answer lies in the top third of its scale ("easy"): 5–7 on 1–7, 4–5 on 1–5."""
    low, high = scale
    return (score - low) * 3 >= 2 * (high - low)



def ces_difficult(score: int, scale: tuple[int, int]) -> bool:
    """The answer lies in the bottom third of its scale ("difficult"): 1–3 on 1–7, 1–2 on 1–5."""
    low, high = scale
    return (score - low) * 3 <= high - low
