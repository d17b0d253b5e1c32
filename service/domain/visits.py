"""Deviations of visits from the agreement's limits (§1.5).

A visit that breaks a limit happened all the same: it is stored and flagged, so finance
and the hospital can see it. Flags are derived from the stored visits, never stored, so a
correction of the course dates re-flags visits without rewriting them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from service.domain.scope import MAX_MINUTES_PER_ADMINISTRATION, MAX_VISITS_PER_DAY, within_daytime
from service.domain.vocabulary import Deviation

# The deviations by name, for the rules that flag them (the type checker holds them to
# the vocabulary).
OUTSIDE_HOURS: Final[Deviation] = "outside_hours"
OVER_60_MINUTES: Final[Deviation] = "over_60_minutes"
OVER_4_VISITS: Final[Deviation] = "over_4_visits_per_day"
OUTSIDE_COURSE_DATES: Final[Deviation] = "outside_course_dates"


@dataclass(frozen=True)
class VisitFacts:
    """What the deviation rules need to know of one stored visit."""

    id: str
    local_start: datetime  # in Europe/Copenhagen
    duration_minutes: int


def visit_deviations(
    visits: Sequence[VisitFacts], start_date: date, end_date: date | None
) -> dict[str, list[str]]:
    """Deviation codes per visit id for one course's visits.

    The 5th and later visit of a local day (by start time, then id) is flagged, not the
    first four; a visit outside [start_date, end_date] is flagged after a correction.
    """
    flags: dict[str, list[str]] = {v.id: [] for v in visits}
    by_day: dict[date, list[VisitFacts]] = defaultdict(list)
    for v in visits:
        by_day[v.local_start.date()].append(v)
        if not within_daytime(v.local_start.time().replace(tzinfo=None)):
            flags[v.id].append(OUTSIDE_HOURS)
        if v.duration_minutes > MAX_MINUTES_PER_ADMINISTRATION:
            flags[v.id].append(OVER_60_MINUTES)
        day = v.local_start.date()
        if day < start_date or (end_date is not None and day > end_date):
            flags[v.id].append(OUTSIDE_COURSE_DATES)
    for day_visits in by_day.values():
        ordered = sorted(day_visits, key=lambda v: (v.local_start, v.id))
        for extra in ordered[MAX_VISITS_PER_DAY:]:
            flags[extra.id].append(OVER_4_VISITS)
    return flags
