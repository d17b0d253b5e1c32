"""Named types of the HTTP contract: what a client's generated code sees as one type.

Each is a `TypeAliasType`, so the OpenAPI document holds it once under its name
(`#/components/schemas/Money`) and every field refers to it. Responses are validated
against them on the way out, so a value that breaks a pattern is a bug the suite finds.

Below them, the strict scalars of request bodies: pydantic's lax parsing read `"yes"` as
true, `"30"` and `30.0` as 30, an integer epoch as a time and `"2024-03-28T00:00:00"` as
a date. A body's booleans, counts, dates, times and instants are these instead; a value
of another JSON type or shape is refused (422 `invalid_request`). Strings of a body are
typed in service/kit/text.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field, Strict
from typing_extensions import TypeAliasType

# Each alias bears the name of its variable (mypy's rule for TypeAliasType).
Money = TypeAliasType(
    "Money",
    Annotated[
        str,
        Field(
            pattern=r"^-?\d+\.\d{2}$",
            description="An amount in Danish kroner (kr.): a decimal string with two decimals "
            '(øre), a minus sign for a credit, e.g. "6915.00". Parse it as a decimal, never '
            "as a float.",
            examples=["6915.00"],
        ),
    ],
)
PeriodText = TypeAliasType(
    "PeriodText",
    Annotated[
        str,
        Field(
            pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
            description="A settlement period: a calendar month, YYYY-MM",
            examples=["2024-03"],
        ),
    ],
)
QuarterText = TypeAliasType(
    "QuarterText",
    Annotated[
        str,
        Field(
            pattern=r"^\d{4}Q[1-4]$",
            description="A calendar quarter, YYYYQn",
            examples=["2024Q1"],
        ),
    ],
)
PRICE_INDEX_PATTERN = r"^[1-9][0-9]{0,3}(\.[0-9]{1,4})?$"
"""A price index as text: 1 to 9999.9999, at most four decimals, ASCII digits, no sign,
exponent, spaces or leading zeros; one type in (`PriceIndexIn`) and out (the API is the
table's only writer)."""
PriceIndexText = TypeAliasType(
    "PriceIndexText",
    Annotated[
        str,
        Field(
            pattern=PRICE_INDEX_PATTERN,
            description="A price index (e.g. Danmarks Statistik's, base year = 100): 1 to "
            "9999.9999, at most four decimals",
            examples=["103.7"],
        ),
    ],
)
TreatmentTypeText = TypeAliasType(
    "TreatmentTypeText",
    Annotated[
        str,
        Field(
            pattern=r"^[a-z][a-z_]{0,39}$",
            description="A treatment type as the hospital writes it. The agreement decides "
            "which it covers (the tariff document's `treatments`; the 2021 agreement: "
            "antibiotics, fluids, pump); another is refused with `out_of_scope`",
            examples=["antibiotics"],
        ),
    ],
)

# --- strict scalars of request bodies -------------------------------------------------------

Flag = Annotated[bool, Strict()]
"""A JSON boolean only: `"yes"`, `"true"`, 1 are refused."""
Count = Annotated[int, Strict()]
"""A JSON integer only: `"30"`, `30.0` and `true` are refused."""

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?"
)
_LOCAL_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(:[0-9]{2})?")


def _iso_text(kind: type[Any], shape: re.Pattern[str], rule: str) -> Callable[[object], object]:
    """A before-validator: a value of `kind` as it is (a model built in code), or text in
    `shape` for pydantic to parse; anything else (a number, an epoch) is refused."""

    def check(value: object) -> object:
        # A `datetime` is a `date` too, and never one here.
        exact = isinstance(value, kind) and (kind is datetime or not isinstance(value, datetime))
        if exact or (isinstance(value, str) and shape.fullmatch(value)):
            return value
        raise ValueError(rule)

    return check


IsoDate = Annotated[
    date, BeforeValidator(_iso_text(date, _ISO_DATE, "a date is written YYYY-MM-DD"))
]
"""A date as ISO text, YYYY-MM-DD, only."""
IsoDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(
        _iso_text(datetime, _ISO_DATETIME, "a time is written as ISO 8601 text with its zone")
    ),
]
"""An instant as ISO 8601 text with its zone (2024-03-28T08:05:00+01:00), never an epoch."""
LocalTime = Annotated[
    time, BeforeValidator(_iso_text(time, _LOCAL_TIME, "a time of day is written HH:MM"))
]
"""A time of day as text, HH:MM (or HH:MM:SS), without a zone."""
