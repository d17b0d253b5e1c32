"""Monthly settlement: periods, what a course owes, and statements as owed minus issued.

The worked examples of the brief use the 2021 tariff at tier 1 and amounts in øre.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from service.domain.settlement import (
    CourseFacts,
    DeltaLine,
    InvalidPeriod,
    IssuedLine,
    OwedLine,
    Period,
    PeriodNotEnded,
    PeriodOutOfSequence,
    billable_through,
    check_issuable,
    is_billable_by,
    owed_lines,
    statement_delta,
)
from service.domain.staircase import Placement, StaircaseCandidate, assign_positions
from service.domain.tariff import (
    PriceIndex,
    TariffVersion,
    tariff_from_document,
    version_for,
)
from service.domain.vocabulary import AdjustmentReason, TreatmentType
from tests.support.ledger import as_issued

RATES_2021 = {
    "antibiotics": (6, [("6915.00", "1485.00"), ("6411.00", "1366.00"), ("6159.00", "1306.00")]),
    "fluids": (3, [("1343.00", "341.00"), ("1274.00", "309.00"), ("1240.00", "292.00")]),
    "pump": (6, [("2049.00", "341.00"), ("1912.00", "309.00"), ("1843.00", "292.00")]),
}


def tariff_document(valid_from: str = "2021-10-04", **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "Aftale om IV-behandling i kommunalt regi",
        "valid_from": valid_from,
        "price_level_year": 2020,
        "indexed": False,
        "payer": {"name": "Region Hovedstaden", "cvr": "29190623", "gln": "5798000000001"},
        "tier_thresholds": [1500, 3000],
        "treatments": {
            name: {
                "included_days": days,
                "tiers": [{"course_fee": fee, "day_fee": day} for fee, day in tiers],
            }
            for name, (days, tiers) in RATES_2021.items()
        },
    }
    doc.update(copy.deepcopy(changes))
    return doc


TARIFF_2021 = tariff_from_document(1, tariff_document())


def course(
    course_id: str,
    treatment_type: TreatmentType,
    start: date,
    end: date | None = None,
    *,
    last_administered: date | None = None,
    status: str | None = None,
    municipality: str = "101",
    hospital: str = "RH",
) -> CourseFacts:
    return CourseFacts(
        course_id=course_id,
        municipality_code=municipality,
        hospital_code=hospital,
        treatment_type=treatment_type,
        start_date=start,
        end_date=end,
        last_administered_date=last_administered,
        status=status or ("completed" if end else "active"),  # type: ignore[arg-type]
    )


def summary(lines: Iterable[OwedLine | DeltaLine | IssuedLine]) -> list[tuple[object, ...]]:
    """The lines as (course, kind, period, quantity, unit price, amount), for comparison."""
    return [
        (line.course_id, line.kind, str(line.period), line.quantity, line.unit_price, line.amount)
        for line in lines
    ]


@dataclass
class Book:
    """The settlement's bookkeeping, as the service keeps it, in memory."""

    versions: list[TariffVersion] = field(default_factory=lambda: [TARIFF_2021])
    index: dict[int, int] = field(default_factory=dict)
    courses: dict[str, CourseFacts] = field(default_factory=dict)
    created: dict[str, datetime] = field(default_factory=dict)
    placements: dict[str, Placement] = field(default_factory=dict)
    issued: list[IssuedLine] = field(default_factory=list)
    reasons: dict[str, AdjustmentReason] = field(default_factory=dict)

    def register(self, facts: CourseFacts, created: datetime) -> None:
        self.courses[facts.course_id] = facts
        self.created[facts.course_id] = created

    def correct(self, course_id: str, **changes: Any) -> None:
        self.courses[course_id] = replace(self.courses[course_id], **changes)
        self.reasons.setdefault(course_id, "correction")

    def cancel(self, course_id: str) -> None:
        self.courses[course_id] = replace(self.courses[course_id], status="cancelled")
        self.reasons[course_id] = "cancellation"

    def next_free(self) -> dict[int, int]:
        free: dict[int, int] = {}
        for placement in self.placements.values():
            free[placement.year] = max(free.get(placement.year, 1), placement.position + 1)
        return free

    def draft(self, period: Period) -> tuple[list[DeltaLine], dict[str, Placement]]:
        new = [
            StaircaseCandidate(c.course_id, c.start_date, self.created[c.course_id])
            for c in self.courses.values()
            if c.course_id not in self.placements and is_billable_by(c, period)
        ]
        placed = assign_positions(
            new,
            self.next_free(),
            lambda start: version_for(self.versions, start).tier_thresholds,
        )
        tiers = {**self.placements, **placed}
        owed = [
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
        return statement_delta(owed, self.issued, period, self.reasons), placed

    def issue(self, period: Period) -> list[DeltaLine]:
        lines, placed = self.draft(period)
        self.placements.update(placed)
        self.issued.extend(as_issued(line) for line in lines)
        self.reasons.clear()
        return lines


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


P = Period.parse


# --- periods ---------------------------------------------------------------------------


def test_a_period_is_a_calendar_month() -> None:
    february = P("2024-02")

    assert (february.year, february.month) == (2024, 2)
    assert str(february) == "2024-02"
    assert february.first_day == date(2024, 2, 1)
    assert february.last_day == date(2024, 2, 29)
    assert february.contains(date(2024, 2, 29))
    assert not february.contains(date(2024, 3, 1))
    assert february.next() == P("2024-03")
    assert P("2024-12").next() == P("2025-01")
    assert P("2025-01").previous() == P("2024-12")
    assert Period.of(date(2024, 4, 5)) == P("2024-04")
    assert sorted([P("2025-01"), P("2024-12"), P("2024-02")]) == [
        P("2024-02"),
        P("2024-12"),
        P("2025-01"),
    ]


@pytest.mark.parametrize("text", ["2024-13", "2024-00", "2024-1", "24-01", "2024/01", " 2024-01"])
def test_a_period_is_written_yyyy_mm(text: str) -> None:
    with pytest.raises(InvalidPeriod) as raised:
        P(text)
    assert raised.value.code == "invalid_period"


@pytest.mark.parametrize(
    ("period", "last_issued", "today", "error"),
    [
        ("2024-03", None, date(2024, 4, 1), None),
        ("2023-11", None, date(2024, 4, 1), None),
        ("2024-04", "2024-03", date(2024, 5, 1), None),
        ("2024-03", None, date(2024, 3, 31), PeriodNotEnded),
        ("2024-05", "2024-03", date(2024, 6, 1), PeriodOutOfSequence),
        ("2024-03", "2024-03", date(2024, 6, 1), PeriodOutOfSequence),
    ],
)
def test_periods_are_issued_once_ended_and_in_sequence(
    period: str, last_issued: str | None, today: date, error: type[Exception] | None
) -> None:
    last = P(last_issued) if last_issued else None
    if error is None:
        check_issuable(P(period), last_issued=last, today=today)
    else:
        with pytest.raises(error):
            check_issuable(P(period), last_issued=last, today=today)


# --- what a course owes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "through"),
    [
        (course("c", "pump", date(2024, 2, 10), date(2024, 2, 20)), date(2024, 2, 20)),
        (
            course("c", "pump", date(2024, 2, 10), last_administered=date(2024, 2, 14)),
            date(2024, 2, 14),
        ),
        (course("c", "pump", date(2024, 2, 10)), None),
        (
            course("c", "pump", date(2024, 2, 10), date(2024, 2, 20), status="cancelled"),
            None,
        ),
    ],
    ids=["completed", "active", "active-no-given-visit", "cancelled"],
)
def test_what_a_course_is_billed_through(facts: CourseFacts, through: date | None) -> None:
    assert billable_through(facts) == through


def test_a_completed_course_has_an_end_date_not_before_its_start() -> None:
    with pytest.raises(ValueError, match="end date"):
        course("c", "pump", date(2024, 2, 10), status="completed")
    with pytest.raises(ValueError, match="before the start"):
        course("c", "pump", date(2024, 2, 10), date(2024, 2, 9))


@pytest.mark.parametrize(
    ("facts", "through_period", "expected"),
    [
        pytest.param(
            course("ex1", "antibiotics", date(2024, 3, 28), date(2024, 4, 5)),
            "2024-04",
            [
                ("ex1", "course_fee", "2024-03", 1, 691500, 691500),
                ("ex1", "day_fee", "2024-04", 3, 148500, 445500),
            ],
            id="example-1-antibiotics-days-7-to-9-in-april",
        ),
        pytest.param(
            course("ex2", "fluids", date(2024, 1, 30), date(2024, 2, 2)),
            "2024-02",
            [
                ("ex2", "course_fee", "2024-01", 1, 134300, 134300),
                ("ex2", "day_fee", "2024-02", 1, 34100, 34100),
            ],
            id="example-2-fluids-day-4-in-february",
        ),
        pytest.param(
            course("ex1", "antibiotics", date(2024, 3, 28), date(2024, 4, 5)),
            "2024-03",
            [("ex1", "course_fee", "2024-03", 1, 691500, 691500)],
            id="nothing-after-the-statement-period",
        ),
        pytest.param(
            course("six", "antibiotics", date(2024, 3, 1), date(2024, 3, 6)),
            "2024-12",
            [("six", "course_fee", "2024-03", 1, 691500, 691500)],
            id="six-antibiotics-days-are-included",
        ),
        pytest.param(
            course("long", "fluids", date(2024, 1, 20), date(2024, 3, 2)),
            "2024-12",
            [
                ("long", "course_fee", "2024-01", 1, 134300, 134300),
                ("long", "day_fee", "2024-01", 9, 34100, 306900),
                ("long", "day_fee", "2024-02", 29, 34100, 988900),
                ("long", "day_fee", "2024-03", 2, 34100, 68200),
            ],
            id="day-fees-by-the-month-they-fall-in",
        ),
        pytest.param(
            course("act", "pump", date(2024, 2, 10), last_administered=date(2024, 2, 17)),
            "2024-12",
            [
                ("act", "course_fee", "2024-02", 1, 204900, 204900),
                ("act", "day_fee", "2024-02", 2, 34100, 68200),
            ],
            id="active-through-the-last-given-visit",
        ),
        pytest.param(course("none", "pump", date(2024, 2, 10)), "2024-12", [], id="no-visit"),
        pytest.param(
            course("cx", "pump", date(2024, 2, 10), date(2024, 2, 20), status="cancelled"),
            "2024-12",
            [],
            id="cancelled",
        ),
    ],
)
def test_what_a_course_owes(facts: CourseFacts, through_period: str, expected: list[Any]) -> None:
    lines = owed_lines(facts, TARIFF_2021, 1, {}, P(through_period))

    assert summary(lines) == expected
    assert all(line.tariff_version_id == 1 and line.tier == 1 for line in lines)
    assert is_billable_by(facts, P(through_period)) == bool(lines)


def test_day_fees_use_the_tier_of_the_course() -> None:
    facts = course("t3", "antibiotics", date(2024, 3, 28), date(2024, 4, 5))

    lines = owed_lines(facts, TARIFF_2021, 3, {}, P("2024-04"))

    assert summary(lines) == [
        ("t3", "course_fee", "2024-03", 1, 615900, 615900),
        ("t3", "day_fee", "2024-04", 3, 130600, 391800),
    ]
    assert {line.tier for line in lines} == {3}


def test_an_indexed_tariff_prices_each_line_by_the_year_of_its_period() -> None:
    indexed = tariff_from_document(2, tariff_document(indexed=True))
    index: PriceIndex = {2020: 100, 2024: 110, 2025: 120}
    facts = course("ny", "fluids", date(2024, 12, 30), date(2025, 1, 3))

    lines = owed_lines(facts, indexed, 1, index, P("2025-01"))

    assert summary(lines) == [
        ("ny", "course_fee", "2024-12", 1, 147730, 147730),
        ("ny", "day_fee", "2025-01", 2, 40920, 81840),
    ]


def test_a_tariff_version_after_the_start_date_cannot_price_the_course() -> None:
    later = tariff_from_document(2, tariff_document(valid_from="2025-01-01"))
    with pytest.raises(ValueError, match="before tariff version 2"):
        owed_lines(
            course("c", "pump", date(2024, 6, 1), date(2024, 6, 2)), later, 1, {}, P("2024-06")
        )


# --- statements ------------------------------------------------------------------------


def issued_examples_1_and_2() -> Book:
    """Examples 1 and 2 registered on time and issued January to April 2024."""
    book = Book()
    book.register(
        course("ex2", "fluids", date(2024, 1, 30), date(2024, 2, 2)), at(date(2024, 1, 30))
    )
    assert summary(book.issue(P("2024-01"))) == [
        ("ex2", "course_fee", "2024-01", 1, 134300, 134300)
    ]
    assert summary(book.issue(P("2024-02"))) == [("ex2", "day_fee", "2024-02", 1, 34100, 34100)]
    book.register(
        course("ex1", "antibiotics", date(2024, 3, 28), date(2024, 4, 5)), at(date(2024, 3, 28))
    )
    assert summary(book.issue(P("2024-03"))) == [
        ("ex1", "course_fee", "2024-03", 1, 691500, 691500)
    ]
    assert summary(book.issue(P("2024-04"))) == [("ex1", "day_fee", "2024-04", 3, 148500, 445500)]
    return book


def test_examples_1_and_2_are_billed_in_the_months_their_days_fall_in() -> None:
    book = issued_examples_1_and_2()

    assert book.placements == {"ex2": Placement(2024, 1, 1), "ex1": Placement(2024, 2, 1)}


def test_example_3_a_late_registration_is_settled_in_the_next_statement() -> None:
    book = issued_examples_1_and_2()
    book.register(
        course("pump", "pump", date(2024, 2, 10), date(2024, 2, 20)), at(date(2024, 5, 6))
    )

    may = book.issue(P("2024-05"))

    assert summary(may) == [
        ("pump", "course_fee", "2024-02", 1, 204900, 204900),
        ("pump", "day_fee", "2024-02", 5, 34100, 170500),
    ]
    assert all(line.adjustment and line.reason == "late_registration" for line in may)
    assert book.placements["pump"] == Placement(2024, 3, 1)
    assert book.draft(P("2024-05"))[0] == []
    assert book.issue(P("2024-06")) == []


def test_example_4_a_shortened_course_is_credited_once() -> None:
    book = issued_examples_1_and_2()
    book.correct("ex1", end_date=date(2024, 4, 3))

    may = book.issue(P("2024-05"))

    assert summary(may) == [("ex1", "day_fee", "2024-04", -2, 148500, -297000)]
    assert may[0].adjustment and may[0].reason == "correction"
    assert book.issue(P("2024-06")) == []


def test_example_6_a_cancelled_course_is_credited_in_full() -> None:
    book = issued_examples_1_and_2()
    book.cancel("ex2")

    may = book.issue(P("2024-05"))

    assert summary(may) == [
        ("ex2", "course_fee", "2024-01", -1, 134300, -134300),
        ("ex2", "day_fee", "2024-02", -1, 34100, -34100),
    ]
    assert {line.reason for line in may} == {"cancellation"}
    assert book.placements["ex2"] == Placement(2024, 1, 1)  # a position is never reused
    assert book.issue(P("2024-06")) == []


def test_a_course_that_never_owed_anything_takes_no_position() -> None:
    book = Book()
    book.register(course("active", "pump", date(2024, 1, 3)), at(date(2024, 1, 3)))
    book.register(
        course("void", "pump", date(2024, 1, 4), date(2024, 1, 9), status="cancelled"),
        at(date(2024, 1, 4)),
    )

    assert book.issue(P("2024-01")) == []
    assert book.placements == {}


def test_a_statement_is_regular_for_its_period_and_adjusts_earlier_ones() -> None:
    book = Book()
    book.register(
        course("a", "antibiotics", date(2024, 1, 29), date(2024, 2, 10)), at(date(2024, 1, 29))
    )
    book.issue(P("2024-01"))
    book.register(course("b", "fluids", date(2024, 1, 15), date(2024, 2, 3)), at(date(2024, 2, 20)))

    february = book.issue(P("2024-02"))

    assert [
        (line.course_id, str(line.period), line.adjustment, line.reason) for line in february
    ] == [
        ("b", "2024-01", True, "late_registration"),
        ("b", "2024-01", True, "late_registration"),
        ("a", "2024-02", False, None),
        ("b", "2024-02", False, None),
    ]


def test_late_visits_of_an_active_course_are_a_late_registration() -> None:
    book = Book()
    book.register(
        course("a", "fluids", date(2024, 1, 2), last_administered=date(2024, 1, 10)),
        at(date(2024, 1, 2)),
    )
    book.issue(P("2024-01"))
    book.courses["a"] = replace(book.courses["a"], last_administered_date=date(2024, 1, 12))

    february = book.issue(P("2024-02"))

    assert summary(february) == [("a", "day_fee", "2024-01", 2, 34100, 68200)]
    assert february[0].reason == "late_registration"


def test_a_course_moved_to_another_municipality_is_credited_there_and_debited_here() -> None:
    book = issued_examples_1_and_2()
    book.correct("ex1", municipality_code="147")

    may = book.issue(P("2024-05"))

    assert [(line.municipality_code, line.kind, line.quantity, line.amount) for line in may] == [
        ("101", "course_fee", -1, -691500),
        ("101", "day_fee", -3, -445500),
        ("147", "course_fee", 1, 691500),
        ("147", "day_fee", 3, 445500),
    ]
    assert {line.reason for line in may} == {"correction"}
    assert sum(line.amount for line in may) == 0


def test_a_move_is_recognised_as_a_correction_even_without_being_told() -> None:
    book = issued_examples_1_and_2()
    book.courses["ex2"] = replace(book.courses["ex2"], municipality_code="147")

    may = book.issue(P("2024-05"))

    assert {(line.municipality_code, line.reason) for line in may} == {
        ("101", "correction"),
        ("147", "correction"),
    }


def test_a_type_correction_at_the_same_day_fee_still_moves_the_line() -> None:
    book = Book()
    book.register(course("p", "pump", date(2024, 1, 2), date(2024, 1, 8)), at(date(2024, 1, 2)))
    book.issue(P("2024-01"))
    book.correct("p", treatment_type="fluids")

    february = book.issue(P("2024-02"))

    assert [(line.treatment_type, line.kind, line.quantity, line.amount) for line in february] == [
        ("fluids", "course_fee", 1, 134300),
        ("pump", "course_fee", -1, -204900),
        ("fluids", "day_fee", 4, 136400),
        ("pump", "day_fee", -1, -34100),
    ]
    assert {line.reason for line in february} == {"correction"}


def test_a_version_loaded_with_a_past_valid_from_is_a_tariff_change() -> None:
    book = issued_examples_1_and_2()
    raised = tariff_document(valid_from="2024-03-01")
    raised["treatments"]["antibiotics"]["tiers"][0] = {
        "course_fee": "7000.00",
        "day_fee": "1500.00",
    }
    book.versions.append(tariff_from_document(2, raised))

    may = book.issue(P("2024-05"))

    assert [
        (line.kind, line.quantity, line.unit_price, line.tariff_version_id) for line in may
    ] == [
        ("course_fee", -1, 691500, 1),
        ("course_fee", 1, 700000, 2),
        ("day_fee", -3, 148500, 1),
        ("day_fee", 3, 150000, 2),
    ]
    assert {line.reason for line in may} == {"tariff_change"}


def test_a_revised_price_index_is_an_index_change() -> None:
    indexed = tariff_from_document(1, tariff_document(indexed=True))
    book = Book(versions=[indexed], index={2020: 100, 2024: 110})
    book.register(course("f", "fluids", date(2024, 1, 2), date(2024, 1, 3)), at(date(2024, 1, 2)))
    assert summary(book.issue(P("2024-01"))) == [("f", "course_fee", "2024-01", 1, 147730, 147730)]
    book.index[2024] = 112

    february = book.issue(P("2024-02"))

    assert summary(february) == [
        ("f", "course_fee", "2024-01", -1, 147730, -147730),
        ("f", "course_fee", "2024-01", 1, 150416, 150416),
    ]
    assert {line.reason for line in february} == {"index_change"}


def test_reasons_may_come_from_a_function() -> None:
    book = issued_examples_1_and_2()
    book.courses["ex1"] = replace(book.courses["ex1"], end_date=date(2024, 4, 4))
    owed = owed_lines(book.courses["ex1"], TARIFF_2021, 1, {}, P("2024-05"))

    lines = statement_delta(
        owed,
        [line for line in book.issued if line.course_id == "ex1"],
        P("2024-05"),
        lambda _: "correction",
    )

    assert [(line.quantity, line.reason) for line in lines] == [(-1, "correction")]


def test_lines_after_the_statement_period_are_never_produced() -> None:
    facts = course("c", "fluids", date(2024, 1, 30), date(2024, 3, 5))
    owed = owed_lines(facts, TARIFF_2021, 1, {}, P("2024-12"))

    january = statement_delta(owed, [], P("2024-01"))

    assert summary(january) == [("c", "course_fee", "2024-01", 1, 134300, 134300)]
    assert summary(statement_delta([], [as_issued(line) for line in owed], P("2024-01"))) == [
        ("c", "course_fee", "2024-01", -1, 134300, -134300)
    ]


def test_a_rerun_with_nothing_new_adds_nothing() -> None:
    book = issued_examples_1_and_2()

    for period in ("2024-01", "2024-02", "2024-03", "2024-04"):
        assert book.draft(P(period))[0] == []
