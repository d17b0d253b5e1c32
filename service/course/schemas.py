"""A course (forløb) and its changes, as municipalities and the region read them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.domain.vocabulary import (
    AdjustmentReason,
    CourseStatus,
    EndReason,
    LineKind,
    Setting,
    TreatmentType,
)
from service.kit.contract import IsoDate, Money, PeriodText
from service.kit.text import FreeText, Text


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
    statement_municipality_code: str = Field(
        description="The municipality whose statement carries the line"
    )
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
    number: str = Field(
        description="The course's short number (IV-<registration year>-<serial>): unique, "
        "never reused, shown on statement lines",
        examples=["IV-2026-00042"],
    )
    municipality_ref: str | None = Field(
        default=None, description="The municipality's own case reference (its care system's id)"
    )
    external_ref: str = Field(description="The hospital's own reference of the referral")
    department: str | None = Field(description="The referring hospital department")
    referral_id: uuid.UUID
    patient_id: uuid.UUID
    patient_cpr: str | None = Field(description="Shown to the treating municipality only")
    municipality_code: str
    hospital_code: str
    hospital_name: str
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


class CourseUpdateIn(BaseModel):
    """What a municipality may set on its course without a correction: its own reference."""

    model_config = ConfigDict(extra="forbid")

    municipality_ref: Annotated[str, FreeText(max_length=100, min_length=1)] | None = Field(
        description="Its care system's case id; null clears it"
    )


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_date: IsoDate
    reason: EndReason
    note: Annotated[str, FreeText(max_length=2000)] | None = None


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, FreeText(max_length=2000, min_length=1)]


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    treatment_type: TreatmentType | None = None
    municipality_code: Annotated[str, Text(max_length=3, min_length=3)] | None = None
    reason: Annotated[str, FreeText(max_length=2000, min_length=1)]


@dataclass(frozen=True)
class CourseSearch:
    """What a search of courses filters on; None: not filtered on."""

    municipality_code: str | None = None
    status: CourseStatus | None = None
    started_from: date | None = None
    started_to: date | None = None
    number: str | None = None


TransferStatus = Literal["proposed", "accepted", "declined", "withdrawn"]


class TransferIn(BaseModel):
    """A move of the course to another municipality: proposed by the municipality that has
    it (in effect once the receiving one accepts); made by the region, in effect at once."""

    model_config = ConfigDict(extra="forbid")

    municipality_code: Annotated[str, Text(max_length=3, min_length=3)]
    reason: Annotated[str, FreeText(max_length=2000, min_length=1)]


class TransferDecisionIn(BaseModel):
    """The receiving municipality's answer, with an optional note to the sending one."""

    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, FreeText(max_length=2000)] | None = None


class TransferOut(BaseModel):
    """A transfer as both municipalities and the region see it. It names the course and what
    the receiving municipality needs to decide; the patient's CPR number is shown with the
    course itself, to the municipality that has it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    course_id: uuid.UUID
    from_municipality_code: str
    to_municipality_code: str
    status: TransferStatus
    reason: str
    treatment_type: TreatmentType
    setting: Setting
    start_date: date
    hospital_code: str
    proposed_at: datetime
    proposed_by: uuid.UUID
    decided_at: datetime | None
    decided_by: uuid.UUID | None
    decision_note: str | None


@dataclass(frozen=True)
class TransferSearch:
    """What a search of transfers filters on; None: not filtered on."""

    status: TransferStatus | None = None
    course_id: uuid.UUID | None = None
