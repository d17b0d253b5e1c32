"""Routes of referrals (hospital) and visitation (municipality)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from service.course.schemas import CourseOut
from service.deps import Ctx, require
from service.domain.vocabulary import ReferralStatus
from service.kit.problem import PROBLEM_JSON
from service.referral import service
from service.referral.schemas import AcceptIn, ReferralIn, ReferralOut, ReferralSearch, RejectIn

router = APIRouter(prefix="/api/v1", tags=["referrals"])

_problems: dict[int | str, dict[str, Any]] = {
    409: {"description": "Conflict with stored state", "content": {PROBLEM_JSON: {}}},
    422: {"description": "Outside the agreement or the contract", "content": {PROBLEM_JSON: {}}},
}


@router.post(
    "/referrals",
    response_model=ReferralOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The same referral was already received"}, **_problems},
)
async def create_referral(
    body: ReferralIn, response: Response, ctx: Annotated[Ctx, Depends(require("hospital"))]
) -> ReferralOut:
    out, created = await service.create_referral(ctx, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/referrals", response_model=list[ReferralOut])
async def list_referrals(
    ctx: Annotated[Ctx, Depends(require("hospital", "municipality", "region"))],
    status: ReferralStatus | None = None,
    municipality_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    # Bounded: an offset beyond 64 bits reached the database and failed there (a 500).
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[ReferralOut]:
    criteria = ReferralSearch(status, municipality_code)
    return await service.list_referrals(ctx, criteria, limit, offset)


@router.get("/referrals/{referral_id}", response_model=ReferralOut)
async def get_referral(
    referral_id: uuid.UUID,
    ctx: Annotated[Ctx, Depends(require("hospital", "municipality", "region"))],
) -> ReferralOut:
    return await service.get_referral(ctx, referral_id)


@router.post("/referrals/{referral_id}/withdraw", response_model=ReferralOut, responses=_problems)
async def withdraw_referral(
    referral_id: uuid.UUID, ctx: Annotated[Ctx, Depends(require("hospital"))]
) -> ReferralOut:
    return await service.withdraw_referral(ctx, referral_id)


@router.post(
    "/referrals/{referral_id}/accept",
    response_model=CourseOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Already accepted with the same values"}, **_problems},
)
async def accept_referral(
    referral_id: uuid.UUID,
    body: AcceptIn,
    response: Response,
    ctx: Annotated[Ctx, Depends(require("municipality"))],
) -> CourseOut:
    out, created = await service.accept_referral(ctx, referral_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.post("/referrals/{referral_id}/reject", response_model=ReferralOut, responses=_problems)
async def reject_referral(
    referral_id: uuid.UUID, body: RejectIn, ctx: Annotated[Ctx, Depends(require("municipality"))]
) -> ReferralOut:
    return await service.reject_referral(ctx, referral_id, body)
