"""The API's shapes of objections."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.domain.vocabulary import LineKind, ObjectionReason, ObjectionStatus
from service.kit.contract import PeriodText
from service.kit.text import FreeText


class ObjectionIn(BaseModel):
    """A municipality's objection: to a line of one of its issued statements (`period`,
    with `line_kind` and `line_period` to name one line of the course), or, without
    `period`, to the course itself."""

    model_config = ConfigDict(extra="forbid")

    course_id: uuid.UUID
    period: PeriodText | None = Field(
        default=None, description="The issued statement's period (YYYY-MM); none: the course"
    )
    line_kind: LineKind | None = None
    line_period: PeriodText | None = Field(
        default=None, description="The period the line concerns (an adjustment's earlier month)"
    )
    reason: ObjectionReason
    text: Annotated[str, FreeText(max_length=2000, min_length=1)]


class ObjectionAnswerIn(BaseModel):
    """The region's answer: accepted (the fix is a correction or a cancellation, settled in
    the next statement) or rejected, with a note either way."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["accepted", "rejected"]
    note: Annotated[str, FreeText(max_length=2000, min_length=1)]


class ObjectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    course_id: uuid.UUID
    municipality_code: str
    period: PeriodText | None
    line_kind: LineKind | None
    line_period: PeriodText | None
    reason: ObjectionReason
    text: str
    status: ObjectionStatus
    raised_at: datetime
    raised_by: uuid.UUID
    answered_at: datetime | None
    answered_by: uuid.UUID | None
    answer_note: str | None


@dataclass(frozen=True)
class ObjectionSearch:
    """What a list of objections filters on; None: not filtered on."""

    period: str | None = None
    status: ObjectionStatus | None = None
    municipality_code: str | None = None
