"""Routes of courses (municipality writes; the region reads all)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from service.course import service, transfers
from service.course.schemas import (
    CancelIn,
    CompleteIn,
    CorrectionIn,
    CourseOut,
    CourseSearch,
    CourseUpdateIn,
    TransferDecisionIn,
    TransferIn,
    TransferOut,
    TransferSearch,
    TransferStatus,
)
from service.deps import Ctx, require
from service.domain.vocabulary import CourseStatus
from service.kit.contract import IsoDate
from service.kit.openapi_responses import problems

router = APIRouter(prefix="/api/v1", tags=["courses"])

Reader = Annotated[Ctx, Depends(require("municipality", "region"))]
Writer = Annotated[Ctx, Depends(require("municipality"))]


@router.get("/courses", response_model=list[CourseOut])
async def list_courses(
    ctx: Reader,
    municipality_code: str | None = None,
    status: CourseStatus | None = None,
    started_from: IsoDate | None = None,
    started_to: IsoDate | None = None,
    number: Annotated[
        str | None,
        Query(max_length=20, description="A course number, e.g. IV-2026-00042"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    # Bounded: an offset beyond 64 bits reached the database and failed there (a 500).
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[CourseOut]:
    criteria = CourseSearch(municipality_code, status, started_from, started_to, number)
    return await service.list_courses(ctx, criteria, limit, offset)


@router.get(
    "/courses/{course_id}", response_model=CourseOut, responses=problems("course_not_found")
)
async def get_course(course_id: uuid.UUID, ctx: Reader) -> CourseOut:
    return await service.get_course(ctx, course_id)


@router.patch(
    "/courses/{course_id}", response_model=CourseOut, responses=problems("course_not_found")
)
async def update_course(course_id: uuid.UUID, body: CourseUpdateIn, ctx: Writer) -> CourseOut:
    """Set the municipality's own case reference (`municipality_ref`); it is shown on the
    course's statement lines from the next draft on."""
    return await service.update_course(ctx, course_id, body)


@router.post(
    "/courses/{course_id}/complete",
    response_model=CourseOut,
    responses=problems(
        "course_not_found",
        "course_not_active",
        "end_before_start",
        "end_date_in_future",
        conflict="The course is cancelled, or was completed with other values",
    ),
)
async def complete_course(course_id: uuid.UUID, body: CompleteIn, ctx: Writer) -> CourseOut:
    return await service.complete_course(ctx, course_id, body)


@router.post(
    "/courses/{course_id}/cancel", response_model=CourseOut, responses=problems("course_not_found")
)
async def cancel_course(course_id: uuid.UUID, body: CancelIn, ctx: Writer) -> CourseOut:
    return await service.cancel_course(ctx, course_id, body)


@router.post(
    "/courses/{course_id}/corrections",
    response_model=CourseOut,
    responses=problems(
        "course_not_found",
        "course_cancelled",
        "active_course_exists",
        "nothing_to_correct",
        "course_not_completed",
        "end_before_start",
        "end_date_in_future",
        "before_agreement",
        "start_date_in_future",
        "unknown_municipality",
        "transfer_required",
        conflict="The course is cancelled, or the change meets another active course",
    ),
)
async def correct_course(course_id: uuid.UUID, body: CorrectionIn, ctx: Writer) -> CourseOut:
    return await service.correct_course(ctx, course_id, body)


# Transfers: the municipality that has a course proposes its move; the receiving one
# accepts or declines; the region's move is in effect at once.

Mover = Annotated[Ctx, Depends(require("municipality", "region"))]


@router.post(
    "/courses/{course_id}/transfers",
    response_model=TransferOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The same proposal already awaits an answer"},
        **problems(
            "course_not_found",
            "course_cancelled",
            "transfer_pending",
            "active_course_exists",
            "same_municipality",
            "unknown_municipality",
            conflict="The course is cancelled, another transfer of it awaits an answer, or"
            " the patient has an active course of this type there",
        ),
    },
)
async def propose_transfer(
    course_id: uuid.UUID, body: TransferIn, response: Response, ctx: Mover
) -> TransferOut:
    out, created = await transfers.propose_transfer(ctx, course_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/transfers", response_model=list[TransferOut])
async def list_transfers(
    ctx: Reader,
    transfer_status: Annotated[TransferStatus | None, Query(alias="status")] = None,
    course_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[TransferOut]:
    criteria = TransferSearch(transfer_status, course_id)
    return await transfers.list_transfers(ctx, criteria, limit, offset)


@router.post(
    "/transfers/{transfer_id}/accept",
    response_model=TransferOut,
    responses=problems(
        "transfer_not_found",
        "transfer_not_pending",
        "course_cancelled",
        "active_course_exists",
        "not_receiving_municipality",
        conflict="The transfer was answered already, its course was cancelled, or the"
        " patient has an active course of this type here",
    ),
)
async def accept_transfer(transfer_id: uuid.UUID, ctx: Writer) -> TransferOut:
    return await transfers.accept_transfer(ctx, transfer_id)


@router.post(
    "/transfers/{transfer_id}/decline",
    response_model=TransferOut,
    responses=problems("transfer_not_found", "transfer_not_pending", "not_receiving_municipality"),
)
async def decline_transfer(
    transfer_id: uuid.UUID, body: TransferDecisionIn, ctx: Writer
) -> TransferOut:
    return await transfers.decline_transfer(ctx, transfer_id, body)


@router.post(
    "/transfers/{transfer_id}/withdraw",
    response_model=TransferOut,
    responses=problems("transfer_not_found", "transfer_not_pending", "not_sending_municipality"),
)
async def withdraw_transfer(transfer_id: uuid.UUID, ctx: Writer) -> TransferOut:
    return await transfers.withdraw_transfer(ctx, transfer_id)
