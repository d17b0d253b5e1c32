"""Routes of the settlement: region summary, statements, issuing, the staircase."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import AfterValidator

from service.deps import Ctx, require
from service.domain.settlement import InvalidPeriod, Period
from service.errors import as_service_error
from service.kit.http import file_response, file_responses
from service.kit.openapi_responses import problems
from service.kit.problem import ProblemCode
from service.report.files import MEDIA_TYPES
from service.settlement import approval, downloads, issue, journal, service
from service.settlement.schemas import (
    ApprovalOut,
    HoldOut,
    HoldReleaseIn,
    HoldReleaseOut,
    RegionSummaryOut,
    StaircaseOut,
    StatementOut,
)

router = APIRouter(prefix="/api/v1", tags=["settlement"])


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except InvalidPeriod as exc:
        # Raised as the service's error: pydantic would turn a ValueError into the generic
        # 422 invalid_request, and a month that does not exist answers invalid_period.
        raise as_service_error(exc) from None


if TYPE_CHECKING:
    PeriodPath = Period
else:
    # A string in the OpenAPI document (YYYY-MM); the route receives a Period.
    PeriodPath = Annotated[
        str, Path(pattern=r"^\d{4}-\d{2}$", examples=["2024-03"]), AfterValidator(_period)
    ]

# Every route on a period: a period written wrong, one before the last issued period that
# was never issued, or one not begun (the rules add the index, not-ended and out-of-order
# codes).
_PERIOD: tuple[ProblemCode, ...] = ("invalid_period", "period_closed", "period_not_begun")


# Registered before the JSON routes: "157.pdf" must not be read as a municipality code.
@router.get(
    "/settlements/{period}/statements/{municipality_code}.{fmt}",
    response_class=Response,
    responses={
        **file_responses(
            "The statement",
            MEDIA_TYPES["csv"],
            MEDIA_TYPES["xlsx"],
            MEDIA_TYPES["pdf"],
            MEDIA_TYPES["xml"],
        ),
        **problems(
            *_PERIOD,
            "statement_not_found",
            "statement_not_issued",
            "nothing_to_invoice",
            "master_data_missing",
        ),
    },
)
async def statement_file(
    period: PeriodPath,
    municipality_code: str,
    fmt: Literal["csv", "xlsx", "pdf", "xml"],
    ctx: Annotated[Ctx, Depends(require("region", "municipality"))],
) -> Response:
    """The statement as CSV, XLSX or PDF (Danish headings, amounts in kr. with øre), or an
    issued statement as its OIOUBL 2.1 e-invoice (`xml`: an Invoice, or a CreditNote for a
    negative total). An issued statement's file is byte for byte the same at every
    download."""
    return file_response(await downloads.statement_file(ctx, period, municipality_code, fmt))


@router.get(
    "/settlements/{period}/journal/{side}.{fmt}",
    response_class=Response,
    responses={
        **file_responses("The booking journal", MEDIA_TYPES["csv"], MEDIA_TYPES["xlsx"]),
        **problems(*_PERIOD, "statement_not_found", "period_not_issued", "account_string_missing"),
    },
)
async def journal_file(
    period: PeriodPath,
    side: str,
    fmt: Literal["csv", "xlsx"],
    ctx: Annotated[Ctx, Depends(require("region", "municipality"))],
) -> Response:
    """The booking journal (posteringsfil) of an issued period: `side` is `region` (its
    expense per municipality and treatment type) or a municipality's code (its income);
    account strings from the configuration (IVSETTLE_ACCOUNTS_FILE). A municipality gets
    its own only."""
    return file_response(await journal.journal_file(ctx, period, side, fmt))


@router.get(
    "/settlements/{period}.xlsx",
    response_class=Response,
    responses={**file_responses("The region summary", MEDIA_TYPES["xlsx"]), **problems(*_PERIOD)},
)
async def region_summary_file(
    period: PeriodPath, ctx: Annotated[Ctx, Depends(require("region"))]
) -> Response:
    """The region summary as XLSX: municipalities, types, tiers, hospitals, staircase."""
    return file_response(await downloads.region_summary_file(ctx, period))


@router.get("/settlements/{period}", response_model=RegionSummaryOut, responses=problems(*_PERIOD))
async def region_summary(
    period: PeriodPath, ctx: Annotated[Ctx, Depends(require("region"))]
) -> RegionSummaryOut:
    """All 29 municipalities' totals for a period: issued, or a draft computed now."""
    return await service.region_summary(ctx, period)


@router.post(
    "/settlements/{period}/issue",
    response_model=RegionSummaryOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The period was already issued; the one issue is returned"},
        **problems(
            *_PERIOD,
            "issue_in_progress",
            "approval_required",
            "approval_by_same_client",
            "draft_changed_since_approval",
        ),
    },
)
async def issue_period(
    period: PeriodPath, response: Response, ctx: Annotated[Ctx, Depends(require("region"))]
) -> RegionSummaryOut:
    """Issue the period for all 29 municipalities at once (only an ended period; after the
    first issue, strictly the period after the last issued one). With four eyes on (the
    default), only after another region client approved exactly this draft: else 409
    `approval_required`, `approval_by_same_client` or `draft_changed_since_approval`
    (with `municipalities`, whose statements changed)."""
    summary, created = await issue.issue_period(ctx, period)
    if not created:
        response.status_code = status.HTTP_200_OK
    return summary


@router.post(
    "/settlements/{period}/approval",
    response_model=ApprovalOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "This client already approved this very draft; that approval"},
        **problems(*_PERIOD, "issue_in_progress", "period_already_issued"),
    },
)
async def approve_period(
    period: PeriodPath, response: Response, ctx: Annotated[Ctx, Depends(require("region"))]
) -> ApprovalOut:
    """Approve the period's draft as it is now (four eyes): records every statement's
    hash and who approved; another region client may then issue it while the draft stays
    exactly so. Only an ended period, next in sequence, can be approved."""
    approval_out, created = await approval.approve_period(ctx, period)
    if not created:
        response.status_code = status.HTTP_200_OK
    return approval_out


@router.get(
    "/settlements/{period}/approval",
    response_model=ApprovalOut,
    responses=problems(*_PERIOD, "approval_not_found"),
)
async def get_approval(
    period: PeriodPath, ctx: Annotated[Ctx, Depends(require("region"))]
) -> ApprovalOut:
    """The period's latest approval (a later one supersedes an earlier one)."""
    return await approval.latest_approval(ctx, period)


@router.get(
    "/settlements/{period}/statements/{municipality_code}",
    response_model=StatementOut,
    responses=problems(*_PERIOD, "statement_not_found"),
)
async def get_statement(
    period: PeriodPath,
    municipality_code: str,
    ctx: Annotated[Ctx, Depends(require("region", "municipality"))],
) -> StatementOut:
    return await service.get_statement(ctx, period, municipality_code)


@router.get("/staircase/{year}", response_model=StaircaseOut, responses=problems("no_tariff"))
async def staircase(
    year: Annotated[int, Path(ge=service.FIRST_STAIRCASE_YEAR, le=service.LAST_STAIRCASE_YEAR)],
    ctx: Annotated[Ctx, Depends(require("region", "municipality"))],
) -> StaircaseOut:
    return await service.staircase(ctx, year)


@router.get(
    "/settlements/{period}/holds",
    response_model=list[HoldOut],
    responses=problems(*_PERIOD),
)
async def period_holds(
    period: PeriodPath, ctx: Annotated[Ctx, Depends(require("region", "municipality"))]
) -> list[HoldOut]:
    """The courses review rules hold out of the period's draft ("Til kontrol"), each with
    its rules and their Danish explanations; a municipality sees its own."""
    return await service.holds_of(ctx, period)


@router.post(
    "/courses/{course_id}/hold-release",
    response_model=HoldReleaseOut,
    responses=problems("course_not_found", "course_not_held"),
)
async def release_hold(
    course_id: uuid.UUID, body: HoldReleaseIn, ctx: Annotated[Ctx, Depends(require("region"))]
) -> HoldReleaseOut:
    """Release a held course from the rules holding it now, with a note: its lines are
    owed in the next issue (regular or as adjustments for their months)."""
    return await service.release_hold(ctx, course_id, body)
