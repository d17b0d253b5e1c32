"""Money: integer øre inside, decimal strings outside, one rounding rule."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.money import InvalidAmount, format_kr, parse_kr, round_half_up


@pytest.mark.parametrize(
    ("text", "ore"), [("6915.00", 691500), ("6915", 691500), ("0.05", 5), ("341.5", 34150)]
)
def test_parse(text: str, ore: int) -> None:
    assert parse_kr(text) == ore


@pytest.mark.parametrize("text", ["1.001", "abc", "NaN", "Infinity"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_kr(text)


def test_floats_are_refused() -> None:
    with pytest.raises(InvalidAmount):
        parse_kr(0.1)  # type: ignore[arg-type]


@given(st.integers(-(10**12), 10**12))
def test_format_then_parse_is_identity(ore: int) -> None:
    assert parse_kr(format_kr(ore)) == ore


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(1, 2), 1),
        (Fraction(-1, 2), -1),
        (Fraction(149, 100), 1),
        (Fraction(3, 2), 2),
        (Fraction(5, 3), 2),
    ],
)
def test_round_half_up(value: Fraction, rounded: int) -> None:
    assert round_half_up(value) == rounded
