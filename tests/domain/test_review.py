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
