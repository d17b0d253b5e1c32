"""A course (forløb) and its changes, as municipalities and the region read them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.domain.vocabulary import (
    AdjustmentReason,
    CourseStatus,
    EndReason,
    LineKind,
    Setting,
    TreatmentType,
)
from service.kit.contract import Money, PeriodText


class CorrectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reason: str
    previous: dict[str, Any]
    corrected: dict[str, Any]
    corrected_at: datetime
    corrected_by: uuid.UUID


class StaircasePlaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    year: int
    position: int
    tier: int


class BilledLineOut(BaseModel):
    """A line issued for the course, and the statement it was issued in."""

    statement_number: int
    statement_period: PeriodText
    period: PeriodText
    kind: LineKind
    quantity: int
    unit_price: Money
    amount: Money
    tier: int
    adjustment: bool
    reason: AdjustmentReason | None


class CourseOut(BaseModel):
    id: uuid.UUID
    referral_id: uuid.UUID
    patient_id: uuid.UUID
    patient_cpr: str | None = Field(description="Shown to the treating municipality only")
    municipality_code: str
    hospital_code: str
    treatment_type: TreatmentType
    setting: Setting
    start_date: date
    end_date: date | None
    status: CourseStatus
    end_reason: EndReason | None
    end_note: str | None
    cancel_reason: str | None
    day_count: int = Field(
        description="Treatment days so far: start through end date (completed) or today (active)"
    )
    visit_count: int
    administered_visit_count: int
    last_administered_date: date | None
    corrections: list[CorrectionOut]
    staircase: StaircasePlaceOut | None = Field(
        description="The course's place on its year's staircase, fixed when first billed"
    )
    billed: list[BilledLineOut] = Field(description="Every issued line of the course")
    billed_total: Money = Field(description="The sum of the issued lines, kr.")
    created_at: datetime
    updated_at: datetime


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_date: date
    reason: EndReason
    note: str | None = Field(default=None, max_length=2000)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: date | None = None
    end_date: date | None = None
    treatment_type: TreatmentType | None = None
    municipality_code: str | None = Field(default=None, min_length=3, max_length=3)
    reason: str = Field(min_length=1, max_length=2000)


@dataclass(frozen=True)
class CourseSearch:
    """What a search of courses filters on; None: not filtered on."""

    municipality_code: str | None = None
    status: CourseStatus | None = None
    started_from: date | None = None
    started_to: date | None = None
