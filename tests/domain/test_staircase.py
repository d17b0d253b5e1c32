"""The staircase: positions fixed at first billing, tiers by position, a new count each year."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.staircase import (
    Placement,
    StaircaseCandidate,
    StaircaseStatus,
    assign_positions,
    staircase_status,
)

THRESHOLDS = (1500, 3000)
CREATED = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def candidate(course_id: str, start: date, minutes: int = 0) -> StaircaseCandidate:
    return StaircaseCandidate(course_id, start, CREATED + timedelta(minutes=minutes))


def test_new_courses_are_counted_by_start_date_then_creation_then_id() -> None:
    courses = [
        candidate("d", date(2024, 3, 1), minutes=0),
        candidate("c", date(2024, 2, 1), minutes=5),
        candidate("b", date(2024, 2, 1), minutes=1),
        candidate("a", date(2024, 2, 1), minutes=5),
    ]

    placements = assign_positions(courses, {}, THRESHOLDS)

    assert {course: p.position for course, p in placements.items()} == {
        "b": 1,
        "a": 2,
        "c": 3,
        "d": 4,
    }


def test_creation_times_compare_as_instants_whatever_their_offset() -> None:
    copenhagen_summer = datetime(2024, 5, 6, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    early = StaircaseCandidate("z", date(2024, 5, 1), copenhagen_summer)
    late = StaircaseCandidate("a", date(2024, 5, 1), datetime(2024, 5, 6, 11, 0, tzinfo=UTC))

    placements = assign_positions([late, early], {}, THRESHOLDS)

    assert placements["z"].position == 1
    assert placements["a"].position == 2


@pytest.mark.parametrize(
    ("next_free", "start", "expected"),
    [
        ({}, date(2024, 2, 10), Placement(2024, 1, 1)),
        ({2024: 3}, date(2024, 2, 10), Placement(2024, 3, 1)),
        ({2024: 1500}, date(2024, 2, 10), Placement(2024, 1500, 1)),
        ({2024: 1501}, date(2024, 2, 10), Placement(2024, 1501, 2)),
        ({2024: 3000}, date(2024, 2, 10), Placement(2024, 3000, 2)),
        ({2024: 3001}, date(2024, 2, 10), Placement(2024, 3001, 3)),
        ({2024: 5000}, date(2025, 1, 2), Placement(2025, 1, 1)),
    ],
)
def test_a_course_takes_the_next_free_position_of_its_start_year(
    next_free: dict[int, int], start: date, expected: Placement
) -> None:
    assert assign_positions([candidate("x", start)], next_free, THRESHOLDS)["x"] == expected


def test_courses_crossing_a_threshold_keep_the_tier_of_their_own_position() -> None:
    courses = [candidate(f"c{n}", date(2024, 6, n)) for n in range(1, 4)]

    placements = assign_positions(courses, {2024: 1500}, THRESHOLDS)

    assert [placements[f"c{n}"] for n in range(1, 4)] == [
        Placement(2024, 1500, 1),
        Placement(2024, 1501, 2),
        Placement(2024, 1502, 2),
    ]


def test_each_year_is_counted_on_its_own() -> None:
    courses = [
        candidate("late-2023", date(2023, 12, 30)),
        candidate("new-year", date(2024, 1, 1)),
        candidate("also-2023", date(2023, 12, 31)),
    ]

    placements = assign_positions(courses, {2023: 3001}, THRESHOLDS)

    assert placements == {
        "late-2023": Placement(2023, 3001, 3),
        "also-2023": Placement(2023, 3002, 3),
        "new-year": Placement(2024, 1, 1),
    }


def test_thresholds_may_come_from_the_version_valid_on_the_start_date() -> None:
    def thresholds(start: date) -> tuple[int, int]:
        return (1, 2) if start >= date(2024, 7, 1) else (1500, 3000)

    placements = assign_positions(
        [candidate("june", date(2024, 6, 30)), candidate("july", date(2024, 7, 1))], {}, thresholds
    )

    assert placements["june"] == Placement(2024, 1, 1)
    assert placements["july"] == Placement(2024, 2, 2)


def test_a_naive_creation_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        StaircaseCandidate("x", date(2024, 1, 1), datetime(2024, 1, 1, 12, 0))  # noqa: DTZ001


def test_a_course_is_placed_once_per_issue() -> None:
    with pytest.raises(ValueError, match="twice"):
        assign_positions(
            [candidate("x", date(2024, 1, 1)), candidate("x", date(2024, 1, 2))], {}, THRESHOLDS
        )


@pytest.mark.parametrize(
    ("counted", "status"),
    [
        (0, StaircaseStatus(1, 1500)),
        (1499, StaircaseStatus(1, 1)),
        (1500, StaircaseStatus(2, 1500)),
        (2999, StaircaseStatus(2, 1)),
        (3000, StaircaseStatus(3, None)),
        (12_000, StaircaseStatus(3, None)),
    ],
)
def test_the_staircase_status_of_a_year(counted: int, status: StaircaseStatus) -> None:
    assert staircase_status(counted, THRESHOLDS) == status


@settings(max_examples=150, deadline=None, database=None)
@given(
    batches=st.lists(
        st.lists(
            st.tuples(
                st.dates(min_value=date(2023, 11, 1), max_value=date(2025, 2, 28)),
                st.integers(min_value=0, max_value=20),
            ),
            max_size=8,
        ),
        max_size=5,
    ),
    thresholds=st.tuples(st.integers(1, 4), st.integers(1, 4)).map(lambda t: (t[0], t[0] + t[1])),
)
def test_positions_are_consecutive_unique_and_never_reused_across_issues(
    batches: list[list[tuple[date, int]]], thresholds: tuple[int, int]
) -> None:
    next_free: dict[int, int] = {}
    placed: dict[str, Placement] = {}
    starts: dict[str, date] = {}
    for number, batch in enumerate(batches):
        new = [
            candidate(f"{number}-{n}", start, minutes) for n, (start, minutes) in enumerate(batch)
        ]
        starts.update((c.course_id, c.start_date) for c in new)
        placements = assign_positions(new, next_free, thresholds)
        assert placements.keys() == {c.course_id for c in new}
        in_order = sorted(new, key=lambda c: (c.start_date, c.created_at, c.course_id))
        for earlier, later in pairwise(in_order):
            if earlier.start_date.year == later.start_date.year:
                assert placements[earlier.course_id].position < placements[later.course_id].position
        for placement in placements.values():
            next_free[placement.year] = max(
                next_free.get(placement.year, 1), placement.position + 1
            )
        placed.update(placements)

    by_year: dict[int, list[int]] = defaultdict(list)
    for course_id, placement in placed.items():
        start = starts[course_id]
        assert placement.year == start.year
        by_year[placement.year].append(placement.position)
        first, second = thresholds
        expected_tier = (
            1 if placement.position <= first else 2 if placement.position <= second else 3
        )
        assert placement.tier == expected_tier
    for positions in by_year.values():
        assert sorted(positions) == list(range(1, len(positions) + 1))
