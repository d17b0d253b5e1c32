"""CPR numbers: the Danish personal identification number (DESIGN.md, "Data protection").

Ten digits, DDMMYY-SSSS, one hyphen allowed on input. The date must be a real date once
the century is resolved from digit 7. The modulus-11 check is deliberately NOT applied:
numbers without it have been issued since 2007 and are valid.
"""

from __future__ import annotations

import re
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
