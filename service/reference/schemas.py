"""Municipalities (with their parenteral-nutrition policy) and hospitals, as clients read them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Policy = Literal["reject", "accept"]


class MunicipalityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    cluster: str
    parenteral_nutrition_policy: Policy


class HospitalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    shak: str | None


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parenteral_nutrition_policy: Policy
