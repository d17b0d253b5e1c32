"""Monitoring's pure core: quarters, nearest-rank percentiles, buckets, ratios, the UTC
daytime windows that stand in for local time in SQL, and figures from grouped counts."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.daytime import DaytimeWindow, daytime_windows, outside_hours
from service.domain.monitoring import (
    CompletedGroup,
    CourseDayGroup,
    CourseStartGroup,
    Inputs,
    InvalidQuarter,
    Quarter,
    ReferralGroup,
    VisitGroup,
    by_municipality,
    figures,
    length_bucket,
    length_days,
    mean_text,
    nearest_rank,
    share_text,
)
from service.domain.scope import within_daytime

CPH = ZoneInfo("Europe/Copenhagen")


# --- quarters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2024Q1", date(2024, 1, 1), date(2024, 3, 31)),
        ("2024Q2", date(2024, 4, 1), date(2024, 6, 30)),
        ("2024Q3", date(2024, 7, 1), date(2024, 9, 30)),
        ("2024Q4", date(2024, 10, 1), date(2024, 12, 31)),
        ("2023Q1", date(2023, 1, 1), date(2023, 3, 31)),
    ],
)
def test_a_quarter_is_three_calendar_months(text: str, first: date, last: date) -> None:
    q = Quarter.parse(text)
    assert (q.first_day, q.last_day, str(q)) == (first, last, text)


@pytest.mark.parametrize(
    "text", ["2024Q0", "2024Q5", "2024-Q1", "2024q1", "24Q1", "2024Q1 ", " 2024Q1", "", "1999Q4"]
)
def test_anything_else_is_not_a_quarter(text: str) -> None:
    with pytest.raises(InvalidQuarter) as caught:
        Quarter.parse(text)
    assert caught.value.code == "invalid_quarter"


def test_a_quarter_in_utc_runs_from_local_midnight_to_local_midnight() -> None:
    start, end = Quarter(2024, 1).instants(CPH)
    assert start == datetime(2023, 12, 31, 23, 0, tzinfo=UTC)  # winter time, +01:00
    assert end == datetime(2024, 3, 31, 22, 0, tzinfo=UTC)  # 1 April, summer time, +02:00


# --- nearest rank -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([], 50, None),
        ([7], 50, 7),
        ([7], 90, 7),
        ([10, 20], 50, 10),  # even count: the lower middle value
        ([10, 20], 51, 20),
        ([1, 2, 3], 50, 2),
        (list(range(1, 11)), 50, 5),
        (list(range(1, 11)), 90, 9),
        (list(range(1, 11)), 91, 10),
        (list(range(1, 11)), 100, 10),
        ([30, 30, 30, 45, 15], 90, 45),
    ],
)
def test_nearest_rank(values: list[int], percent: int, expected: int | None) -> None:
    assert nearest_rank(Counter(values), percent) == expected


@given(st.lists(st.integers(0, 500), min_size=1, max_size=200), st.integers(1, 100))
def test_nearest_rank_is_the_value_at_rank_ceil_p_n(values: list[int], percent: int) -> None:
    ordered = sorted(values)
    rank = math.ceil(Fraction(percent, 100) * len(values))
    assert nearest_rank(Counter(values), percent) == ordered[rank - 1]


@given(st.dictionaries(st.integers(0, 300), st.integers(0, 1000), max_size=30))
def test_nearest_rank_of_a_histogram_is_monotone_and_a_value_seen(hist: dict[int, int]) -> None:
    median, p90 = nearest_rank(hist, 50), nearest_rank(hist, 90)
    if sum(hist.values()) == 0:
        assert median is None and p90 is None
    else:
        assert median is not None and p90 is not None
        assert median <= p90
        assert hist[median] > 0 and hist[p90] > 0


def test_a_percentile_must_be_above_0_and_at_most_100() -> None:
    for bad in (0, 101, -5):
        with pytest.raises(ValueError):
            nearest_rank({1: 1}, bad)


# --- lengths, buckets, ratios ----------------------------------------------------------


def test_a_course_length_counts_the_start_and_the_end_date() -> None:
    assert length_days(date(2024, 3, 28), date(2024, 4, 5)) == 9
    assert length_days(date(2024, 3, 28), date(2024, 3, 28)) == 1


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (1, "1-3"),
        (3, "1-3"),
        (4, "4-6"),
        (6, "4-6"),
        (7, "7-14"),
        (14, "7-14"),
        (15, "15-28"),
        (28, "15-28"),
        (29, "29+"),
        (400, "29+"),
    ],
)
def test_length_buckets(days: int, bucket: str) -> None:
    assert length_bucket(days) == bucket


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (share_text(1, 3), "0.3333"),
        (share_text(2, 3), "0.6667"),
        (share_text(1, 8), "0.1250"),
        (share_text(3, 3), "1.0000"),
        (share_text(0, 5), "0.0000"),
        (share_text(0, 0), None),
        (mean_text(15, 8), "1.88"),  # 1.875: half up
        (mean_text(13, 6), "2.17"),
        (mean_text(7, 4), "1.75"),
        (mean_text(1, 0), None),
    ],
)
def test_shares_and_means_are_rounded_half_up(text: str | None, expected: str | None) -> None:
    assert text == expected


@given(st.integers(0, 10**9), st.integers(1, 10**9))
def test_a_share_is_within_half_a_unit_of_the_last_place(part: int, whole: int) -> None:
    text = share_text(part, whole)
    assert text is not None and len(text.split(".")[1]) == 4
    assert abs(Fraction(Decimal(text)) - Fraction(part, whole)) <= Fraction(1, 20000)


# --- daytime windows ---------------------------------------------------------------------


def test_winter_then_summer_time_in_the_first_quarter() -> None:
    assert daytime_windows(*Quarter(2024, 1).instants(CPH), CPH) == [
        DaytimeWindow(None, time(6, 0), time(22, 0)),
        DaytimeWindow(datetime(2024, 3, 31, 1, 0, tzinfo=UTC), time(5, 0), time(21, 0)),
    ]
    assert daytime_windows(*Quarter(2024, 2).instants(CPH), CPH) == [
        DaytimeWindow(None, time(5, 0), time(21, 0))
    ]
    assert daytime_windows(*Quarter(2024, 4).instants(CPH), CPH) == [
        DaytimeWindow(None, time(5, 0), time(21, 0)),
        DaytimeWindow(datetime(2024, 10, 27, 1, 0, tzinfo=UTC), time(6, 0), time(22, 0)),
    ]


@pytest.mark.parametrize("quarter", [Quarter(2024, n) for n in (1, 2, 3, 4)] + [Quarter(2025, 4)])
@given(fraction=st.fractions(0, 1), microsecond=st.integers(0, 999_999))
def test_outside_hours_by_utc_windows_is_the_local_rule(
    quarter: Quarter, fraction: Fraction, microsecond: int
) -> None:
    start, end = quarter.instants(CPH)
    span = (end - start).total_seconds()
    instant = start + timedelta(seconds=int(span * fraction), microseconds=microsecond)
    if instant >= end:
        return
    windows = daytime_windows(start, end, CPH)
    local = instant.astimezone(CPH).time().replace(tzinfo=None)
    assert outside_hours(instant, windows) == (not within_daytime(local))


@pytest.mark.parametrize(
    ("local", "outside"),
    [
        ("2024-01-10T07:00:00+01:00", False),
        ("2024-01-10T06:59:59+01:00", True),
        ("2024-01-10T23:00:00+01:00", False),
        ("2024-01-10T23:00:01+01:00", True),
        ("2024-03-31T01:30:00+01:00", True),  # the night of the change, before it
        ("2024-03-31T23:30:00+02:00", True),  # 21:30 UTC: inside the winter window
        ("2024-03-31T22:30:00+02:00", False),
        ("2024-10-27T00:00:00+02:00", True),  # 22:00 UTC the day before: summer time still
        ("2024-10-27T22:30:00+01:00", False),
    ],
)
def test_outside_hours_around_the_changes(local: str, outside: bool) -> None:
    quarter = Quarter(2024, 1) if local.startswith("2024-0") else Quarter(2024, 4)
    windows = daytime_windows(*quarter.instants(CPH), CPH)
    assert outside_hours(datetime.fromisoformat(local), windows) is outside


# --- figures from grouped counts ----------------------------------------------------------


def _inputs() -> Inputs:
    return Inputs(
        referrals=[
            ReferralGroup("157", "antibiotics", "accepted", None, 3),
            ReferralGroup("157", "fluids", "rejected", "parenteral_nutrition_policy", 2),
            ReferralGroup("157", "pump", "withdrawn", None, 1),
            ReferralGroup("101", "pump", "rejected", "capacity", 1),
            ReferralGroup("101", "pump", "pending", None, 4),
        ],
        course_starts=[
            CourseStartGroup("157", "antibiotics", "home", 3, 2),
            CourseStartGroup("157", "antibiotics", "clinic", 2, 1),
            CourseStartGroup("101", "fluids", "home", 1, 1),
        ],
        completed=[
            CompletedGroup("157", date(2024, 1, 1), date(2024, 1, 9), 2),  # 9 days
            CompletedGroup("101", date(2024, 2, 1), date(2024, 2, 1), 1),  # 1 day
        ],
        visits=[
            VisitGroup("157", "antibiotics", "home", True, 30, False, False, 10),
            VisitGroup("157", "antibiotics", "home", True, 75, True, False, 1),
            VisitGroup("157", "antibiotics", "clinic", False, 20, False, True, 2),
            VisitGroup("101", "fluids", "clinic", True, 10, False, False, 4),
        ],
        course_days=[
            CourseDayGroup("157", 3, 3, 2),
            CourseDayGroup("157", 6, 5, 1),  # 2 visits over 4, 5 doses: "5+"
            CourseDayGroup("157", 2, 0, 1),  # no dose: not a course-day with an administration
            CourseDayGroup("101", 1, 1, 4),
        ],
    )


def test_figures_of_grouped_counts() -> None:
    f = figures(_inputs())
    assert f.referred == 11
    assert f.referrals_by_status == {"accepted": 3, "rejected": 3, "withdrawn": 1, "pending": 4}
    assert f.rejected_by_reason == {
        "capacity": 1,
        "competence": 0,
        "home_unsuitable": 0,
        "patient_declined": 0,
        "parenteral_nutrition_policy": 2,
        "other": 0,
    }
    assert {k: (t.referred, t.accepted, t.courses_started, t.administrations)
            for k, t in f.by_treatment.items()} == {
        "antibiotics": (3, 3, 3, 11),
        "fluids": (2, 0, 1, 4),
        "pump": (6, 0, 0, 0),
    }  # fmt: skip
    assert (f.courses_started, f.courses_by_setting) == (4, {"home": 3, "clinic": 1})
    assert f.planned_visits_per_day == {1: 1, 2: 1, 3: 2, 4: 0}
    assert f.planned_visits_total == 9
    assert f.course_length_buckets == {"1-3": 1, "4-6": 0, "7-14": 2, "15-28": 0, "29+": 0}
    assert (f.courses_completed, f.course_length_median) == (3, 9)
    assert (f.visits, f.administrations) == (17, 15)
    assert f.administrations_by_setting == {"home": 11, "clinic": 4}
    assert f.course_days == 7
    assert f.administrations_per_course_day == {"1": 4, "2": 0, "3": 2, "4": 0, "5+": 1}
    # 10 x 4, 10 x 30, 1 x 75: rank 8 of 15 is 30, rank 14 is 30
    assert (f.minutes_median, f.minutes_p90) == (30, 30)
    assert f.deviations == {
        "outside_hours": 1,
        "over_60_minutes": 1,
        "over_4_visits_per_day": 2,
        "outside_course_dates": 2,
    }


def test_the_region_is_the_municipalities_together_not_their_average() -> None:
    inputs = _inputs()
    each = by_municipality(inputs, ["101", "147", "157"])
    region = figures(inputs)
    assert list(each) == ["101", "147", "157"]
    assert each["147"] == figures(Inputs())
    assert each["147"].minutes_median is None and each["147"].referred == 0
    assert each["101"].minutes_median == 10 and each["157"].minutes_median == 30
    assert region.minutes_median == 30
    for name in ("referred", "courses_started", "visits", "administrations", "course_days"):
        assert getattr(region, name) == sum(getattr(f, name) for f in each.values()), name
    assert inputs.municipality_codes() == {"101", "157"}


def test_an_unforeseen_code_is_kept_after_the_known_ones() -> None:
    f = figures(Inputs(referrals=[ReferralGroup("157", "fluids", "rejected", "new_reason", 1)]))
    assert list(f.rejected_by_reason)[-1] == "new_reason"
    assert f.rejected_by_reason["new_reason"] == 1
