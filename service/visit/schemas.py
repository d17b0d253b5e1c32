"""Visits (besøg) as the municipal care systems send them, one at a time or in batches."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from service.domain.vocabulary import Deviation, Setting
from service.kit.clock import LOCAL_TZ
from service.kit.contract import Count, Flag, IsoDateTime
from service.kit.openapi_responses import ProblemCode

MAX_BATCH = 1000
ItemStatus = Literal["created", "unchanged", "rejected"]
"""What became of one visit sent (created 201, unchanged 200, rejected: its problem's status)."""


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(
        description="Chosen by the client: a retry or re-sync never duplicates it"
    )
    started_at: IsoDateTime = Field(examples=["2024-03-28T08:05:00+01:00"])
    duration_minutes: Count = Field(
        ge=0, le=1440, description="At least 1 when the dose was given (`administered`)"
    )
    setting: Setting
    administered: Flag = Field(
        description="Whether the dose was given; a visit with the dose given lasts at least a "
        "minute"
    )

    @field_validator("started_at")
    @classmethod
    def _representable(cls, value: datetime) -> datetime:
        """A time at the edge of year 1 or 9999 cannot be moved to UTC or local time (an
        OverflowError, a 500, before); a day to spare keeps day arithmetic safe too."""
        try:
            local = value.astimezone(LOCAL_TZ)
        except (OverflowError, ValueError):
            raise ValueError("the time is out of range") from None
        if not 1 < local.year < 9999:
            raise ValueError("the time is out of range")
        return value

    @field_validator("administered")
    @classmethod
    def _given_takes_time(cls, value: bool, info: ValidationInfo) -> bool:
        """A dose given in no time is no evidence: a given visit is what bills an active
        course through its date (DESIGN.md, "Monthly settlement"). A visit without the dose
        (the patient was not home) may last 0 minutes."""
        if value and info.data.get("duration_minutes") == 0:
            raise ValueError("a visit with the dose given has a duration_minutes of at least 1")
        return value


class BatchVisitIn(VisitIn):
    course_id: uuid.UUID


class VisitBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visits: list[BatchVisitIn] = Field(min_length=1, max_length=MAX_BATCH)


class VisitOut(BaseModel):
    id: uuid.UUID
    course_id: uuid.UUID
    started_at: datetime
    local_date: date
    duration_minutes: int
    setting: Setting
    administered: bool
    deviations: list[Deviation] = Field(
        description="Limits of the agreement this visit breaks: outside_hours, over_60_minutes, "
        "over_4_visits_per_day, outside_course_dates"
    )
    recorded_at: datetime


class VisitResult(BaseModel):
    """The outcome of one item of a batch, in the order sent."""

    index: int
    id: uuid.UUID
    status: ItemStatus
    http_status: int
    code: ProblemCode | None = Field(
        default=None, description="A rejected item: its problem's code"
    )
    detail: str | None = None
    visit: VisitOut | None = None


class VisitBatchOut(BaseModel):
    results: list[VisitResult]
    created: int
    unchanged: int
    rejected: int
