"""Monthly settlement: what a course owes, by period, and a statement as "owed minus issued".

The statement for period P is everything the data now says is owed for all periods up to
and including P, minus everything already issued. What remains for P are its regular lines;
what remains for earlier periods are adjustment lines with the period they concern and a
reason. A late registration or a correction is therefore settled exactly once, in the next
statement, and a re-run with nothing new adds nothing.

Lines are compared by their full identity (municipality, course, kind, period, type, tier,
hospital, unit price, tariff version): whatever changes about a billed line - its price,
its type, the municipality that pays - credits the issued line and debits the new one.

Exceptions raised here (all `DomainError`s with a stable `code`):

    InvalidPeriod               "invalid_period": not a YYYY-MM month (also a ValueError)
    PeriodNotEnded              "period_not_ended": a period can be issued once it has ended
    PeriodOutOfSequence         "period_out_of_sequence": issues go month after month
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar, NamedTuple

from service.domain.tariff import DomainError, PriceIndex, TariffVersion, unit_price
from service.domain.vocabulary import AdjustmentReason, CourseStatus, LineKind, TreatmentType

ReasonFor = Mapping[str, AdjustmentReason] | Callable[[str], AdjustmentReason | None]


class InvalidPeriod(DomainError, ValueError):
    """A period that is not a calendar month written YYYY-MM."""

    code: ClassVar[str] = "invalid_period"


class PeriodNotEnded(DomainError):
    """A period can be issued only once it has ended."""

    code: ClassVar[str] = "period_not_ended"

    def __init__(self, period: Period, today: date) -> None:
        self.period = period
        super().__init__(f"{period} has not ended yet (today is {today.isoformat()})")


class PeriodOutOfSequence(DomainError):
    """After the first issue, each issue must be the period right after the last issued."""

    code: ClassVar[str] = "period_out_of_sequence"

    def __init__(self, period: Period, last_issued: Period) -> None:
        self.period = period
        self.last_issued = last_issued
        super().__init__(
            f"{period} cannot be issued: the last issued period is {last_issued}, "
            f"so the next to issue is {last_issued.next()}"
        )


# --- periods ---------------------------------------------------------------------------

_PERIOD = re.compile(r"^([0-9]{4})-([0-9]{2})$")  # ASCII digits only


@dataclass(frozen=True, order=True)
class Period:
    """A settlement period: one calendar month. Ordered; written YYYY-MM."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.year <= 9999 or not 1 <= self.month <= 12:
            raise InvalidPeriod(f"not a calendar month: year {self.year}, month {self.month}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read "YYYY-MM" (e.g. "2024-03")."""
        match = _PERIOD.match(text)
        if match is None:
            raise InvalidPeriod(f"a period is written YYYY-MM, not {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: date) -> Period:
        """The period a date falls in."""
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Period:
        """The following month."""
        return Period(self.year + 1, 1) if self.month == 12 else Period(self.year, self.month + 1)

    def previous(self) -> Period:
        """The preceding month."""
        return Period(self.year - 1, 12) if self.month == 1 else Period(self.year, self.month - 1)

    @property
    def first_day(self) -> date:
        """The first day of the month."""
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        """The last day of the month."""
        return date(self.year, self.month, monthrange(self.year, self.month)[1])

    def contains(self, day: date) -> bool:
        """Whether `day` falls in this month."""
        return self.first_day <= day <= self.last_day


def check_issuable(period: Period, *, last_issued: Period | None, today: date) -> None:
    """DESIGN "Monthly settlement": the first issue may be any period that has ended; after
    it, each issue must be the period right after the last issued one.

    For a period not yet issued (the caller answers a repeated issue with the stored one).
    `today` is the local (Europe/Copenhagen) date.
    """
    if today <= period.last_day:
        raise PeriodNotEnded(period, today)
    if last_issued is not None and period != last_issued.next():
        raise PeriodOutOfSequence(period, last_issued)


# --- what a course owes ----------------------------------------------------------------


@dataclass(frozen=True)
class CourseFacts:
    """What the settlement needs to know of a course, as the data says now."""

    course_id: str
    municipality_code: str
    hospital_code: str
    treatment_type: TreatmentType
    start_date: date
    end_date: date | None
    """The inclusive last day; None while the course is active."""
    last_administered_date: date | None
    """The local date of the latest visit with a dose given; None if there is none."""
    status: CourseStatus

    def __post_init__(self) -> None:
        if self.status == "completed" and self.end_date is None:
            raise ValueError(f"course {self.course_id}: a completed course has an end date")
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError(f"course {self.course_id}: the end date is before the start date")


def billable_through(course: CourseFacts) -> date | None:
    """§2.6 and §3.2 as settled in DESIGN "Monthly settlement": the last day billed.

    A completed course is billed through its end date. An active course is billed through
    the last date with a given visit (never past an end date, if one is set), so nothing is
    billed ahead of the evidence: an active course with no given visit yet owes nothing, not
    even its course fee. A cancelled course owes nothing (what was billed is credited).
    """
    if course.status == "cancelled":
        return None
    if course.status == "completed":
        return course.end_date
    through = course.last_administered_date
    if through is not None and course.end_date is not None:
        through = min(through, course.end_date)
    return through


def course_fee_period(course: CourseFacts) -> Period:
    """§3.2 (forløbstakst): the course fee belongs to the period of the start date."""
    return Period.of(course.start_date)


def first_day_fee_date(course: CourseFacts, included_days: int) -> date:
    """§3.2 (dagstakst): the course fee covers days 1..included_days; a day fee is owed for
    every day after (antibiotics and pump from day 7, fluids from day 4)."""
    return course.start_date + timedelta(days=included_days)


def is_billable_by(course: CourseFacts, through_period: Period) -> bool:
    """Whether a course owes anything for the periods up to `through_period`; such a course
    appears on that statement and, if it has no staircase position yet, takes one then."""
    through = billable_through(course)
    return (
        through is not None
        and through >= course.start_date
        and course_fee_period(course) <= through_period
    )


@dataclass(frozen=True)
class PricedLine:
    """A priced quantity of one course, kind and period, with what produced the price."""

    course_id: str
    kind: LineKind
    period: Period
    quantity: int
    unit_price: int
    """øre"""
    tier: int
    treatment_type: TreatmentType
    hospital_code: str
    municipality_code: str
    tariff_version_id: int

    @property
    def amount(self) -> int:
        """øre: quantity * unit price."""
        return self.quantity * self.unit_price

    @property
    def key(self) -> LineKey:
        """The line's identity: everything but the quantity."""
        return LineKey(
            municipality_code=self.municipality_code,
            period=self.period,
            course_id=self.course_id,
            kind=self.kind,
            treatment_type=self.treatment_type,
            tier=self.tier,
            hospital_code=self.hospital_code,
            unit_price=self.unit_price,
            tariff_version_id=self.tariff_version_id,
        )


@dataclass(frozen=True)
class OwedLine(PricedLine):
    """What the data now says a course owes for one kind and period."""


@dataclass(frozen=True)
class IssuedLine(PricedLine):
    """A line of an issued statement, regular or adjustment (a credit has quantity < 0)."""


@dataclass(frozen=True)
class DeltaLine(PricedLine):
    """A line of a statement: regular for the statement's period, else an adjustment."""

    adjustment: bool
    reason: AdjustmentReason | None


class LineKey(NamedTuple):
    """The identity two lines must share to offset each other; sorts as statements print."""

    municipality_code: str
    period: Period
    course_id: str
    kind: LineKind
    treatment_type: TreatmentType
    tier: int
    hospital_code: str
    unit_price: int
    tariff_version_id: int

    @property
    def billed_item(self) -> tuple[str, LineKind, Period]:
        """What is billed: one course's kind of fee in one period."""
        return (self.course_id, self.kind, self.period)

    @property
    def attribution(self) -> tuple[str, TreatmentType, int, str]:
        """Who pays and how it is reported: municipality, type, tier, hospital."""
        return (self.municipality_code, self.treatment_type, self.tier, self.hospital_code)

    @property
    def price(self) -> tuple[int, int]:
        """The unit price and the tariff version that set it."""
        return (self.unit_price, self.tariff_version_id)


def owed_lines(
    course: CourseFacts,
    tariff: TariffVersion,
    tier: int,
    index_by_year: PriceIndex,
    through_period: Period,
) -> list[OwedLine]:
    """§3.2: a course's course fee and day fees for the periods up to `through_period`.

    `tariff` is the version valid on the course's start date and `tier` the tier of its
    staircase position (used only when something is owed). One line per kind and period;
    an indexed version prices each line by the year of its period.
    """
    if tariff.valid_from > course.start_date:
        raise ValueError(
            f"course {course.course_id} starts {course.start_date.isoformat()}, before tariff "
            f"version {tariff.id} (valid from {tariff.valid_from.isoformat()})"
        )
    through = billable_through(course)
    if through is None or through < course.start_date:
        return []
    treatment = tariff.treatment(course.treatment_type)
    rates = treatment.rates(tier)

    def line(kind: LineKind, period: Period, quantity: int, base: int) -> OwedLine:
        price = unit_price(
            base,
            indexed=tariff.indexed,
            price_level_year=tariff.price_level_year,
            line_year=period.year,
            index_by_year=index_by_year,
        )
        return OwedLine(
            course_id=course.course_id,
            kind=kind,
            period=period,
            quantity=quantity,
            unit_price=price,
            tier=tier,
            treatment_type=course.treatment_type,
            hospital_code=course.hospital_code,
            municipality_code=course.municipality_code,
            tariff_version_id=tariff.id,
        )

    lines: list[OwedLine] = []
    fee_period = course_fee_period(course)
    if fee_period <= through_period:
        lines.append(line("course_fee", fee_period, 1, rates.course_fee))
    first = first_day_fee_date(course, treatment.included_days)
    last = min(through, through_period.last_day)
    period = Period.of(first)
    while first <= last and period.first_day <= last:
        days = (min(last, period.last_day) - max(first, period.first_day)).days + 1
        lines.append(line("day_fee", period, days, rates.day_fee))
        period = period.next()
    return lines


# --- the statement: owed minus issued --------------------------------------------------


def _net_quantities(lines: Iterable[PricedLine], period: Period) -> dict[LineKey, int]:
    net: dict[LineKey, int] = defaultdict(int)
    for line in lines:
        if line.period <= period:
            net[line.key] += line.quantity
    return {key: quantity for key, quantity in net.items() if quantity != 0}


def _by_billed_item(
    net: Mapping[LineKey, int],
) -> dict[tuple[str, LineKind, Period], list[LineKey]]:
    grouped: dict[tuple[str, LineKind, Period], list[LineKey]] = defaultdict(list)
    for key in net:
        grouped[key.billed_item].append(key)
    return grouped


def restatement_reason(key: LineKey, counterparts: Iterable[LineKey]) -> AdjustmentReason | None:
    """Why the same billed item (course, kind, period) is now billed as a different line.

    `counterparts` are that item's lines on the other side: the issued ones for a debit,
    the owed ones for a credit. Another municipality, type, tier or hospital is a
    "correction" (a corrected course moves from the old line to the new one). The same line
    at another price is a "tariff_change" when another tariff version prices it now (§5.2,
    a version loaded with a past valid-from), else an "index_change" (§3.2 price level).
    """
    others = [other for other in counterparts if other != key]
    if any(other.attribution != key.attribution for other in others):
        return "correction"
    if any(other.tariff_version_id != key.tariff_version_id for other in others):
        return "tariff_change"
    if others:
        return "index_change"
    return None


def adjustment_reason(
    key: LineKey,
    quantity: int,
    *,
    known: AdjustmentReason | None,
    issued_courses: Container[str],
    counterparts: Iterable[LineKey],
) -> AdjustmentReason:
    """DESIGN "Monthly settlement": why an earlier period is adjusted, first rule that fits.

    1. the caller says the course was cancelled → "cancellation" (everything is credited);
    2. nothing of the course was ever issued → "late_registration";
    3. the caller knows the cause (e.g. "correction" of dates, type or municipality);
    4. the billed item moved to another line → "correction", "tariff_change" or
       "index_change" (see `restatement_reason`);
    5. otherwise more is owed than issued → "late_registration" (visits registered after the
       period was issued), less → "correction".
    """
    if known == "cancellation":
        return known
    if key.course_id not in issued_courses:
        return "late_registration"
    if known is not None:
        return known
    restated = restatement_reason(key, counterparts)
    if restated is not None:
        return restated
    return "late_registration" if quantity > 0 else "correction"


def _known_reason(reason_for: ReasonFor | None, course_id: str) -> AdjustmentReason | None:
    if reason_for is None:
        return None
    if isinstance(reason_for, Mapping):
        return reason_for.get(course_id)
    return reason_for(course_id)


def statement_delta(
    owed: Iterable[PricedLine],
    issued: Iterable[PricedLine],
    period: Period,
    reason_for: ReasonFor | None = None,
) -> list[DeltaLine]:
    """DESIGN "Monthly settlement": the statement for `period` is what is owed for all
    periods up to and including it, minus what was issued, line identity by line identity.

    Lines of `period` are regular; lines of earlier periods are adjustments with a reason
    (see `adjustment_reason`; `reason_for` gives the causes only the caller knows, by course
    id: "cancellation", "correction"). Lines after `period` are ignored on both sides. The
    result covers every municipality (each line carries its own), sorted by `LineKey`.
    """
    issued = list(issued)
    desired = _net_quantities(owed, period)
    already = _net_quantities(issued, period)
    issued_courses = {line.course_id for line in issued}
    desired_by_item = _by_billed_item(desired)
    issued_by_item = _by_billed_item(already)
    deltas: list[DeltaLine] = []
    for key in sorted(desired.keys() | already.keys()):
        quantity = desired.get(key, 0) - already.get(key, 0)
        if quantity == 0:
            continue
        adjustment = key.period < period
        reason: AdjustmentReason | None = None
        if adjustment:
            counterparts = issued_by_item if quantity > 0 else desired_by_item
            reason = adjustment_reason(
                key,
                quantity,
                known=_known_reason(reason_for, key.course_id),
                issued_courses=issued_courses,
                counterparts=counterparts.get(key.billed_item, []),
            )
        # A line is its identity (every field of the key) and a quantity.
        deltas.append(
            DeltaLine(**key._asdict(), quantity=quantity, adjustment=adjustment, reason=reason)
        )
    return deltas
