"""How a self-assessment is scored.

The score of an assessment is a percentage, 0 to 100:

    score = 100 × Σ (weight_m × value_m) / Σ weight_m

over the *active* measures m of the referential that are not answered "not applicable",
where

* weight_m is the measure's weight from the referential file (1 unless stated);
* value_m is the normalised value of the answer's level, between 0 and 1: the level's
  `value` in the referential's answer scale (for example "not done" 0, "partly done"
  0.5, "done" 1; for a CISO Assistant score scale from min to max, (score − min) /
  (max − min));
* an **unanswered measure counts as 0**: it is in the denominator with value 0, so an
  assessment that has just started scores 0 and the score only rises with answers;
* a measure answered **not applicable is left out** of both sums (it needs a reason);
* when every measure is not applicable (Σ weight = 0) there is no score (None).

The result is rounded half-up to two decimals. Example: three measures of weights 1, 1
and 2, answered "done" (1), "partly" (0.5) and unanswered: 100 × (1 + 0.5 + 0) / 4 =
37.5.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

HUNDRED = Decimal(100)
TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class MeasureResult:
    weight: Decimal
    # None: unanswered. Otherwise the level's normalised value (0..1).
    value: Decimal | None = None
    not_applicable: bool = False


@dataclass(frozen=True)
class Score:
    value: Decimal | None
    answered: int
    applicable: int
    not_applicable: int


def compute_score(results: Iterable[MeasureResult]) -> Score:
    total_weight = Decimal(0)
    earned = Decimal(0)
    answered = applicable = not_applicable = 0
    for result in results:
        if result.not_applicable:
            not_applicable += 1
            continue
        applicable += 1
        total_weight += result.weight
        if result.value is not None:
            answered += 1
            earned += result.weight * result.value
    if total_weight == 0:
        return Score(None, answered, applicable, not_applicable)
    value = (HUNDRED * earned / total_weight).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)
    return Score(value, answered, applicable, not_applicable)
