"""The simulation's plan: every random choice, made up front from one seeded Random.

Pure (no database, no clock): the same options give the same plan, so the same seed
gives the same activity, the same staircase and the same issued totals. run.py carries
the plan out through the service's use cases in chronological order.

The assumptions (shares, distributions, names) are in assumptions.py.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from service.domain.settlement import Period
from service.domain.visits import OUTSIDE_HOURS, OVER_60_MINUTES
from service.domain.vocabulary import (
    SETTINGS,
    Deviation,
    EndReason,
    RejectionReason,
    Setting,
    TreatmentType,
)
from service.kit.clock import LOCAL_TZ
from service.reference.loader import DATA_DIR
from service.simulation.assumptions import (
    ADMINISTRATION_TIMES,
    CANCEL_REASONS,
    CANCEL_SHARE,
    CORRECTION_SHARE,
    DEPARTMENTS,
    DEVIATION_SHARE,
    DOSE_NOT_GIVEN_SHARE,
    END_REASON_SHARES,
    IV_ACCESS,
    LATE_SHARE,
    PARENTERAL_NUTRITION_SHARE,
    RECURRING_PATIENT_SHARE,
    REJECTED_SHARE,
    REJECTION_NOTES,
    REJECTION_SHARES,
    SIMULATED_DEVIATIONS,
    TYPE_MIX,
    course_length,
    minutes_per_administration,
    visits_per_day,
)
from service.simulation.populations import POPULATION_2024, REFERRING_HOSPITALS

T = TypeVar("T")

DEFAULT_START = Period(2024, 1)


@dataclass(frozen=True, slots=True)
class SimulationOptions:
    """What to simulate: which months, how many courses a year, the seed."""

    start: Period = DEFAULT_START
    months: int = 12
    courses_per_year: int = 5700
    scale: float = 1.0
    seed: int = 1
    issue: bool = True

    def __post_init__(self) -> None:
        if self.months < 1:
            raise ValueError("simulate at least one month")
        if self.courses_per_year < 0 or not self.scale > 0:
            raise ValueError("courses per year must be ≥ 0 and the scale > 0")

    @property
    def periods(self) -> list[Period]:
        """The simulated months, in order."""
        periods = [self.start]
        while len(periods) < self.months:
            periods.append(periods[-1].next())
        return periods

    @property
    def course_count(self) -> int:
        """Courses that start in the simulated months."""
        return round(self.courses_per_year * self.scale * self.months / 12)


@dataclass(frozen=True, slots=True)
class PlannedVisit:
    """A visit as the nurse will register it."""

    id: uuid.UUID
    started_at: datetime  # Europe/Copenhagen
    duration_minutes: int
    administered: bool


@dataclass(frozen=True, slots=True)
class CoursePlan:
    """What the municipality does with an accepted referral, and when."""

    accepted_at: datetime
    """On the day before the start; for a late registration, the instant it is registered
    (accepted, its visits recorded and completed together)."""
    setting: Setting
    actual_days: int
    """Treatment days; 0 for a course cancelled before its first visit."""
    end_reason: EndReason
    completed_at: datetime | None
    late: bool
    cancelled_at: datetime | None
    cancel_reason: str | None
    corrected_at: datetime | None
    corrected_end_date: date | None
    deviation: Deviation | None
    visit_seed: int

    def end_date(self, start: date) -> date:
        """The last treatment day of a course that starts on `start`."""
        return start + timedelta(days=self.actual_days - 1)


@dataclass(frozen=True, slots=True)
class RejectionPlan:
    """When and why the municipality rejects a referral."""

    at: datetime
    reason: RejectionReason
    note: str


@dataclass(frozen=True, slots=True)
class ReferralPlan:
    """A referral as the hospital sends it, and what then happens to it."""

    index: int
    external_ref: str
    hospital_code: str
    department: str
    cpr: str
    municipality_code: str
    treatment_type: TreatmentType
    start_date: date
    planned_days: int
    administration_times: tuple[time, ...]
    minutes_per_administration: int
    iv_access: str
    parenteral_nutrition: bool
    referred_at: datetime
    rejection: RejectionPlan | None
    course: CoursePlan | None
    """None when rejected by the municipality or by its parenteral-nutrition policy."""

    def occupied_until(self) -> datetime:
        """Until when this referral may collide with another one of the same patient, type
        and municipality (the service refuses a second active course: 409)."""
        if self.rejection is not None:
            return self.rejection.at
        if self.course is None:
            return self.referred_at
        ends = [self.course.accepted_at, self.course.completed_at, self.course.cancelled_at]
        return max(e for e in ends if e is not None)


@dataclass(frozen=True, slots=True)
class Plan:
    """The whole simulation as data (see `make_plan`)."""

    options: SimulationOptions
    referrals: list[ReferralPlan]
    issues: list[tuple[Period, datetime]]
    horizon: datetime
    """When the simulation ends: the issue of the last simulated month. Nothing later
    happens; courses still running then stay active."""


# --- random helpers ------------------------------------------------------------------------


def _weighted(rng: random.Random, weights: dict[T, int] | dict[T, float]) -> T:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _local(day: date, minutes: int) -> datetime:
    """`minutes` after local midnight, as the wall clock reads (aware arithmetic in Python
    is wall-clock arithmetic)."""
    return datetime.combine(day, time(0), LOCAL_TZ) + timedelta(minutes=minutes)


def _at(day: date, hour: int, minutes: int = 0) -> datetime:
    """`minutes` past `hour` o'clock, local wall-clock time (06-24 never meets a DST gap)."""
    return _local(day, hour * 60 + minutes)


def synthetic_cpr(rng: random.Random, on: date, used: set[str]) -> str:
    """A made-up CPR number of valid form: a real birth date (mostly elderly patients),
    digit 7 that resolves the century (0-3 for the 1900s, 4 or 9 for 2000-2036)."""
    while True:
        age = int(rng.triangular(18, 100, 80))
        birth = date(on.year - age, 1, 1) + timedelta(days=rng.randrange(365))
        digit7 = rng.randint(0, 3) if birth.year < 2000 else rng.choice((4, 9))
        cpr = f"{birth:%d%m}{birth.year % 100:02d}{digit7}{rng.randrange(1000):03d}"
        if cpr not in used:
            used.add(cpr)
            return cpr


def _actual_days(rng: random.Random, planned: int) -> tuple[EndReason, int]:
    reason = _weighted(rng, END_REASON_SHARES)
    if reason == "switched_to_oral":
        return reason, max(1, planned - rng.randint(1, 3))
    if reason in ("readmitted", "deceased"):
        return reason, rng.randint(1, planned)
    return reason, planned


def _start_days(options: SimulationOptions) -> tuple[list[date], list[float]]:
    """Every day of the simulated months, weighted: a little more in winter (respiratory
    infections), fewer starts at weekends."""
    days: list[date] = []
    cumulative: list[float] = []
    total = 0.0
    for period in options.periods:
        day = period.first_day
        while day <= period.last_day:
            season = 1 + 0.2 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 20) / 365.25)
            total += season * (0.6 if day.weekday() >= 5 else 1.0)
            days.append(day)
            cumulative.append(total)
            day += timedelta(days=1)
    return days, cumulative


def _clusters() -> dict[str, str]:
    data = json.loads((DATA_DIR / "municipalities.json").read_text(encoding="utf-8"))
    return {m["code"]: m["cluster"] for m in data["municipalities"]}


# --- the plan ---------------------------------------------------------------------------


@dataclass
class _Patients:
    """Synthetic patients per municipality; a patient may come back, but never with two
    active courses of the same type in the same municipality at once (the service refuses
    that with 409), so a busy patient is passed over for another."""

    rng: random.Random
    used: set[str] = field(default_factory=set)
    by_municipality: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    busy: dict[tuple[str, str], list[tuple[datetime, datetime]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def _free(self, cpr: str, treatment: str, begin: datetime, end: datetime) -> bool:
        return all(end < b or e < begin for b, e in self.busy[(cpr, treatment)])

    def choose(self, municipality: str, treatment: str, begin: datetime, end: datetime) -> str:
        """The CPR number of a patient free from `begin` to `end`: sometimes a returning one."""
        pool = self.by_municipality[municipality]
        if pool and self.rng.random() < RECURRING_PATIENT_SHARE:
            for _ in range(3):
                cpr = self.rng.choice(pool)
                if self._free(cpr, treatment, begin, end):
                    self.busy[(cpr, treatment)].append((begin, end))
                    return cpr
        cpr = synthetic_cpr(self.rng, begin.date(), self.used)
        pool.append(cpr)
        self.busy[(cpr, treatment)].append((begin, end))
        return cpr


def issue_times(rng: random.Random, periods: Sequence[Period]) -> list[tuple[Period, datetime]]:
    """Each month is issued on the 3rd-6th of the next, at 10:00 local time."""
    return [(p, _at(p.next().first_day + timedelta(days=rng.randint(2, 5)), 10)) for p in periods]


def make_plan(options: SimulationOptions) -> Plan:
    """The whole simulation as data: referrals in the order they are sent, what happens to
    each, and when each month is issued."""
    rng = random.Random(options.seed)
    issues = issue_times(rng, options.periods)
    horizon = issues[-1][1]
    issued_at = dict(issues)
    clusters = _clusters()

    n_courses = options.course_count
    outcomes = (
        ["course"] * n_courses
        + ["rejected"] * round(n_courses * REJECTED_SHARE)
        + ["parenteral_nutrition"] * round(n_courses * PARENTERAL_NUTRITION_SHARE)
    )
    rng.shuffle(outcomes)
    days, cumulative = _start_days(options)
    starts = rng.choices(days, cum_weights=cumulative, k=len(outcomes))
    taken: set[datetime] = set()

    drafts: list[ReferralPlan] = []
    for outcome, start in zip(outcomes, starts, strict=True):
        treatment: TreatmentType = (
            "fluids" if outcome == "parenteral_nutrition" else _weighted(rng, TYPE_MIX)
        )
        municipality = _weighted(rng, POPULATION_2024)
        hospital = _weighted(rng, REFERRING_HOSPITALS[clusters[municipality]])
        planned = course_length(rng, treatment)
        per_day = visits_per_day(rng, treatment)
        referred_at = _at(start - timedelta(days=1), 8, rng.randint(0, 8 * 60 - 1))
        referred_at += timedelta(seconds=rng.randint(0, 59))
        decided_at = _unique(referred_at + timedelta(minutes=rng.randint(20, 240)), taken)
        rejection = None
        course = None
        if outcome == "rejected":
            reason = _weighted(rng, REJECTION_SHARES)
            rejection = RejectionPlan(decided_at, reason, rng.choice(REJECTION_NOTES[reason]))
        elif outcome == "course":
            course = _course(rng, start, planned, decided_at, horizon, issued_at, taken)
        drafts.append(
            ReferralPlan(
                index=-1,
                external_ref="",
                hospital_code=hospital,
                department=rng.choice(DEPARTMENTS[treatment]),
                cpr="",
                municipality_code=municipality,
                treatment_type=treatment,
                start_date=start,
                planned_days=planned,
                administration_times=tuple(
                    time.fromisoformat(t) for t in rng.choice(ADMINISTRATION_TIMES[per_day])
                ),
                minutes_per_administration=minutes_per_administration(rng, treatment),
                iv_access=_weighted(rng, IV_ACCESS),
                parenteral_nutrition=outcome == "parenteral_nutrition",
                referred_at=referred_at,
                rejection=rejection,
                course=course,
            )
        )

    # In the order the hospitals send them; patients are chosen in that order.
    drafts.sort(key=lambda r: r.referred_at)
    patients = _Patients(random.Random(rng.getrandbits(64)))
    referrals = []
    for index, draft in enumerate(drafts):
        cpr = patients.choose(
            draft.municipality_code,
            draft.treatment_type,
            draft.referred_at,
            draft.occupied_until(),
        )
        referrals.append(
            replace(
                draft,
                index=index,
                external_ref=f"SIM{options.seed}-{options.start}-{index + 1:06d}",
                cpr=cpr,
            )
        )
    return Plan(options, referrals, issues, horizon)


def _unique(at: datetime, taken: set[datetime]) -> datetime:
    """Distinct instants for every acceptance: the staircase orders courses of one start
    date by creation time, so no tie is left to the (random) course ids."""
    while at in taken:
        at += timedelta(seconds=1)
    taken.add(at)
    return at


def _course(
    rng: random.Random,
    start: date,
    planned: int,
    accepted_at: datetime,
    horizon: datetime,
    issued_at: dict[Period, datetime],
    taken: set[datetime],
) -> CoursePlan:
    end_reason, days = _actual_days(rng, planned)
    end = start + timedelta(days=days - 1)
    completed_at: datetime | None
    if rng.random() < 0.7:  # the evening nurse completes it after the last visit
        completed_at = _at(end, 23, 45 + rng.randint(0, 10))
    else:  # or the next morning
        completed_at = _at(end + timedelta(days=1), 7, 30 + rng.randint(0, 120))
    setting = rng.choice(SETTINGS)
    deviation = rng.choice(SIMULATED_DEVIATIONS) if rng.random() < DEVIATION_SHARE else None
    visit_seed = rng.getrandbits(64)
    u = rng.random()
    late_at = _at(end + timedelta(days=rng.randint(30, 90)), 9, rng.randint(0, 360))
    after_issue = timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 360))
    shift = rng.choice((-2, -1, 1, 2, 3))
    cancel_kind = rng.randrange(2)
    cancel_at = _at(end + timedelta(days=rng.randint(5, 40)), 9, rng.randint(0, 360))
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    corrected_at: datetime | None = None
    corrected_end: date | None = None
    late = False

    if u < LATE_SHARE and late_at <= horizon:
        late = True
        accepted_at = _unique(late_at, taken)
        completed_at = accepted_at + timedelta(minutes=2)
    elif u < LATE_SHARE + CORRECTION_SHARE:
        issue = issued_at.get(Period.of(end))
        new_end = end + timedelta(days=shift if days + shift >= 1 else -shift)
        if issue is not None and issue > completed_at and issue + after_issue <= horizon:
            corrected_at = issue + after_issue
            corrected_end = new_end
    elif u < LATE_SHARE + CORRECTION_SHARE + CANCEL_SHARE:
        if cancel_kind == 0:  # never started: cancelled on the first morning
            cancelled_at = _at(start, 6, 30 + rng.randint(0, 20))
            cancel_reason = CANCEL_REASONS[0]
            days = 0
            completed_at = None
        elif cancel_at <= horizon:  # registered in error, found out after it ended
            cancelled_at = cancel_at
            cancel_reason = CANCEL_REASONS[1]
    return CoursePlan(
        accepted_at=accepted_at,
        setting=setting,
        actual_days=days,
        end_reason=end_reason,
        completed_at=completed_at,
        late=late,
        cancelled_at=cancelled_at,
        cancel_reason=cancel_reason,
        corrected_at=corrected_at,
        corrected_end_date=corrected_end,
        deviation=deviation,
        visit_seed=visit_seed,
    )


def planned_visits(referral: ReferralPlan) -> list[PlannedVisit]:
    """The visits of a course, one per administration time and day, with a little jitter;
    deterministic from the course's own seed (ids too), so they can be made when needed."""
    course = referral.course
    if course is None or course.actual_days == 0:
        return []
    rng = random.Random(course.visit_seed)
    deviation_day = rng.randrange(course.actual_days)
    last = len(referral.administration_times) - 1
    visits = []
    for n in range(course.actual_days):
        day = referral.start_date + timedelta(days=n)
        for k, planned in enumerate(referral.administration_times):
            minutes = planned.hour * 60 + planned.minute + rng.randint(-10, 20)
            minutes = min(max(minutes, 7 * 60), 22 * 60 + 55)
            duration = min(max(referral.minutes_per_administration + rng.randint(-10, 10), 10), 60)
            administered = rng.random() >= DOSE_NOT_GIVEN_SHARE
            visit_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            if n == deviation_day and k == last:
                if course.deviation == OUTSIDE_HOURS:
                    minutes = 23 * 60 + 20
                elif course.deviation == OVER_60_MINUTES:
                    duration = 65
            visits.append(PlannedVisit(visit_id, _local(day, minutes), duration, administered))
    return visits
