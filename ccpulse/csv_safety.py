"""CSV cells a spreadsheet shows as text (OWASP "CSV injection"): one rule for every CSV ccpulse writes
(API exports, reports, recompute diffs)."""

from __future__ import annotations

from typing import Any

__all__ = ["FORMULA_START", "csv_cell"]

#: What a spreadsheet reads as the start of a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell: a text starting like a formula gets a leading ``'``; numbers stay
    numbers (a negative MRR growth is -0.05, not text); null is empty."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
