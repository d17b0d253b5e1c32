"""Monitoring per quarter (agreement §4.1; §4.2 follows the activity up every 3 months).

Pure: the repository hands in counts already grouped by the database (never patient rows),
and this module turns them into the figures, for each municipality and for the region. The
region's medians and percentiles are taken over the merged counts, never averaged from the
municipalities' figures.

What "in the quarter" means (Europe/Copenhagen local dates, first to last day inclusive):

- a referral counts when it was received (stored) in the quarter; its outcome is its status
  now (accepted, rejected with a reason, withdrawn, or still pending);
- a course counts as started when its start date is in the quarter, and as completed when
  its end date is (status completed); cancelled courses never count, nor do their visits;
- a visit counts when its local date is in the quarter; an *administration* is a visit with
  the dose given (`administered`).

Percentiles are nearest-rank: the p-th percentile of N values is the value at rank
ceil(p/100 x N) in ascending order. The median is the 50th: for an even N the lower of the
two middle values, so always a value that occurred (whole minutes, whole days).

Exceptions (a `DomainError` with a stable `code`):

    InvalidQuarter   "invalid_quarter": not a quarter written YYYYQn (also a ValueError)
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import ClassVar, Protocol, TypeVar

from service.domain.scope import MAX_MINUTES_PER_ADMINISTRATION, MAX_VISITS_PER_DAY
from service.domain.tariff import DomainError
from service.domain.visits import (
    OUTSIDE_COURSE_DATES,
    OUTSIDE_HOURS,
    OVER_4_VISITS,
    OVER_60_MINUTES,
)
from service.domain.vocabulary import (
    DEVIATIONS,
    REFERRAL_STATUSES,
    REJECTION_REASONS,
    SETTINGS,
    TREATMENT_TYPES,
    ReferralStatus,
)

#: Referral outcomes in report order: the decided ones first, those still pending last.
STATUS_ORDER: tuple[ReferralStatus, ...] = (
    *(status for status in REFERRAL_STATUSES if status != "pending"),
    "pending",
)
#: Course length buckets in days (inclusive), key → (first, last or None). 1-3 and 4-6 are
#: the days the course fee covers (§3.2: fluids 3, antibiotics and pump 6).
LENGTH_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1-3", 1, 3),
    ("4-6", 4, 6),
    ("7-14", 7, 14),
    ("15-28", 15, 28),
    ("29+", 29, None),
)
#: Planned visits per day a referral may ask for (§1.5: at most 4).
PLANNED_PER_DAY = tuple(range(1, MAX_VISITS_PER_DAY + 1))
#: Administrations on one course-day: 1 … 4, and "5+" (more than the agreement allows).
PER_DAY_KEYS = (*(str(n) for n in PLANNED_PER_DAY), f"{MAX_VISITS_PER_DAY + 1}+")
MEDIAN, P90 = 50, 90


class InvalidQuarter(DomainError, ValueError):
    """A quarter that is not written YYYYQn (or lies outside the years monitored)."""

    code: ClassVar[str] = "invalid_quarter"


# --- quarters -----------------------------------------------------------------------------

_QUARTER = re.compile(r"^([0-9]{4})Q([1-4])$")  # ASCII digits only
FIRST_YEAR, LAST_YEAR = 2000, 2999


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter, written YYYYQn ("2024Q1" = January–March 2024)."""

    year: int
    number: int

    def __post_init__(self) -> None:
        if not FIRST_YEAR <= self.year <= LAST_YEAR or not 1 <= self.number <= 4:
            raise InvalidQuarter(f"not a quarter: year {self.year}, quarter {self.number}")

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """Read "YYYYQn" (e.g. "2024Q1")."""
        match = _QUARTER.match(text)
        if match is None:
            raise InvalidQuarter("a quarter is written YYYYQn with n 1-4, e.g. 2024Q1")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.year:04d}Q{self.number}"

    @property
    def first_day(self) -> date:
        """The first day of the quarter's first month."""
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        """The last day of the quarter's last month."""
        if self.number == 4:
            return date(self.year, 12, 31)
        return date(self.year, 3 * self.number + 1, 1) - timedelta(days=1)

    def instants(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight of the first day to that after the last."""
        start = datetime.combine(self.first_day, time(0), tz).astimezone(UTC)
        end = datetime.combine(self.last_day + timedelta(days=1), time(0), tz).astimezone(UTC)
        return start, end


# --- inputs: counts grouped by the database -------------------------------------------


class _Grouped(Protocol):
    """What every group has: whose it is, and how many it counts."""

    @property
    def municipality_code(self) -> str: ...

    @property
    def count(self) -> int: ...


@dataclass(frozen=True)
class ReferralGroup:
    """Referrals received in the quarter, by municipality, type and status now."""

    municipality_code: str
    treatment_type: str
    status: str
    rejection_reason: str | None
    count: int


@dataclass(frozen=True)
class CourseStartGroup:
    """Courses started in the quarter (not cancelled), with the referral's planned visits."""

    municipality_code: str
    treatment_type: str
    setting: str
    planned_visits_per_day: int
    count: int


@dataclass(frozen=True)
class CompletedGroup:
    """Courses completed with an end date in the quarter, by their dates."""

    municipality_code: str
    start_date: date
    end_date: date
    count: int


@dataclass(frozen=True)
class VisitGroup:
    """Visits dated in the quarter (of courses not cancelled), with their deviations that
    depend on the visit alone."""

    municipality_code: str
    treatment_type: str
    setting: str
    administered: bool
    duration_minutes: int
    outside_hours: bool
    outside_course_dates: bool
    count: int


@dataclass(frozen=True)
class CourseDayGroup:
    """Course-days in the quarter with at least one visit: how many had this many visits,
    and of them this many administrations."""

    municipality_code: str
    visits: int
    administrations: int
    count: int


@dataclass(frozen=True)
class Inputs:
    """Everything one quarter's figures are computed from: counts, grouped."""

    referrals: Sequence[ReferralGroup] = ()
    course_starts: Sequence[CourseStartGroup] = ()
    completed: Sequence[CompletedGroup] = ()
    visits: Sequence[VisitGroup] = ()
    course_days: Sequence[CourseDayGroup] = ()

    def municipality_codes(self) -> set[str]:
        """Every municipality that has a count here."""
        groups: list[Sequence[_Grouped]] = [
            self.referrals,
            self.course_starts,
            self.completed,
            self.visits,
            self.course_days,
        ]
        return {g.municipality_code for seq in groups for g in seq}


# --- outputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreatmentFigures:
    """The figures of one treatment type (see `Figures`)."""

    referred: int = 0
    accepted: int = 0
    courses_started: int = 0
    administrations: int = 0


@dataclass(frozen=True)
class Figures:
    """The §4.1 figures of one municipality or of the region for one quarter.

    Every mapping has all its keys, in report order, zeros included, so tables and charts
    have the same columns whatever the data.
    """

    referred: int
    referrals_by_status: dict[str, int]
    rejected_by_reason: dict[str, int]
    by_treatment: dict[str, TreatmentFigures]
    courses_started: int
    courses_by_setting: dict[str, int]
    planned_visits_per_day: dict[int, int]
    courses_completed: int
    course_length_buckets: dict[str, int]
    course_length_median: int | None
    visits: int
    administrations: int
    administrations_by_setting: dict[str, int]
    course_days: int
    administrations_per_course_day: dict[str, int]
    minutes_median: int | None
    minutes_p90: int | None
    deviations: dict[str, int]

    @property
    def planned_visits_total(self) -> int:
        """Visits a day planned over all courses started (for the mean)."""
        return sum(n * count for n, count in self.planned_visits_per_day.items())


K = TypeVar("K")
G = TypeVar("G", bound=_Grouped)


def _ordered(counts: Mapping[K, int], keys: Iterable[K]) -> dict[K, int]:
    """All `keys` in order (zeros included), then any unforeseen key (data is data)."""
    out = {key: counts.get(key, 0) for key in keys}
    for key, count in counts.items():
        if key not in out:
            out[key] = count
    return out


def _count_by(groups: Iterable[G], key: Callable[[G], K]) -> Counter[K]:
    """The groups' counts summed by `key`."""
    counts: Counter[K] = Counter()
    for group in groups:
        counts[key(group)] += group.count
    return counts


def nearest_rank(histogram: Mapping[int, int], percent: int) -> int | None:
    """The nearest-rank percentile of values given as value → how many; None when empty.

    Rank ceil(percent/100 x N), counted from 1 in ascending order (integer arithmetic)."""
    if not 0 < percent <= 100:
        raise ValueError("a percentile is above 0 and at most 100")
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = -(-percent * total // 100)
    seen = 0
    for value in sorted(v for v, n in histogram.items() if n > 0):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the ranks add up to the total")


def length_days(start: date, end: date) -> int:
    """Day 1 is the start date and the end date counts (DESIGN "Courses and visits")."""
    return (end - start).days + 1


def length_bucket(days: int) -> str:
    """The key of the `LENGTH_BUCKETS` bucket a course length in days falls in."""
    for key, first, last in LENGTH_BUCKETS:
        if days >= first and (last is None or days <= last):
            return key
    # A course ending before it starts cannot be completed; keep it visible all the same.
    return LENGTH_BUCKETS[0][0]


def per_day_key(administrations: int) -> str:
    """The `PER_DAY_KEYS` key of a course-day with this many administrations."""
    return str(administrations) if administrations <= MAX_VISITS_PER_DAY else PER_DAY_KEYS[-1]


def ratio_text(numerator: int, denominator: int, places: int) -> str | None:
    """numerator/denominator as a decimal string rounded half up ("0.7500"); None for 0/0.

    Exact (integer Decimal division to the places asked, then rounded once)."""
    if denominator == 0:
        return None
    quantum = Decimal(1).scaleb(-places)
    value = (Decimal(numerator) / Decimal(denominator)).quantize(quantum, rounding=ROUND_HALF_UP)
    return f"{value:.{places}f}"


def share_text(part: int, whole: int) -> str | None:
    """A share as a fraction 0-1 with 4 decimals ("0.7500" = 75 %)."""
    return ratio_text(part, whole, 4)


def mean_text(total: int, count: int) -> str | None:
    """A mean with 2 decimals ("2.50")."""
    return ratio_text(total, count, 2)


def figures(inputs: Inputs) -> Figures:
    """The figures over all the groups given (one municipality's, or everyone's)."""
    referrals = inputs.referrals
    by_status = _count_by(referrals, lambda r: r.status)
    referred_by_type = _count_by(referrals, lambda r: r.treatment_type)
    accepted = [r for r in referrals if r.status == "accepted"]
    accepted_by_type = _count_by(accepted, lambda r: r.treatment_type)
    rejected = [r for r in referrals if r.status == "rejected"]
    reasons = _count_by(rejected, lambda r: r.rejection_reason or "other")

    started_by_type = _count_by(inputs.course_starts, lambda c: c.treatment_type)
    course_settings = _count_by(inputs.course_starts, lambda c: c.setting)
    planned = _count_by(inputs.course_starts, lambda c: c.planned_visits_per_day)

    lengths = _count_by(inputs.completed, lambda done: length_days(done.start_date, done.end_date))
    buckets: Counter[str] = Counter()
    for days, count in lengths.items():
        buckets[length_bucket(days)] += count

    given = [v for v in inputs.visits if v.administered]
    minutes = _count_by(given, lambda v: v.duration_minutes)
    administered_by_type = _count_by(given, lambda v: v.treatment_type)
    administered_settings = _count_by(given, lambda v: v.setting)
    visits = sum(v.count for v in inputs.visits)
    deviations: Counter[str] = Counter()
    for v in inputs.visits:
        if v.outside_hours:
            deviations[OUTSIDE_HOURS] += v.count
        if v.duration_minutes > MAX_MINUTES_PER_ADMINISTRATION:
            deviations[OVER_60_MINUTES] += v.count
        if v.outside_course_dates:
            deviations[OUTSIDE_COURSE_DATES] += v.count

    per_day: Counter[str] = Counter()
    for day in inputs.course_days:
        # visit_deviations flags the 5th and later visit of a course's local day.
        deviations[OVER_4_VISITS] += max(0, day.visits - MAX_VISITS_PER_DAY) * day.count
        if day.administrations > 0:
            per_day[per_day_key(day.administrations)] += day.count

    types = (*TREATMENT_TYPES, *sorted(set(referred_by_type) - set(TREATMENT_TYPES)))
    return Figures(
        referred=sum(by_status.values()),
        referrals_by_status=_ordered(by_status, STATUS_ORDER),
        rejected_by_reason=_ordered(reasons, REJECTION_REASONS),
        by_treatment={
            t: TreatmentFigures(
                referred=referred_by_type[t],
                accepted=accepted_by_type[t],
                courses_started=started_by_type[t],
                administrations=administered_by_type[t],
            )
            for t in types
        },
        courses_started=sum(course_settings.values()),
        courses_by_setting=_ordered(course_settings, SETTINGS),
        planned_visits_per_day=_ordered(planned, PLANNED_PER_DAY),
        courses_completed=sum(lengths.values()),
        course_length_buckets=_ordered(buckets, (key for key, _, _ in LENGTH_BUCKETS)),
        course_length_median=nearest_rank(lengths, MEDIAN),
        visits=visits,
        administrations=sum(minutes.values()),
        administrations_by_setting=_ordered(administered_settings, SETTINGS),
        course_days=sum(per_day.values()),
        administrations_per_course_day=_ordered(per_day, PER_DAY_KEYS),
        minutes_median=nearest_rank(minutes, MEDIAN),
        minutes_p90=nearest_rank(minutes, P90),
        deviations=_ordered(deviations, DEVIATIONS),
    )


def _split(groups: Iterable[G]) -> dict[str, list[G]]:
    split: dict[str, list[G]] = defaultdict(list)
    for group in groups:
        split[group.municipality_code].append(group)
    return split


def by_municipality(inputs: Inputs, codes: Sequence[str]) -> dict[str, Figures]:
    """The figures of each municipality in `codes` (in that order; zeros where nothing)."""
    referrals, starts = _split(inputs.referrals), _split(inputs.course_starts)
    completed, visits, days = (
        _split(inputs.completed),
        _split(inputs.visits),
        _split(inputs.course_days),
    )
    return {
        code: figures(
            Inputs(
                referrals.get(code, []),
                starts.get(code, []),
                completed.get(code, []),
                visits.get(code, []),
                days.get(code, []),
            )
        )
        for code in codes
    }
