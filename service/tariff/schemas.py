"""The tariff agreement file (contracts/tariffs/*.json) and the price index, as the API
sees them.

An agreement file has one set of rules, the domain's (`tariff_from_document`): the fields
here declare its bounds to the contract, with the domain's constants, and then the whole
document goes through that parser, so the API and the domain can never disagree.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from service.domain.tariff import (
    AMOUNT_PATTERN,
    CVR_PATTERN,
    FIRST_PRICE_LEVEL_YEAR,
    GLN_PATTERN,
    LAST_PRICE_LEVEL_YEAR,
    MAX_INCLUDED_DAYS,
    MAX_NAME_LENGTH,
    MAX_THRESHOLD,
    TIER_COUNT,
    tariff_from_document,
)
from service.kit.contract import PRICE_INDEX_PATTERN, Count, Flag, IsoDate, PriceIndexText
from service.kit.text import FreeText, Text

MAX_SOURCE_KEY = 100
MAX_SOURCE_TEXT = 2000
MIN_PRICE_INDEX = Decimal(1)
MAX_PRICE_INDEX = Decimal("9999.9999")

Amount = Annotated[str, Field(pattern=AMOUNT_PATTERN, examples=["6915.00"])]


class Payer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, FreeText(max_length=MAX_NAME_LENGTH, min_length=1)]
    cvr: str = Field(pattern=CVR_PATTERN)
    gln: str = Field(pattern=GLN_PATTERN)


class TierRates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    course_fee: Amount
    day_fee: Amount


class TreatmentRates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    included_days: Count = Field(ge=1, le=MAX_INCLUDED_DAYS)
    tiers: list[TierRates] = Field(min_length=TIER_COUNT, max_length=TIER_COUNT)


class TariffDocument(BaseModel):
    """One version of the agreement's tariff: rates at the price level of `price_level_year`."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, FreeText(max_length=MAX_NAME_LENGTH, min_length=1)]
    valid_from: IsoDate
    price_level_year: Count = Field(ge=FIRST_PRICE_LEVEL_YEAR, le=LAST_PRICE_LEVEL_YEAR)
    indexed: Flag
    payer: Payer
    tier_thresholds: list[Annotated[Count, Field(ge=1, le=MAX_THRESHOLD)]] = Field(
        min_length=TIER_COUNT - 1, max_length=TIER_COUNT - 1
    )
    treatments: dict[Annotated[str, Text(max_length=40)], TreatmentRates]
    sources: (
        dict[
            Annotated[str, Text(max_length=MAX_SOURCE_KEY)],
            Annotated[str, FreeText(max_length=MAX_SOURCE_TEXT)],
        ]
        | None
    ) = Field(default=None, description="Where each value comes from (free text per field).")

    @model_validator(mode="after")
    def _agreement_rules(self) -> TariffDocument:
        # What the fields cannot say (increasing thresholds, exactly the treatment types)
        # the domain's parser says; a TariffDocumentError is a ValueError, so a 422.
        fields = set(TariffDocument.model_fields)  # not those a subclass adds (TariffOut)
        tariff_from_document(0, self.model_dump(mode="json", include=fields))
        return self


class TariffOut(TariffDocument):
    id: int
    created_at: datetime
    source: str
    document_sha256: str


class PriceIndexIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Documented as the one type the service answers with (a decimal string); a JSON number
    # is still read, as before, so no client that sends one breaks. Bounded: an index is
    # published on a base year of 100 (Danmarks Statistik: 2015 = 100, 2020 = 100), and only
    # the ratio of two years enters a price (domain/tariff.py, `unit_price`). 1-9999.9999
    # covers a hundredfold fall or rise from the base, and keeps that ratio within 10^4, so an
    # indexed rate stays far inside 64-bit øre (99999999.9999 over 0.0001 did not).
    index: Annotated[
        Decimal,
        Field(ge=MIN_PRICE_INDEX, le=MAX_PRICE_INDEX, decimal_places=4),
        WithJsonSchema(
            {
                "type": "string",
                "pattern": PRICE_INDEX_PATTERN,
                "description": "The price index, a decimal string from 1 to 9999.9999 with at "
                "most four decimals",
                "examples": ["103.7"],
            }
        ),
    ]

    @field_validator("index", mode="before")
    @classmethod
    def _documented_text(cls, value: object) -> object:
        """Text is read as the document writes it (ASCII digits, at most four decimals, no
        sign, exponent or spaces), where Decimal alone would also take "1e2" or "１０４"; a
        JSON number is read as a number, a JSON boolean is not one."""
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise ValueError("the price index is a decimal string such as 103.7")
        if isinstance(value, str) and not re.fullmatch(PRICE_INDEX_PATTERN, value):
            raise ValueError("the price index is a decimal string from 1 to 9999.9999")
        return value


class PriceIndexOut(BaseModel):
    year: int
    index: PriceIndexText
    updated_at: datetime
