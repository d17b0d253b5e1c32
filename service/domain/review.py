"""Review rules (kontrolregler) of a period's draft (pure): some warn, some hold.

Holding rules (`hold_reasons`) hold a course's lines out of an issue until the region
releases them; the lines are then owed like any late data.

`statement_rise`: a municipality's draft statement whose total is more than `percent` %
above the average of its last `months` issued statements is shown as a warning where the
period is approved. It is not held: a busy month is not an error, but finance should look
before approving. A municipality with no issued statement yet, or whose average is zero or
less (credits), gets no warning: there is no usual level to compare with.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal


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


# --- rules that hold a course's lines until the region releases them ----------------------

HoldRule = Literal[
    "far_from_expected_start",
    "back_dated",
    "completed_without_dose",
    "end_after_last_dose",
    "long_course",
    "split_course",
]


@dataclass(frozen=True)
class HoldRules:
    """The holding rules' thresholds (IVSETTLE_REVIEW_*); `enabled` False holds nothing."""

    enabled: bool = True
    expected_start_days: int = 14
    back_dated_months: int = 3
    end_after_dose_days: int = 2
    long_course_days: int = 90
    split_course_days: int = 7


@dataclass(frozen=True)
class HoldFacts:
    """What the rules read of one course (not cancelled: a cancellation only credits)."""

    course_id: str
    start_date: date
    end_date: date | None
    completed: bool
    expected_start_date: date
    registered_on: date
    """The local date the course was first registered (accepted)."""
    administered_visits: int
    last_administered_date: date | None
    previous_end_date: date | None
    """The latest end date of another course of the patient and type that ended on or
    before this one's start, if any."""


def hold_reasons(facts: HoldFacts, rules: HoldRules, through: date) -> list[HoldRule]:
    """The rules that hold the course, as of `through` (the period's last day): each fires
    strictly beyond its threshold."""
    if not rules.enabled:
        return []
    fired: list[HoldRule] = []
    if abs((facts.start_date - facts.expected_start_date).days) > rules.expected_start_days:
        fired.append("far_from_expected_start")
    if facts.registered_on > add_months(facts.start_date, rules.back_dated_months):
        fired.append("back_dated")
    if facts.completed and facts.administered_visits == 0:
        fired.append("completed_without_dose")
    if (
        facts.completed
        and facts.end_date is not None
        and facts.last_administered_date is not None
        and (facts.end_date - facts.last_administered_date).days > rules.end_after_dose_days
    ):
        fired.append("end_after_last_dose")
    last_day = facts.end_date if facts.end_date is not None else through
    if (last_day - facts.start_date).days + 1 > rules.long_course_days:
        fired.append("long_course")
    if (
        facts.previous_end_date is not None
        and (facts.start_date - facts.previous_end_date).days <= rules.split_course_days
    ):
        fired.append("split_course")
    return fired


def add_months(day: date, months: int) -> date:
    """`day` that many calendar months later, on the month's last day if it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


HOLD_EXPLANATIONS: dict[HoldRule, str] = {
    "far_from_expected_start": "Startdatoen ligger mere end {expected_start_days} dage fra "
    "hospitalets forventede start.",
    "back_dated": "Forløbet blev registreret mere end {back_dated_months} måneder efter "
    "startdatoen (tilbagedateret).",
    "completed_without_dose": "Forløbet er afsluttet, uden at der er registreret en givet dosis.",
    "end_after_last_dose": "Slutdatoen ligger mere end {end_after_dose_days} dage efter den "
    "sidste givne dosis.",
    "long_course": "Forløbet er længere end {long_course_days} dage.",
    "split_course": "Et forløb af samme type for samme borger sluttede højst "
    "{split_course_days} dage før dette startede (et delt forløb giver et ekstra forløbsgebyr).",
}


def hold_explanation(rule: HoldRule, rules: HoldRules) -> str:
    """The rule's Danish explanation with its threshold."""
    return HOLD_EXPLANATIONS[rule].format(**vars(rules))
