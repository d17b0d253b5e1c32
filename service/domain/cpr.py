"""CPR numbers: the Danish personal identification number (DESIGN.md, "Data protection").

Ten digits, DDMMYY-SSSS, one hyphen allowed on input. The date must be a real date once
the century is resolved from digit 7. The modulus-11 check is deliberately NOT applied:
numbers without it have been issued since 2007 and are valid.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# ASCII digits only: `\d` would take any Unicode digit, and a CPR written in Arabic-Indic or
# full-width digits would become a second "patient" that no check or mask recognises.
_CPR_PATTERN = re.compile(r"^([0-9]{6})-?([0-9]{4})$")


class InvalidCpr(ValueError):
    """The text is not a CPR number. The message never contains the number itself."""


def century_for(digit7: int, yy: int) -> int:
    """The birth century from the 7th digit and the two-digit year (CPR office's table)."""
    if digit7 <= 3:
        return 1900
    if digit7 in (4, 9):
        return 2000 if yy <= 36 else 1900
    # digits 5-8
    return 2000 if yy <= 57 else 1800


def normalize_cpr(text: str) -> str:
    """Return the ten digits of a valid CPR number, or raise InvalidCpr (without the value)."""
    match = _CPR_PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidCpr("a CPR number is 10 digits, optionally DDMMYY-SSSS")
    digits = match.group(1) + match.group(2)
    day, month, yy = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    year = century_for(int(digits[6]), yy) + yy
    try:
        date(year, month, day)
    except ValueError:
        raise InvalidCpr(
            "the first six digits of a CPR number must be a real date DDMMYY"
        ) from None
    return digits


# A CPR number inside other text: ten digits, or six, a hyphen and four, not inside a longer
# run of digits. Letters may touch it: "cpr0101501234" holds one. A lookahead, so that
# candidates that overlap are all tried.
_CPR_IN_TEXT = re.compile(r"(?=(?<![0-9])([0-9]{6}-?[0-9]{4})(?![0-9]))")
# The dashes a word processor or phone types for "-" (hyphen, non-breaking hyphen, figure
# dash, en dash, minus sign, full-width hyphen-minus).
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2212\uff0d", "-"))


def _ascii_digits(text: str) -> str:
    """`text` with look-alike digits (Arabic-Indic, full-width, ...) written as ASCII ones
    and typed dashes as "-": a CPR number in other digits is a CPR number to its reader."""
    if text.isascii():
        return text
    chars = (
        str(value) if (value := unicodedata.decimal(char, None)) is not None else char
        for char in text
    )
    return "".join(chars).translate(_DASHES)


def contains_cpr(text: str) -> bool:
    """Whether free text holds a CPR-shaped number: ten digits, optionally DDMMYY-SSSS, not
    part of a longer number, whose first six digits are a real date (`normalize_cpr`'s
    rule, so what the service would take as a CPR number). Look-alike digits count too.

    Ordinary text passes: a Danish phone number has 8 digits ("+45 38 68 00 00",
    "+4538680000": day 45), a reference such as "EPJ-2024-000123" has no ten digits in a
    row, and ten digits that are no date ("1234567890": month 34) are not a CPR number.
    """
    for match in _CPR_IN_TEXT.finditer(_ascii_digits(text)):
        try:
            normalize_cpr(match.group(1))
        except InvalidCpr:
            continue
        return True
    return False
