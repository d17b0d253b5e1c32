"""Routes of the settlement: region summary, statements, issuing, the staircase."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from service.deps import Ctx, require
from service.settlement import service
from service.settlement.schemas import RegionSummaryOut, StaircaseOut, StatementOut

router = APIRouter(prefix="/api/v1", tags=["settlement"])

PeriodText = Annotated[str, Path(pattern=r"^\d{4}-\d{2}$", examples=["2024-03"])]


@router.get("/settlements/{period}", response_model=RegionSummaryOut)
async def region_summary(
    period: PeriodText, ctx: Annotated[Ctx, Depends(require("region"))]
) -> RegionSummaryOut:
    """All 29 municipalities' totals for a period: issued, or a draft computed now."""
    return await service.region_summary(ctx, period)


@router.post(
    "/settlements/{period}/issue",
    response_model=RegionSummaryOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The period was already issued; the one issue is returned"}},
)
async def issue_period(
    period: PeriodText, response: Response, ctx: Annotated[Ctx, Depends(require("region"))]
) -> RegionSummaryOut:
    """Issue the period for all 29 municipalities at once (only an ended period; after the
    first issue, strictly the period after the last issued one)."""
    summary, created = await service.issue_period(ctx, period)
    if not created:
        response.status_code = status.HTTP_200_OK
    return summary


@router.get("/settlements/{period}/statements/{municipality_code}", response_model=StatementOut)
async def get_statement(
    period: PeriodText,
    municipality_code: str,
    ctx: Annotated[Ctx, Depends(require("region", "municipality"))],
) -> StatementOut:
    return await service.get_statement(ctx, period, municipality_code)


@router.get("/staircase/{year}", response_model=StaircaseOut)
async def staircase(
    year: Annotated[int, Path(ge=2021, le=2100)],
    ctx: Annotated[Ctx, Depends(require("region", "municipality"))],
) -> StaircaseOut:
    return await service.staircase(ctx, year)
