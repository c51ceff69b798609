"""The anonymised export rule shared by the exports that compare establishments: a
figure that counts fewer than THRESHOLD establishments is suppressed (shown as
SUPPRESSED), zero included, because an empty cell also says something about the few
around it. The readiness observatory applies the same rule (readiness/observatory.py)."""

from __future__ import annotations

from typing import Any

THRESHOLD = 5
SUPPRESSED = "<5"


def anonymised(value: Any, *, support: int) -> str:
    """`value` as an anonymised export shows it, given how many establishments it counts."""
    if value is None:
        return ""
    if support < THRESHOLD:
        return SUPPRESSED
    return str(value)
