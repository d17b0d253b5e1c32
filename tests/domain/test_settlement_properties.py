"""Properties of settlement: whatever happens to courses, month after month, each course is
billed exactly what it owes, nothing twice, and a re-run adds nothing.

A random history of registrations, visits, completions, corrections (dates, type,
municipality), cancellations, price-index revisions and retroactive tariff versions is
played against an in-memory ledger that issues a statement month after month by appending
its delta lines, as the service does.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.domain.settlement import (
    CourseFacts,
    DeltaLine,
    IssuedLine,
    LineKey,
    OwedLine,
    Period,
    PricedLine,
    is_billable_by,
    owed_lines,
    statement_delta,
)
from service.domain.staircase import Placement, StaircaseCandidate, assign_positions
from service.domain.tariff import (
    TariffVersion,
    tariff_from_document,
    version_for,
)
from service.domain.vocabulary import TREATMENT_TYPES, AdjustmentReason
from tests.support.ledger import as_issued

FIRST_PERIOD = Period(2024, 1)
SETTLED_PERIOD = Period(2025, 9)
"""Far enough ahead that every course of a history has ended or stopped getting visits."""
LAST_ISSUE_IN_HISTORY = Period(2024, 12)
EARLIEST_START = date(2023, 11, 1)
LATEST_START = date(2025, 2, 28)
LATEST_END = date(2025, 6, 30)
MUNICIPALITIES = ("101", "147", "400")
HOSPITALS = ("RH", "HGH", "BOH")

BASE_DOCUMENT: dict[str, Any] = {
    "name": "test tariff",
    "valid_from": "2023-01-01",
    "price_level_year": 2020,
    "indexed": False,
    "payer": {"name": "Region Hovedstaden", "cvr": "29190623", "gln": "5798000000001"},
    "tier_thresholds": [1, 3],  # small, so that histories climb the staircase
    "treatments": {
        "antibiotics": {
            "included_days": 6,
            "tiers": [
                {"course_fee": "6915.00", "day_fee": "1485.00"},
                {"course_fee": "6411.00", "day_fee": "1366.00"},
                {"course_fee": "6159.00", "day_fee": "1306.00"},
            ],
        },
        "fluids": {
            "included_days": 3,
            "tiers": [
                {"course_fee": "1343.00", "day_fee": "341.00"},
                {"course_fee": "1274.00", "day_fee": "309.00"},
                {"course_fee": "1240.00", "day_fee": "292.00"},
            ],
        },
        "pump": {
            "included_days": 6,
            "tiers": [
                {"course_fee": "2049.00", "day_fee": "341.00"},
                {"course_fee": "1912.00", "day_fee": "309.00"},
                {"course_fee": "1843.00", "day_fee": "292.00"},
            ],
        },
    },
}


def tariff(id: int, valid_from: date, *, indexed: bool, scale: int) -> TariffVersion:
    """A version whose rates are the 2021 rates plus `scale` percent."""
    doc = copy.deepcopy(BASE_DOCUMENT)
    doc.update(valid_from=valid_from.isoformat(), indexed=indexed)
    for treatment in doc["treatments"].values():
        for tier in treatment["tiers"]:
            for fee in ("course_fee", "day_fee"):
                kr = int(tier[fee].split(".")[0]) * (100 + scale)
                tier[fee] = f"{kr // 100}.{kr % 100:02d}"
    return tariff_from_document(id, doc)


@dataclass
class Ledger:
    """The service's bookkeeping in memory: courses, placements and issued lines."""

    versions: list[TariffVersion] = field(
        default_factory=lambda: [tariff(1, date(2023, 1, 1), indexed=False, scale=0)]
    )
    index: dict[int, int] = field(
        default_factory=lambda: {year: 100 + 3 * (year - 2020) for year in range(2020, 2027)}
    )
    courses: dict[str, CourseFacts] = field(default_factory=dict)
    created: dict[str, datetime] = field(default_factory=dict)
    placements: dict[str, Placement] = field(default_factory=dict)
    issued: list[IssuedLine] = field(default_factory=list)
    reasons: dict[str, AdjustmentReason] = field(default_factory=dict)
    statements: list[tuple[Period, list[DeltaLine], dict[str, AdjustmentReason]]] = field(
        default_factory=list
    )
    open_period: Period = FIRST_PERIOD

    def owed(self, period: Period, tiers: dict[str, Placement]) -> list[OwedLine]:
        return [
            line
            for c in self.courses.values()
            if c.course_id in tiers
            for line in owed_lines(
                c,
                version_for(self.versions, c.start_date),
                tiers[c.course_id].tier,
                self.index,
                period,
            )
        ]

    def draft(self, period: Period) -> tuple[list[DeltaLine], dict[str, Placement]]:
        next_free: dict[int, int] = {}
        for placement in self.placements.values():
            next_free[placement.year] = max(
                next_free.get(placement.year, 1), placement.position + 1
            )
        new = [
            StaircaseCandidate(c.course_id, c.start_date, self.created[c.course_id])
            for c in self.courses.values()
            if c.course_id not in self.placements and is_billable_by(c, period)
        ]
        placed = assign_positions(
            new, next_free, lambda start: version_for(self.versions, start).tier_thresholds
        )
        owed = self.owed(period, {**self.placements, **placed})
        return statement_delta(owed, self.issued, period, self.reasons), placed

    def issue(self) -> None:
        period = self.open_period
        lines, placed = self.draft(period)
        assert not set(placed) & set(self.placements), "a course was placed twice"
        self.placements.update(placed)
        self.issued.extend(as_issued(line) for line in lines)
        self.statements.append((period, lines, dict(self.reasons)))
        self.reasons.clear()
        self.open_period = period.next()
        # A re-run of the statement just issued, with nothing new, adds nothing.
        assert self.draft(period) == ([], {})


# --- the history -----------------------------------------------------------------------

Event = tuple[Any, ...]
course_ref = st.integers(min_value=0, max_value=30)
register = st.tuples(
    st.just("register"),
    st.integers(min_value=-70, max_value=25),
    st.sampled_from(TREATMENT_TYPES),
    st.sampled_from(MUNICIPALITIES),
    st.sampled_from(HOSPITALS),
)
visit = st.tuples(st.just("visit"), course_ref, st.integers(min_value=0, max_value=40))
complete = st.tuples(st.just("complete"), course_ref, st.integers(min_value=0, max_value=40))
issue = st.tuples(st.just("issue"))
events: st.SearchStrategy[Event] = st.one_of(
    # The common events are listed more than once to make them more frequent.
    register,
    register,
    register,
    visit,
    visit,
    complete,
    complete,
    issue,
    issue,
    issue,
    st.tuples(st.just("cancel"), course_ref),
    st.tuples(st.just("correct_start"), course_ref, st.integers(min_value=-12, max_value=12)),
    st.tuples(st.just("correct_end"), course_ref, st.integers(min_value=-12, max_value=12)),
    st.tuples(st.just("correct_type"), course_ref, st.sampled_from(TREATMENT_TYPES)),
    st.tuples(st.just("correct_municipality"), course_ref, st.sampled_from(MUNICIPALITIES)),
    st.tuples(st.just("index"), st.integers(2023, 2025), st.integers(min_value=90, max_value=130)),
    st.tuples(st.just("version"), st.integers(min_value=-120, max_value=20), st.booleans()),
)
histories = st.lists(events, min_size=20, max_size=80)


def play(ledger: Ledger, event: Event) -> None:
    """Apply one event; events that the service would refuse are skipped."""
    kind = event[0]
    now = ledger.open_period.first_day
    ids = sorted(ledger.courses)
    if kind == "issue":
        if ledger.open_period <= LAST_ISSUE_IN_HISTORY:
            ledger.issue()
        return
    if kind == "register":
        _, offset, treatment_type, municipality, hospital = event
        course_id = f"c{len(ids):02d}"
        start = max(EARLIEST_START, now + timedelta(days=offset))
        ledger.courses[course_id] = CourseFacts(
            course_id=course_id,
            municipality_code=municipality,
            hospital_code=hospital,
            treatment_type=treatment_type,
            start_date=start,
            end_date=None,
            last_administered_date=None,
            status="active",
        )
        ledger.created[course_id] = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=len(ids))
        return
    if kind == "index":
        _, year, value = event
        ledger.index[year] = value
        return
    if kind == "version":
        _, offset, indexed = event
        valid_from = max(date(2023, 1, 2), now + timedelta(days=offset))
        if all(v.valid_from != valid_from for v in ledger.versions):
            number = len(ledger.versions) + 1
            ledger.versions.append(tariff(number, valid_from, indexed=indexed, scale=number))
        return
    if not ids:
        return
    course_id = ids[event[1] % len(ids)]
    facts = ledger.courses[course_id]
    if facts.status == "cancelled":
        return
    changed = correct(facts, event)
    if changed is None:
        return
    ledger.courses[course_id] = changed
    if kind == "cancel":
        ledger.reasons[course_id] = "cancellation"
    elif kind.startswith("correct_"):
        ledger.reasons.setdefault(course_id, "correction")


def correct(facts: CourseFacts, event: Event) -> CourseFacts | None:
    kind = event[0]
    if kind == "visit" and facts.status == "active":
        day = facts.start_date + timedelta(days=event[2])
        latest = max(day, facts.last_administered_date or day)
        return replace(facts, last_administered_date=latest)
    if kind == "complete" and facts.status == "active":
        return replace(facts, status="completed", end_date=facts.start_date + timedelta(event[2]))
    if kind == "cancel":
        return replace(facts, status="cancelled")
    if kind == "correct_start":
        start = facts.start_date + timedelta(days=event[2])
        if not EARLIEST_START <= start <= LATEST_START:
            return None
        if facts.end_date is not None and start > facts.end_date:
            return None
        return replace(facts, start_date=start)
    if kind == "correct_end" and facts.end_date is not None:
        end = facts.end_date + timedelta(days=event[2])
        return replace(facts, end_date=end) if facts.start_date <= end <= LATEST_END else None
    if kind == "correct_type":
        return replace(facts, treatment_type=event[2])
    if kind == "correct_municipality":
        return replace(facts, municipality_code=event[2])
    return None


def net_by_key(lines: Iterable[PricedLine]) -> dict[LineKey, int]:
    net: dict[LineKey, int] = defaultdict(int)
    for line in lines:
        net[line.key] += line.quantity
    return {key: quantity for key, quantity in net.items() if quantity}


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=histories)
def test_every_course_is_billed_exactly_what_it_owes_once_settled(history: list[Event]) -> None:
    ledger = Ledger()
    for event in history:
        play(ledger, event)
    while ledger.open_period <= SETTLED_PERIOD:
        ledger.issue()
    final = ledger.statements[-1][0]

    owed = ledger.owed(final, ledger.placements)
    issued_per_course: dict[str, int] = defaultdict(int)
    owed_per_course: dict[str, int] = defaultdict(int)
    for issued in ledger.issued:
        issued_per_course[issued.course_id] += issued.amount
    for line in owed:
        owed_per_course[line.course_id] += line.amount
    for course_id, facts in ledger.courses.items():
        assert issued_per_course[course_id] == owed_per_course[course_id]
        if facts.status == "cancelled":
            assert issued_per_course[course_id] == 0
    # Nothing billed twice: line by line, what was issued is what is owed.
    assert net_by_key(ledger.issued) == net_by_key(owed)
    # Every course that owes something was placed once, and positions are never reused.
    assert {line.course_id for line in owed} <= set(ledger.placements)
    by_year: dict[int, list[int]] = defaultdict(list)
    for placement in ledger.placements.values():
        by_year[placement.year].append(placement.position)
    for positions in by_year.values():
        assert sorted(positions) == list(range(1, len(positions) + 1))


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=histories)
def test_statements_are_shaped_as_the_agreement_says(history: list[Event]) -> None:
    ledger = Ledger()
    for event in history:
        play(ledger, event)
    while ledger.open_period <= SETTLED_PERIOD:
        ledger.issue()

    ever_issued: set[str] = set()
    for period, lines, reasons in ledger.statements:
        assert lines == sorted(lines, key=lambda line: line.key)
        for line in lines:
            assert line.quantity != 0
            assert line.amount == line.quantity * line.unit_price
            assert line.period <= period  # never ahead of the statement
            assert line.tier == ledger.placements[line.course_id].tier
            if line.period == period:
                regular: tuple[bool, AdjustmentReason | None] = (False, None)
                assert (line.adjustment, line.reason) == regular
                assert line.quantity > 0  # a period is issued once, so nothing to credit yet
            else:
                assert line.adjustment
                expected = expected_reason(line, reasons, ever_issued)
                if expected is not None:
                    assert line.reason == expected
        ever_issued |= {line.course_id for line in lines}


def expected_reason(
    line: DeltaLine, reasons: dict[str, AdjustmentReason], ever_issued: set[str]
) -> Literal["cancellation", "late_registration"] | None:
    if reasons.get(line.course_id) == "cancellation":
        return "cancellation"
    if line.course_id not in ever_issued:
        return "late_registration"
    return None
