"""The review rule that warns of a statement far above its usual level (pure)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from service.domain.review import StatementRise, statement_rise_warnings

RULE = StatementRise(percent=50, months=6)


def test_the_threshold_is_exact() -> None:
    history = {"157": [10_000, 10_001]}  # average 10,000.5 øre
    at = statement_rise_warnings({"157": 15_000}, history, RULE)  # 15,000 < 15,000.75
    assert at == []
    assert statement_rise_warnings({"157": 15_000}, {"157": [10_000]}, RULE) == []  # = 150 %
    (over,) = statement_rise_warnings({"157": 15_001}, {"157": [10_000]}, RULE)
    assert (over.total_ore, over.average_ore, over.months) == (15_001, 10_000, 1)


def test_only_the_last_months_count_and_no_history_no_warning() -> None:
    old_high = [1_000] * 6 + [1_000_000]  # the seventh month back is not counted
    assert statement_rise_warnings({"157": 1_600}, {"157": old_high}, RULE)
    assert statement_rise_warnings({"101": 10**9}, {}, RULE) == []
    assert statement_rise_warnings({"101": 10**9}, {"101": [-500, 200]}, RULE) == []


@given(
    total=st.integers(-(10**9), 10**9),
    history=st.lists(st.integers(-(10**7), 10**7), max_size=10),
    percent=st.integers(0, 500),
    months=st.integers(1, 12),
)
def test_a_warning_is_exactly_a_total_above_the_average_by_more_than_the_percent(
    total: int, history: list[int], percent: int, months: int
) -> None:
    rule = StatementRise(percent, months)
    recent = history[:months]
    warned = bool(statement_rise_warnings({"157": total}, {"157": history}, rule))
    average = Fraction(sum(recent), len(recent)) if recent else None
    expected = (
        average is not None and average > 0 and total > average * Fraction(100 + percent, 100)
    )
    assert warned == expected


# --- the holding rules, each at its threshold and one step beyond -------------------------

from dataclasses import replace  # noqa: E402
from datetime import date  # noqa: E402

import pytest  # noqa: E402

from service.domain.review import HoldFacts, HoldRules, add_months, hold_reasons  # noqa: E402

RULES = HoldRules()
THROUGH = date(2024, 6, 30)
PLAIN = HoldFacts(
    course_id="c",
    start_date=date(2024, 3, 1),
    end_date=date(2024, 3, 20),
    completed=True,
    expected_start_date=date(2024, 3, 1),
    registered_on=date(2024, 3, 1),
    administered_visits=40,
    last_administered_date=date(2024, 3, 20),
    previous_end_date=None,
)


@pytest.mark.parametrize(
    ("rule", "at_threshold", "beyond"),
    [
        ("far_from_expected_start", {"expected_start_date": date(2024, 3, 15)},
         {"expected_start_date": date(2024, 3, 16)}),
        ("far_from_expected_start", {"expected_start_date": date(2024, 2, 16)},
         {"expected_start_date": date(2024, 2, 15)}),
        ("back_dated", {"registered_on": date(2024, 6, 1)}, {"registered_on": date(2024, 6, 2)}),
        ("completed_without_dose", {"administered_visits": 1, "last_administered_date":
         date(2024, 3, 20)}, {"administered_visits": 0, "last_administered_date": None}),
        ("end_after_last_dose", {"last_administered_date": date(2024, 3, 18)},
         {"last_administered_date": date(2024, 3, 17)}),
        ("long_course", {"end_date": date(2024, 5, 29), "last_administered_date":
         date(2024, 5, 29)}, {"end_date": date(2024, 5, 30), "last_administered_date":
         date(2024, 5, 30)}),
        ("split_course", {"previous_end_date": date(2024, 2, 22)},
         {"previous_end_date": date(2024, 2, 23)}),
    ],
)  # fmt: skip
def test_a_rule_holds_beyond_its_threshold_and_not_at_it(
    rule: str, at_threshold: dict[str, object], beyond: dict[str, object]
) -> None:
    assert hold_reasons(PLAIN, RULES, THROUGH) == []
    assert rule not in hold_reasons(replace(PLAIN, **at_threshold), RULES, THROUGH)  # type: ignore[arg-type]
    assert rule in hold_reasons(replace(PLAIN, **beyond), RULES, THROUGH)  # type: ignore[arg-type]


def test_an_active_course_is_long_by_the_periods_last_day_and_rules_can_be_off() -> None:
    active = replace(PLAIN, end_date=None, completed=False, last_administered_date=None)
    assert hold_reasons(active, RULES, date(2024, 5, 29)) == []
    assert hold_reasons(active, RULES, date(2024, 5, 30)) == ["long_course"]
    off = HoldRules(enabled=False)
    assert hold_reasons(replace(PLAIN, administered_visits=0), off, THROUGH) == []


def test_months_are_calendar_months() -> None:
    assert add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert add_months(date(2024, 3, 1), 3) == date(2024, 6, 1)
