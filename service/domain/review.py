"""Review rules (kontrolregler) of a period's draft that warn without holding (pure).

`statement_rise`: a municipality's draft statement whose total is more than `percent` %
above the average of its last `months` issued statements is shown as a warning where the
period is approved. It is not held: a busy month is not an error, but finance should look
before approving. A municipality with no issued statement yet, or whose average is zero or
less (credits), gets no warning: there is no usual level to compare with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class StatementRise:
    """The rule's thresholds (IVSETTLE_REVIEW_RISE_PERCENT, IVSETTLE_REVIEW_RISE_MONTHS)."""

    percent: int = 50
    months: int = 6


@dataclass(frozen=True)
class RiseWarning:
    municipality_code: str
    total_ore: int
    average_ore: int
    """The average of the last issued statements, rounded down to the øre."""
    months: int
    """How many issued statements the average is of (at most the rule's `months`)."""


def statement_rise_warnings(
    totals: Mapping[str, int], history: Mapping[str, Sequence[int]], rule: StatementRise
) -> list[RiseWarning]:
    """The municipalities whose draft total (øre) is above their usual level: more than
    `rule.percent` % over the average of their last `rule.months` issued totals (`history`,
    newest first), in municipality order."""
    warnings = []
    for code, total in sorted(totals.items()):
        recent = list(history.get(code, ()))[: rule.months]
        if not recent:
            continue
        summed, n = sum(recent), len(recent)
        # total > (summed / n) × (1 + percent/100), in integers: exact at the threshold.
        if summed > 0 and total * 100 * n > summed * (100 + rule.percent):
            warnings.append(RiseWarning(code, total, summed // n, n))
    return warnings
