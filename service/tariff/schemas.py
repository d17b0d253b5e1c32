"""The tariff agreement file (contracts/tariffs/*.json) and the price index, as the API
sees them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.domain.money import InvalidAmount, parse_kr
from service.domain.scope import TREATMENT_TYPES

Amount = Annotated[str, Field(pattern=r"^\d{1,9}(\.\d{1,2})?$", examples=["6915.00"])]
# Courses per year and region; stored as 32-bit integers (a larger one was a 500).
MAX_THRESHOLD = 1_000_000


class Payer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    cvr: str = Field(pattern=r"^\d{8}$")
    gln: str = Field(pattern=r"^\d{13}$")


class TierRates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    course_fee: Amount
    day_fee: Amount

    @field_validator("course_fee", "day_fee")
    @classmethod
    def _amount(cls, value: str) -> str:
        try:
            parse_kr(value)
        except InvalidAmount as exc:
            raise ValueError(str(exc)) from None
        return value


class TreatmentRates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    included_days: int = Field(ge=1, le=365)
    tiers: list[TierRates] = Field(min_length=3, max_length=3)


class TariffDocument(BaseModel):
    """One version of the agreement's tariff: rates at the price level of `price_level_year`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    valid_from: date
    price_level_year: int = Field(ge=2000, le=2100)
    indexed: bool
    payer: Payer
    tier_thresholds: list[Annotated[int, Field(ge=1, le=MAX_THRESHOLD)]] = Field(
        min_length=2, max_length=2
    )
    treatments: dict[str, TreatmentRates]
    sources: dict[str, str] | None = Field(
        default=None, description="Where each value comes from (free text per field)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TariffDocument:
        a, b = self.tier_thresholds
        if not 0 < a < b:
            raise ValueError("tier_thresholds must be two increasing positive counts [a, b]")
        if sorted(self.treatments) != sorted(TREATMENT_TYPES):
            raise ValueError("treatments must hold exactly antibiotics, fluids and pump")
        return self


class TariffOut(TariffDocument):
    id: int
    created_at: datetime
    source: str
    document_sha256: str


class PriceIndexIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: Decimal = Field(gt=0, max_digits=12, decimal_places=4, examples=["103.7"])


class PriceIndexOut(BaseModel):
    year: int
    index: str
    updated_at: datetime
