"""Money: integer øre inside, decimal strings in kr. at the edges.

`Decimal` is used only to parse and print; every sum and product is done on `int`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

ORE_PER_KRONE = 100


class InvalidAmount(ValueError):
    """A money string that is not a decimal amount with at most two decimals."""


def parse_kr(text: str | int | Decimal) -> int:
    """Parse an amount in kr. ("6915.00", "6915", 6915) into integer øre.

    More than two decimals is an error rather than a silent rounding: a tariff rate or
    an amount given with a third decimal is a typo to be fixed at the source.
    """
    if isinstance(text, bool | float):
        raise InvalidAmount("amounts must be given as decimal strings or integers, not floats")
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise InvalidAmount("not a decimal amount") from exc
    if not value.is_finite():
        raise InvalidAmount("not a finite amount")
    ore = value * ORE_PER_KRONE
    if ore != ore.to_integral_value():
        raise InvalidAmount("at most two decimals (øre) are allowed")
    return int(ore)


def format_kr(ore: int) -> str:
    """Format integer øre as a decimal string in kr. with two decimals: 691500 → "6915.00"."""
    sign = "-" if ore < 0 else ""
    whole, rest = divmod(abs(ore), ORE_PER_KRONE)
    return f"{sign}{whole}.{rest:02d}"


def round_half_up(value: Fraction) -> int:
    """Round an exact fraction of øre to whole øre, halves away from zero.

    This is the one rounding rule of the service (DESIGN.md, "Price level"): an indexed
    unit price is base × index(year) / index(price-level year), computed exactly and
    rounded half-up once. Negative values round symmetrically (−0.5 → −1).
    """
    quotient, remainder = divmod(abs(value.numerator), value.denominator)
    if 2 * remainder >= value.denominator:
        quotient += 1
    return -quotient if value < 0 else quotient
