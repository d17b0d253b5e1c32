"""The tariff agreement file (contracts/tariffs/*.json) and the price index, as the API
sees them.

An agreement file has one set of rules, the domain's (`tariff_from_document`): the fields
here declare its bounds to the contract, with the domain's constants, and then the whole
document goes through that parser, so the API and the domain can never disagree.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

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
from service.kit.contract import PriceIndexText

Amount = Annotated[str, Field(pattern=AMOUNT_PATTERN, examples=["6915.00"])]


class Payer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    cvr: str = Field(pattern=CVR_PATTERN)
    gln: str = Field(pattern=GLN_PATTERN)


class TierRates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    course_fee: Amount
    day_fee: Amount


class TreatmentRates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    included_days: int = Field(ge=1, le=MAX_INCLUDED_DAYS)
    tiers: list[TierRates] = Field(min_length=TIER_COUNT, max_length=TIER_COUNT)


class TariffDocument(BaseModel):
    """One version of the agreement's tariff: rates at the price level of `price_level_year`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    valid_from: date
    price_level_year: int = Field(ge=FIRST_PRICE_LEVEL_YEAR, le=LAST_PRICE_LEVEL_YEAR)
    indexed: bool
    payer: Payer
    tier_thresholds: list[Annotated[int, Field(ge=1, le=MAX_THRESHOLD)]] = Field(
        min_length=TIER_COUNT - 1, max_length=TIER_COUNT - 1
    )
    treatments: dict[str, TreatmentRates]
    sources: dict[str, str] | None = Field(
        default=None, description="Where each value comes from (free text per field)."
    )

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
    # is still read, as before, so no client that sends one breaks.
    index: Annotated[
        Decimal,
        Field(gt=0, max_digits=12, decimal_places=4),
        WithJsonSchema(
            {
                "type": "string",
                "pattern": r"^\d{1,8}(\.\d{1,4})?$",
                "description": "The price index, a decimal string with at most four decimals",
                "examples": ["103.7"],
            }
        ),
    ]


class PriceIndexOut(BaseModel):
    year: int
    index: PriceIndexText
    updated_at: datetime
