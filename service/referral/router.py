"""Routes of referrals (hospital) and visitation (municipality)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from service.course.schemas import CourseOut
from service.deps import Ctx, require
from service.domain.vocabulary import ReferralStatus
from service.kit.openapi_responses import problems
from service.referral import service
from service.referral.schemas import AcceptIn, ReferralIn, ReferralOut, ReferralSearch, RejectIn

router = APIRouter(prefix="/api/v1", tags=["referrals"])

_DECIDED = problems("referral_not_found", "referral_not_pending")


@router.post(
    "/referrals",
    response_model=ReferralOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The same referral was already received"},
        **problems(
            "hospital_mismatch", "referral_conflict", "active_course_exists", "out_of_scope"
        ),
    },
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


@router.get(
    "/referrals/{referral_id}",
    response_model=ReferralOut,
    responses=problems("referral_not_found"),
)
async def get_referral(
    referral_id: uuid.UUID,
    ctx: Annotated[Ctx, Depends(require("hospital", "municipality", "region"))],
) -> ReferralOut:
    return await service.get_referral(ctx, referral_id)


@router.post("/referrals/{referral_id}/withdraw", response_model=ReferralOut, responses=_DECIDED)
async def withdraw_referral(
    referral_id: uuid.UUID, ctx: Annotated[Ctx, Depends(require("hospital"))]
) -> ReferralOut:
    return await service.withdraw_referral(ctx, referral_id)


@router.post(
    "/referrals/{referral_id}/accept",
    response_model=CourseOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Already accepted with the same values"},
        **problems(
            "referral_not_found",
            "referral_not_pending",
            "active_course_exists",
            "before_agreement",
            "start_date_in_future",
        ),
    },
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


@router.post("/referrals/{referral_id}/reject", response_model=ReferralOut, responses=_DECIDED)
async def reject_referral(
    referral_id: uuid.UUID, body: RejectIn, ctx: Annotated[Ctx, Depends(require("municipality"))]
) -> ReferralOut:
    return await service.reject_referral(ctx, referral_id, body)
