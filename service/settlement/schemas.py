"""Statements, the region summary and the staircase, as finance reads them.

Amounts are decimal strings in kr. ("6915.00"); inside they are integer øre.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.domain.review import HoldRule
from service.domain.vocabulary import AdjustmentReason, LineKind, TreatmentType
from service.kit.contract import Money, PeriodText, PriceIndexText
from service.kit.text import FreeText

State = Literal["draft", "issued"]


def _absent(value: object) -> bool:
    return value is None


class PayerOut(BaseModel):
    name: str
    cvr: str
    gln: str


class LineOut(BaseModel):
    course_id: uuid.UUID
    kind: LineKind
    period: PeriodText = Field(description="The period (YYYY-MM) the line concerns")
    quantity: int
    unit_price: Money
    amount: Money
    tier: int
    position: int = Field(description="The course's place in its year's staircase count")
    treatment_type: TreatmentType
    hospital_code: str
    tariff_version_id: int
    adjustment: bool
    reason: AdjustmentReason | None = Field(
        description="For adjustments: late_registration, correction, cancellation, "
        "tariff_change or index_change"
    )
    # What finance traces the line by (issue 13). Absent when null: in lines issued before
    # lines carried them they are absent, so those statements' canonical content (and
    # hash) is the one they were issued with; a key with no value is absent the same way.
    course_number: str | None = Field(
        default=None, exclude_if=_absent, description="The course's number (IV-YYYY-NNNNN)"
    )
    course_start: date | None = Field(
        default=None, exclude_if=_absent, description="The course's start date"
    )
    course_end: date | None = Field(
        default=None, exclude_if=_absent, description="The course's end date (absent: ongoing)"
    )
    hospital_name: str | None = Field(
        default=None, exclude_if=_absent, description="The referring hospital's name"
    )
    external_ref: str | None = Field(
        default=None, exclude_if=_absent, description="The hospital's own referral reference"
    )
    department: str | None = Field(
        default=None, exclude_if=_absent, description="The referring department"
    )
    municipality_ref: str | None = Field(
        default=None, exclude_if=_absent, description="The municipality's own case reference"
    )


class TotalOut(BaseModel):
    key: str
    amount: Money


class InputsOut(BaseModel):
    """What a statement was computed from, so finance can be told why."""

    issued_by: str | None = Field(description="The client that issued it (issued only)")
    tariff_versions: dict[str, str] = Field(
        description="Tariff version id → SHA-256 of the agreement document in force"
    )
    price_indices: dict[str, PriceIndexText] = Field(description="Year → price index in force")


class ChainOut(BaseModel):
    """Where an issued statement stands in the issue chain (service.domain.chain)."""

    previous: str = Field(
        description="The chain head this statement's issue extends (the previous issue's "
        "chain hash; 64 zeros for the first issue): printed on the statement's files"
    )
    issue: str = Field(
        description="This statement's issue's own chain hash (`ivsettle verify --expect-head`)"
    )


class StatementOut(BaseModel):
    number: int | None = Field(description="Gapless per payer and year; set when issued")
    number_year: int | None
    period: PeriodText
    municipality_code: str
    municipality_name: str
    state: State
    issued_at: datetime | None
    payer: PayerOut
    total: Money
    regular_total: Money
    adjustment_total: Money
    totals_by_type: list[TotalOut]
    totals_by_tier: list[TotalOut]
    totals_by_hospital: list[TotalOut]
    lines: list[LineOut]
    inputs: InputsOut
    hash: str | None = Field(description="SHA-256 of the statement's canonical content")
    chain: ChainOut | None = Field(
        default=None,
        description="Issued: its place in the issue chain (not part of `hash`'s content)",
    )


class MunicipalityTotalOut(BaseModel):
    municipality_code: str
    municipality_name: str
    number: int | None
    total: Money
    regular_total: Money
    adjustment_total: Money
    line_count: int
    hash: str | None


class StaircaseOut(BaseModel):
    year: int
    counted: int = Field(description="Courses of the year placed on the staircase (issued)")
    current_tier: int = Field(description="The tier the next course of the year gets")
    until_next_tier: int | None = Field(
        description="Courses, including the next one, still at the current tier"
    )
    tier_thresholds: list[int]


class ApprovedStatementOut(BaseModel):
    municipality_code: str
    hash: str = Field(description="SHA-256 of the draft statement's canonical content")


class ApprovedHoldOut(BaseModel):
    course_id: uuid.UUID
    rules: list[HoldRule] = Field(description="The review rules holding it when approved")


class ApprovalOut(BaseModel):
    """A region client's approval of a period's draft (four eyes)."""

    id: int
    period: PeriodText
    approved_at: datetime
    approved_by: str = Field(description="The approving client's name")
    approved_by_client_id: uuid.UUID
    draft_hash: str = Field(
        description="SHA-256 over the sorted municipality codes and statement hashes"
    )
    statements: list[ApprovedStatementOut]
    held: list[ApprovedHoldOut] = Field(
        default_factory=list,
        description="The courses held out of the draft when it was approved (review holds)",
    )
    matches_draft: bool | None = Field(
        default=None,
        description="In a draft's summary: whether the draft as computed now is exactly the "
        "one approved (false: approve again before issuing)",
    )


class ReviewWarningOut(BaseModel):
    """A review rule that warns without holding, shown where the period is approved."""

    rule: Literal["statement_rise"]
    municipality_code: str
    explanation: str = Field(description="In Danish, for finance")
    total: Money
    average: Money = Field(description="The average of the last issued statements")
    months: int = Field(description="How many issued statements the average is of")


class HoldRuleOut(BaseModel):
    rule: HoldRule
    explanation: str = Field(description="In Danish, with the rule's threshold")


class HoldOut(BaseModel):
    """A course held out of the draft by review rules ("Til kontrol"): its lines are left
    out of the issue and owed in the first issue after the region releases them."""

    course_id: uuid.UUID
    course_number: str
    municipality_code: str
    rules: list[HoldRuleOut]


class HoldReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, FreeText(max_length=2000, min_length=1)]


class HoldReleaseOut(BaseModel):
    course_id: uuid.UUID
    rules: list[HoldRule] = Field(description="The rules released (those holding it now)")
    note: str
    released_at: datetime
    released_by: uuid.UUID


class CourseReviewOut(BaseModel):
    """A course's review flags: the rules holding it now, and the releases made."""

    holding: list[HoldRuleOut] = Field(description="Rules that hold its lines now")
    released: list[HoldReleaseOut] = Field(description="The region's releases, oldest first")


class RegionSummaryOut(BaseModel):
    period: PeriodText
    state: State
    issued_at: datetime | None
    payer: PayerOut
    total: Money
    municipalities: list[MunicipalityTotalOut]
    totals_by_type: list[TotalOut]
    totals_by_tier: list[TotalOut]
    totals_by_hospital: list[TotalOut]
    staircase: StaircaseOut
    registered_not_settled: int = Field(
        description="Courses started by the period's end, not cancelled, that no issued "
        "statement has billed yet (late registrations, or no given dose so far)"
    )
    chain: ChainOut | None = Field(
        default=None, description="Issued: the issue's place in the issue chain"
    )
    approval: ApprovalOut | None = Field(
        default=None, description="The latest approval of the period's draft, if any"
    )
    holds: list[HoldOut] = Field(
        default_factory=list, description="A draft's courses held by review rules"
    )
    warnings: list[ReviewWarningOut] = Field(
        default_factory=list,
        description="A draft's review warnings (kontrolregler that do not hold lines)",
    )
    open_objections: int = Field(
        default=0,
        description="Objections to the period's issued statements not answered yet "
        "(GET /api/v1/objections?period=…&status=open)",
    )
