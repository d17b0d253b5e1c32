"""A plain model of the settlement rules of DESIGN.md, for the model-based test.

Written from DESIGN.md alone (no import from `service`), day by day and as simply as it
can be, so that it checks the service's arithmetic rather than repeating it. It covers the
scenarios the test generates: one tariff version valid for every start date, no price
index, no corrections of type or municipality, so a course's unit prices never change and
a billed item (course, kind, month) is one line on a statement.

Review holds: the model is told which courses the review rules hold now (`Model.held`, as
the service lists them; the rules are tested at their thresholds elsewhere) and predicts
the rest. A held course is left out of the statement entirely (no line, regular or
adjustment, and no staircase place) and out of the issue (it keeps what it was billed when
an issue last read it); once released it is owed like late data, desired minus issued, and
is placed when first billed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

Month = tuple[int, int]
"""A settlement period: (year, month)."""
Item = tuple[str, str, Month]
"""What is billed: (course id, "course_fee" | "day_fee", month)."""


@dataclass(frozen=True)
class Rates:
    """One treatment type of DESIGN's tariff table, in øre, by tier 1..3."""

    included_days: int
    course_fee: tuple[int, int, int]
    day_fee: tuple[int, int, int]


# DESIGN "The tariff (agreement §3.2, table 1)", 2020 level, not indexed.
RATES: dict[str, Rates] = {
    "antibiotics": Rates(6, (691_500, 641_100, 615_900), (148_500, 136_600, 130_600)),
    "fluids": Rates(3, (134_300, 127_400, 124_000), (34_100, 30_900, 29_200)),
    "pump": Rates(6, (204_900, 191_200, 184_300), (34_100, 30_900, 29_200)),
}


def month_of(day: date) -> Month:
    return (day.year, day.month)


def next_month(month: Month) -> Month:
    year, number = month
    return (year + 1, 1) if number == 12 else (year, number + 1)


def last_day(month: Month) -> date:
    return date(*next_month(month), 1) - timedelta(days=1)


def month_text(month: Month) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


def tier_at(position: int, thresholds: tuple[int, int]) -> int:
    """DESIGN "The staircase": positions 1..a are tier 1, a+1..b tier 2, the rest tier 3."""
    return 1 if position <= thresholds[0] else 2 if position <= thresholds[1] else 3


@dataclass(frozen=True)
class Placement:
    year: int
    position: int
    tier: int


@dataclass
class Course:
    """A course as the data says now."""

    id: str
    municipality: str
    hospital: str
    treatment: str
    start: date
    created_at: datetime
    end: date | None = None
    status: str = "active"
    given_days: set[date] = field(default_factory=set)
    """Local dates of stored visits with the dose given (kept through corrections)."""
    corrected_at: datetime | None = None
    placement: Placement | None = None
    read_at: datetime | None = None
    """When an issue last read the course (every issue but those that held it)."""
    settled: Counter[Item] = field(default_factory=Counter)
    """What the course owed when an issue last read it: what it has been billed, net."""

    def billed_through(self) -> date | None:
        """DESIGN: a completed course through its end date, an active one through its last
        given visit; a cancelled course owes nothing."""
        if self.status == "cancelled":
            return None
        if self.status == "completed":
            return self.end
        return max(self.given_days, default=None)

    def owed(self, through: Month) -> Counter[Item]:
        """Quantities owed for the months up to `through`, counted day by day."""
        owed: Counter[Item] = Counter()
        last = self.billed_through()
        if last is None or last < self.start or month_of(self.start) > through:
            return owed
        owed[(self.id, "course_fee", month_of(self.start))] = 1
        included = RATES[self.treatment].included_days
        day, number = self.start, 1
        while day <= last and month_of(day) <= through:
            if number > included:
                owed[(self.id, "day_fee", month_of(day))] += 1
            day, number = day + timedelta(days=1), number + 1
        return owed

    def unit_price(self, kind: str, tier: int) -> int:
        rates = RATES[self.treatment]
        return (rates.course_fee if kind == "course_fee" else rates.day_fee)[tier - 1]


@dataclass(frozen=True)
class Line:
    """A statement line as the model predicts it."""

    course_id: str
    kind: str
    period: str
    quantity: int
    unit_price: int
    amount: int
    tier: int
    position: int
    treatment_type: str
    hospital_code: str
    municipality_code: str
    adjustment: bool
    reason: str | None


@dataclass
class Model:
    """Courses, placements and what was issued, advanced by the test's rules."""

    thresholds: tuple[int, int]
    first_period: Month
    courses: dict[str, Course] = field(default_factory=dict)
    issued: Counter[Item] = field(default_factory=Counter)
    """Net quantity issued per billed item, over every issued statement."""
    owed_at_last_issue: Counter[Item] = field(default_factory=Counter)
    """What every course (held or not) owed when the last period was issued."""
    last_issued: Month | None = None
    held: frozenset[str] = frozenset()
    """The courses the review rules hold out of the open period now (told by the test)."""
    held_at_last_issue: frozenset[str] = frozenset()

    def open_period(self) -> Month:
        return self.first_period if self.last_issued is None else next_month(self.last_issued)

    def owed(self, through: Month, *, but: frozenset[str] = frozenset()) -> Counter[Item]:
        """What the courses, but those in `but`, owe for the months up to `through`."""
        total: Counter[Item] = Counter()
        for course in self.courses.values():
            if course.id not in but:
                total.update(course.owed(through))
        return total

    def settled(self) -> Counter[Item]:
        """What the issues so far should net to: each course's `settled`."""
        total: Counter[Item] = Counter()
        for course in self.courses.values():
            total.update(course.settled)
        return total

    def counted(self, year: int) -> int:
        return sum(
            1 for c in self.courses.values() if c.placement is not None and c.placement.year == year
        )

    def placements(self, period: Month) -> dict[str, Placement]:
        """Fixed placements, plus the next positions of their year for the courses that a
        statement of `period` would bill for the first time, by (start, creation, id); a
        held course is not billed, so not placed."""
        placed = {c.id: c.placement for c in self.courses.values() if c.placement is not None}
        new = sorted(
            (
                c
                for c in self.courses.values()
                if c.placement is None and c.id not in self.held and c.owed(period)
            ),
            key=lambda c: (c.start, c.created_at, c.id),
        )
        next_free: dict[int, int] = {}
        for course in new:
            year = course.start.year
            position = next_free.get(year, self.counted(year) + 1)
            next_free[year] = position + 1
            placed[course.id] = Placement(year, position, tier_at(position, self.thresholds))
        return placed

    def reason(self, course: Course, quantity: int) -> str:
        """Why an earlier month is adjusted: a cancellation; a course never billed before
        (late registration); a correction since an issue last read the course (a held
        course is not read); else late visits (more) or a correction (less)."""
        if course.status == "cancelled":
            return "cancellation"
        if course.placement is None:  # placed exactly when first billed
            return "late_registration"
        if course.corrected_at is not None and (
            course.read_at is None or course.corrected_at > course.read_at
        ):
            return "correction"
        return "late_registration" if quantity > 0 else "correction"

    def statement(self, period: Month) -> list[Line]:
        """DESIGN "Monthly settlement": owed for every month up to `period` minus issued,
        leaving the held courses out on both sides."""
        owed = self.owed(period, but=self.held)
        issued = Counter({k: q for k, q in self.issued.items() if k[0] not in self.held})
        placed = self.placements(period)
        lines = []
        for item in sorted(owed.keys() | issued.keys()):
            quantity = owed[item] - issued[item]
            if quantity == 0:
                continue
            course_id, kind, month = item
            course = self.courses[course_id]
            placement = placed[course_id]
            price = course.unit_price(kind, placement.tier)
            adjustment = month < period
            lines.append(
                Line(
                    course_id=course_id,
                    kind=kind,
                    period=month_text(month),
                    quantity=quantity,
                    unit_price=price,
                    amount=quantity * price,
                    tier=placement.tier,
                    position=placement.position,
                    treatment_type=course.treatment,
                    hospital_code=course.hospital,
                    municipality_code=course.municipality,
                    adjustment=adjustment,
                    reason=self.reason(course, quantity) if adjustment else None,
                )
            )
        return lines

    def unbilled(self, period: Month) -> int:
        """Courses started by the period's end, not cancelled, never billed."""
        return sum(
            1
            for c in self.courses.values()
            if c.start <= last_day(period) and c.status != "cancelled" and c.placement is None
        )

    def issue(self, at: datetime) -> list[Line]:
        """Issue the open period: fix the new placements and book the lines; every course
        not held is read (settled as it owes now), a held one keeps what it was billed."""
        period = self.open_period()
        lines = self.statement(period)
        for course_id, placement in self.placements(period).items():
            self.courses[course_id].placement = placement
        for line in lines:
            self.issued[(line.course_id, line.kind, _month(line.period))] += line.quantity
        for course in self.courses.values():
            if course.id not in self.held:
                course.read_at, course.settled = at, course.owed(period)
        self.owed_at_last_issue = self.owed(period)
        self.held_at_last_issue = self.held
        self.last_issued = period
        return lines


def _month(text: str) -> Month:
    year, month = text.split("-")
    return (int(year), int(month))
