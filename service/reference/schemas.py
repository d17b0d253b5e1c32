"""Municipalities (with their parenteral-nutrition policy and e-invoice master data),
hospitals and payers, as clients read and an admin changes them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from service.domain.parties import valid_cvr, valid_gln
from service.kit.text import FreeText, Text

Policy = Literal["reject", "accept"]


def _cvr(value: str) -> str:
    if not valid_cvr(value):
        raise ValueError("a CVR number is eight digits, the first not 0")
    return value


def _gln(value: str) -> str:
    if not valid_gln(value):
        raise ValueError("an EAN/GLN location number is 13 digits with a correct check digit")
    return value


Cvr = Annotated[str, Text(max_length=8, min_length=8), AfterValidator(_cvr)]
Gln = Annotated[str, Text(max_length=13, min_length=13), AfterValidator(_gln)]


class MasterData(BaseModel):
    """What an OIOUBL e-invoice names a party by; null: not known yet (never guessed)."""

    model_config = ConfigDict(from_attributes=True)

    gln: str | None = Field(default=None, description="EAN/GLN location number (NemHandel)")
    street_name: str | None = None
    building_number: str | None = None
    postal_zone: str | None = None
    city_name: str | None = None
    master_data_source: str | None = Field(
        default=None, description="Where the master data comes from (a source, or who set it)"
    )


class MunicipalityOut(MasterData):
    code: str
    name: str
    cluster: str
    parenteral_nutrition_policy: Policy
    cvr: str | None = Field(default=None, description="CVR number")
    legal_name: str | None = Field(
        default=None, description='As registered (e.g. "Københavns Kommune"): the e-invoice sender'
    )


class HospitalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    shak: str | None


class PayerDetailsOut(MasterData):
    cvr: str
    name: str
    order_reference: str | None = Field(
        default=None, description="The order reference every invoice to this payer carries"
    )
    accounting_cost: str | None = Field(
        default=None, description="The payer's account string (OIOUBL AccountingCost)"
    )
    contact_reference: str | None = Field(
        default=None, description="The payer's reference person or unit (Contact/ID)"
    )


Short = Annotated[str, FreeText(max_length=200, min_length=1)]


class _MasterDataIn(BaseModel):
    """Fields left out stay as they are; null clears one."""

    model_config = ConfigDict(extra="forbid")

    gln: Gln | None = None
    street_name: Short | None = None
    building_number: Annotated[str, FreeText(max_length=20, min_length=1)] | None = None
    postal_zone: Annotated[str, Text(max_length=10, min_length=4)] | None = None
    city_name: Short | None = None
    master_data_source: Annotated[str, FreeText(max_length=500, min_length=1)] | None = Field(
        default=None,
        description="Where the values come from (e.g. the CVR register, or 'demo value'); "
        "left out: the admin who set them, and when",
    )


class PolicyIn(_MasterDataIn):
    """What an admin changes on a municipality: its parenteral-nutrition policy and its
    e-invoice master data."""

    parenteral_nutrition_policy: Policy | None = None
    cvr: Cvr | None = None
    legal_name: Short | None = None


class PayerDetailsIn(_MasterDataIn):
    """What an admin sets on a payer: its master data and the terms of its invoices."""

    order_reference: Annotated[str, FreeText(max_length=100, min_length=1)] | None = None
    accounting_cost: Annotated[str, FreeText(max_length=100, min_length=1)] | None = None
    contact_reference: Annotated[str, FreeText(max_length=100, min_length=1)] | None = None
