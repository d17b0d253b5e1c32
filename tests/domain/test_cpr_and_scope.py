"""CPR rules, the referral scope rules and visit deviations: pure, no database."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.cpr import InvalidCpr, century_for, contains_cpr, normalize_cpr
from service.domain.scope import ReferralFacts, scope_violations
from service.domain.visits import VisitFacts, visit_deviations
from service.kit.clock import LOCAL_TZ


@pytest.mark.parametrize(
    ("digit7", "yy", "century"),
    [
        (0, 99, 1900),
        (3, 0, 1900),
        (4, 36, 2000),
        (4, 37, 1900),
        (9, 0, 2000),
        (9, 99, 1900),
        (5, 57, 2000),
        (5, 58, 1800),
        (8, 0, 2000),
    ],
)
def test_century_from_the_seventh_digit(digit7: int, yy: int, century: int) -> None:
    assert century_for(digit7, yy) == century


@pytest.mark.parametrize(
    ("text", "digits"),
    [("0101501234", "0101501234"), ("010150-1234", "0101501234"), (" 2902004000 ", "2902004000")],
)
def test_valid_cpr(text: str, digits: str) -> None:
    assert normalize_cpr(text) == digits


@pytest.mark.parametrize(
    "text",
    [
        "3201501234",
        "0013501234",
        "2902011234",  # 29 Feb 1901: not a leap year
        "2902014000",  # digit 7 = 4, yy 01 → 2001: not a leap year
        "01015012345",
        "010150--1234",
        "01-01501234",
        "",
        "abcdefghij",
    ],
)
def test_invalid_cpr_never_names_the_value(text: str) -> None:
    with pytest.raises(InvalidCpr) as info:
        normalize_cpr(text)
    assert text.strip() == "" or text not in str(info.value)


@given(st.dates(min_value=date(1858, 1, 1), max_value=date(2036, 12, 31)), st.integers(0, 999))
def test_every_real_birth_date_gives_a_valid_cpr_without_modulus_11(
    born: date, serial: int
) -> None:
    yy = born.year % 100
    century = born.year - yy
    digit7 = next(d for d in range(10) if century_for(d, yy) == century)
    cpr = f"{born:%d%m}{yy:02d}{digit7}{serial:03d}"
    assert normalize_cpr(cpr) == cpr


@pytest.mark.parametrize(
    "text",
    [
        "0101501234",
        "010150-1234",
        "Ring til pt. 0101501234 i morgen",
        "pt.010150-1234.",
        "cpr0101501234",  # letters may touch it
        "HGH-0101501234",
        "123456-0101501234",  # found behind a hyphenated number
        "2902004000",  # 29 Feb 2000
        "\u0660\u0661\u0660\u0661\u0665\u0660\u0661\u0662\u0663\u0664",  # Arabic-Indic
        "\uff10\uff11\uff10\uff11\uff15\uff10\uff0d\uff11\uff12\uff13\uff14",  # full-width
        "010150\u20101234",  # a typed hyphen
    ],
)
def test_free_text_with_a_cpr_number(text: str) -> None:
    assert contains_cpr(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Infektionsmedicinsk afd.",
        "+45 38 68 00 00",  # Danish phone numbers have 8 digits
        "38680000",
        "+4538680000",  # with the country code: day 45
        "EPJ-2024-000123",
        "HGH-2024-0000000001",  # day 00
        "1234567890",  # month 34
        "3102501234",  # 31 February
        "2902011234",  # 29 Feb 1901
        "01015012345",  # 11 digits: part of a longer number
        "5790000000001",  # a GLN
        "010150 1234",  # a space is no hyphen: two numbers
        "010150--1234",
        "2024-03-28 08:00",
    ],
)
def test_ordinary_text_has_no_cpr_number(text: str) -> None:
    assert not contains_cpr(text)


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)),
    st.integers(0, 3999),
    st.sampled_from(["", "-"]),
    st.text(st.characters(blacklist_categories=("Nd",)), max_size=20),
    st.text(st.characters(blacklist_categories=("Nd",)), max_size=20),
)
def test_a_cpr_number_is_found_in_any_text(
    born: date, serial: int, hyphen: str, before: str, after: str
) -> None:
    assert contains_cpr(f"{before}{born:%d%m%y}{hyphen}{serial:04d}{after}")


@given(st.text(st.characters(blacklist_categories=("Nd",))))
def test_text_without_digits_never_holds_one(text: str) -> None:
    assert not contains_cpr(text)


def facts(**overrides: object) -> ReferralFacts:
    values: dict[str, object] = {
        "treatment_type": "antibiotics",
        "visits_per_day": 3,
        "administration_times": [time(8), time(15), time(22)],
        "minutes_per_administration": 30,
        "first_dose_given_in_hospital": True,
        "municipality_code": "157",
        "hospital_code": "HGH",
        "known_municipalities": {"157"},
        "known_hospitals": {"HGH"},
    }
    values.update(overrides)
    return ReferralFacts(**values)  # type: ignore[arg-type]


def test_a_referral_in_scope_has_no_violations() -> None:
    assert scope_violations(facts()) == []


@pytest.mark.parametrize(
    ("boundary", "ok"),
    [(time(7, 0), True), (time(6, 59), False), (time(23, 0), True), (time(23, 1), False)],
)
def test_the_day_is_07_to_23_inclusive(boundary: time, ok: bool) -> None:
    violations = scope_violations(facts(visits_per_day=1, administration_times=[boundary]))
    assert (violations == []) is ok


@pytest.mark.parametrize(
    ("visits", "minutes", "codes"),
    [(4, 60, []), (5, 60, ["too_many_visits_per_day"]), (4, 61, ["administration_too_long"])],
)
def test_limits(visits: int, minutes: int, codes: list[str]) -> None:
    times = [time(8 + 3 * i) for i in range(visits)]
    result = scope_violations(
        facts(visits_per_day=visits, administration_times=times, minutes_per_administration=minutes)
    )
    assert [v.code for v in result] == codes


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


def test_the_fifth_visit_of_a_day_is_flagged_not_the_first_four() -> None:
    day = date(2024, 3, 28)
    visits = [VisitFacts(f"v{i}", local(day, 8 + 3 * i), 30) for i in (4, 3, 2, 1, 0)]
    flags = visit_deviations(visits, day, None)
    assert flags["v4"] == ["over_4_visits_per_day"]
    assert all(flags[f"v{i}"] == [] for i in range(4))


def test_hours_duration_and_dates() -> None:
    day = date(2024, 3, 28)
    flags = visit_deviations(
        [
            VisitFacts("early", local(day, 6, 30), 30),
            VisitFacts("late", local(day, 23, 30), 30),
            VisitFacts("long", local(day, 12), 61),
            VisitFacts("after", local(day + timedelta(days=3), 12), 30),
            VisitFacts("before", local(day - timedelta(days=1), 12), 30),
        ],
        day,
        day + timedelta(days=2),
    )
    assert flags == {
        "early": ["outside_hours"],
        "late": ["outside_hours"],
        "long": ["over_60_minutes"],
        "after": ["outside_course_dates"],
        "before": ["outside_course_dates"],
    }


@pytest.mark.parametrize(
    "digits",
    [
        "\u0660\u0661\u0660\u0661\u0665\u0660\u0661\u0662\u0663\u0664",
        "\uff10\uff11\uff10\uff11\uff15\uff10\uff11\uff12\uff13\uff14",
    ],
)
def test_a_cpr_is_ascii_digits_only(digits: str) -> None:
    assert int(digits) == 101501234  # Python reads them as digits: the rule must not
    with pytest.raises(InvalidCpr):
        normalize_cpr(digits)


def test_periods_and_quarters_are_ascii_digits_only() -> None:
    from service.domain.monitoring import InvalidQuarter, Quarter
    from service.domain.settlement import InvalidPeriod, Period

    with pytest.raises(InvalidPeriod):
        Period.parse("\u0662\u0660\u0662\u0664-\u0660\u0663")
    with pytest.raises(InvalidQuarter):
        Quarter.parse("\uff12\uff10\uff12\uff14Q1")
