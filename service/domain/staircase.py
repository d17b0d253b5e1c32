"""The staircase (trappemodel, agreement §3.2): a course's tier by its position in the year.

Positions count the courses of the whole region in a calendar year (the year of the
course's start date). A course's position is fixed once, when it is first billed: at each
issue the courses that appear on a statement for the first time take the next positions of
their year, in order of (start date, creation time, course id). A position is never reused
and never changes, so nothing already counted is repriced and a late registration simply
takes its place at the end of its year's count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from service.domain.tariff import TIER_COUNT, tier_for_position

Thresholds = tuple[int, int]


@dataclass(frozen=True)
class StaircaseCandidate:
    """A course about to be billed for the first time."""

    course_id: str
    start_date: date
    created_at: datetime
    """When the course was created (timezone-aware); breaks ties between equal start dates."""

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError(f"course {self.course_id}: created_at must be timezone-aware")


@dataclass(frozen=True)
class Placement:
    """A course's fixed place on the staircase: its year, position and tier."""

    year: int
    position: int
    tier: int


class StaircaseStatus(NamedTuple):
    """Where a year's count stands: the tier a new course gets now, and how many more
    courses get that tier before the next one starts (None at the last tier)."""

    current_tier: int
    until_next_tier: int | None


def staircase_year(start_date: date) -> int:
    """§3.2 ("antal årlige IV-forløb"): a course counts in the calendar year of its start date."""
    return start_date.year


def placement_order(candidate: StaircaseCandidate) -> tuple[date, datetime, str]:
    """DESIGN "The staircase": new courses of one issue are counted by start date, then
    creation time, then course id, so the order never depends on how data arrived."""
    return (candidate.start_date, candidate.created_at, candidate.course_id)


def _thresholds_on(
    thresholds: Thresholds | Callable[[date], Thresholds], start_date: date
) -> Thresholds:
    return thresholds(start_date) if callable(thresholds) else thresholds


def assign_positions(
    new_courses: Sequence[StaircaseCandidate],
    next_free: Mapping[int, int],
    thresholds: Thresholds | Callable[[date], Thresholds],
) -> dict[str, Placement]:
    """§3.2 graduated tiers: give each course billed for the first time the next free
    position of its year, and the tier of that position.

    `next_free[year]` is the first unused position of a year (1 when absent). `thresholds`
    is either fixed or a function of the course's start date (the tier thresholds of the
    tariff version valid on that date). The caller stores the placements; positions taken
    here are never handed out again, even if the course is later cancelled.
    """
    seen: set[str] = set()
    for candidate in new_courses:
        if candidate.course_id in seen:
            raise ValueError(f"course {candidate.course_id} is a candidate twice")
        seen.add(candidate.course_id)

    cursor: dict[int, int] = {}
    placements: dict[str, Placement] = {}
    for candidate in sorted(new_courses, key=placement_order):
        year = staircase_year(candidate.start_date)
        if year not in cursor:
            cursor[year] = next_free.get(year, 1)
            if cursor[year] < 1:
                raise ValueError(f"the next free position of {year} must be 1 or more")
        position = cursor[year]
        cursor[year] = position + 1
        tier = tier_for_position(_thresholds_on(thresholds, candidate.start_date), position)
        placements[candidate.course_id] = Placement(year=year, position=position, tier=tier)
    return placements


def staircase_status(counted: int, thresholds: Thresholds) -> StaircaseStatus:
    """§3.2: with `counted` courses of the year placed so far, the tier the next course
    gets and how many courses (including that one) get it before the next tier starts."""
    if counted < 0:
        raise ValueError(f"a count of courses is 0 or more, not {counted}")
    current = tier_for_position(thresholds, counted + 1)
    if current == TIER_COUNT:
        return StaircaseStatus(current_tier=current, until_next_tier=None)
    return StaircaseStatus(current_tier=current, until_next_tier=thresholds[current - 1] - counted)
