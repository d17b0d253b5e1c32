"""Named types of the HTTP contract: what a client's generated code sees as one type.

Each is a `TypeAliasType`, so the OpenAPI document holds it once under its name
(`#/components/schemas/Money`) and every field refers to it. Responses are validated
against them on the way out, so a value that breaks a pattern is a bug the suite finds.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
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
PriceIndexText = TypeAliasType(
    "PriceIndexText",
    Annotated[
        str,
        Field(
            pattern=r"^\d{1,8}(\.\d{1,4})?$",
            description="A price index (e.g. Danmarks Statistik's), at most four decimals",
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
