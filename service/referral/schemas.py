"""A referral (henvisning) as the hospital integrations send and read it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.domain.cpr import InvalidCpr, normalize_cpr
from service.domain.vocabulary import (
    ReferralStatus,
    RejectionReason,
    Setting,
    TreatmentType,
)
from service.kit.contract import Count, Flag, IsoDate, LocalTime, TreatmentTypeText
from service.kit.text import FreeText, Text


class ReferralIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_ref": "HGH-2024-000123",
                    "hospital_code": "HGH",
                    "department": "Infektionsmedicinsk afd.",
                    "patient_cpr": "0101501234",
                    "municipality_code": "157",
                    "treatment_type": "antibiotics",
                    "expected_start_date": "2024-03-28",
                    "planned_days": 9,
                    "visits_per_day": 3,
                    "administration_times": ["08:00", "15:00", "22:00"],
                    "minutes_per_administration": 30,
                    "first_dose_given_in_hospital": True,
                    "iv_access": "PICC",
                    "parenteral_nutrition": False,
                    "must_not_be_left_alone": False,
                    "physician_contact": "+45 38 68 00 00",
                }
            ]
        },
    )

    external_ref: Annotated[str, FreeText(max_length=100, min_length=1, pattern=r"^[\x21-\x7e]+$")]
    hospital_code: Annotated[str, Text(max_length=10, min_length=1)]
    department: Annotated[str, FreeText(max_length=200)] | None = None
    patient_cpr: str = Field(description="10 digits, DDMMYY-SSSS; never echoed in errors")
    municipality_code: Annotated[str, Text(max_length=3, min_length=1)]
    treatment_type: TreatmentTypeText
    expected_start_date: IsoDate
    planned_days: Count = Field(ge=1, le=365)
    visits_per_day: Count = Field(ge=1, le=24)
    administration_times: list[LocalTime] = Field(
        min_length=1,
        max_length=24,
        description="Local times HH:MM, each once",
        json_schema_extra={"uniqueItems": True},
    )
    minutes_per_administration: Count = Field(ge=1, le=1440)
    first_dose_given_in_hospital: Flag
    iv_access: Annotated[str, FreeText(max_length=50)] | None = None
    parenteral_nutrition: Flag = False
    must_not_be_left_alone: Flag = False
    physician_contact: Annotated[str, FreeText(max_length=200)] | None = None

    @field_validator("patient_cpr", mode="before")
    @classmethod
    def _cpr(cls, value: object) -> str:
        if not isinstance(value, str):
            raise ValueError("a CPR number is given as a string of 10 digits")
        try:
            return normalize_cpr(value)
        except InvalidCpr as exc:
            raise ValueError(str(exc)) from None

    @field_validator("administration_times")
    @classmethod
    def _local_times(cls, value: list[time]) -> list[time]:
        if any(t.tzinfo is not None for t in value):
            raise ValueError("administration times are local times HH:MM without a zone")
        if len(set(value)) != len(value):
            raise ValueError("each administration time is given once")
        return value


class ReferralOut(BaseModel):
    id: uuid.UUID
    external_ref: str
    hospital_code: str
    department: str | None
    patient_id: uuid.UUID
    patient_cpr: str | None = Field(
        description="Shown to the referring hospital and the receiving municipality only"
    )
    municipality_code: str
    treatment_type: TreatmentType
    expected_start_date: date
    planned_days: int
    visits_per_day: int
    administration_times: list[str]
    minutes_per_administration: int
    first_dose_given_in_hospital: bool
    iv_access: str | None
    parenteral_nutrition: bool
    must_not_be_left_alone: bool
    physician_contact: str | None
    status: ReferralStatus
    rejection_reason: RejectionReason | None
    rejection_note: str | None
    decided_at: datetime | None
    course_id: uuid.UUID | None
    created_at: datetime


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: IsoDate = Field(description="The first municipal treatment day")
    setting: Setting


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: RejectionReason
    note: Annotated[str, FreeText(max_length=2000)] | None = None


@dataclass(frozen=True)
class ReferralSearch:
    """What a search of referrals filters on; None: not filtered on."""

    status: ReferralStatus | None = None
    municipality_code: str | None = None
