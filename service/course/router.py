"""Routes of courses (municipality writes; the region reads all)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.course import service
from service.course.schemas import CancelIn, CompleteIn, CorrectionIn, CourseOut, CourseSearch
from service.deps import Ctx, require
from service.domain.vocabulary import CourseStatus
from service.kit.openapi_responses import problems

router = APIRouter(prefix="/api/v1", tags=["courses"])

Reader = Annotated[Ctx, Depends(require("municipality", "region"))]
Writer = Annotated[Ctx, Depends(require("municipality"))]


@router.get("/courses", response_model=list[CourseOut])
async def list_courses(
    ctx: Reader,
    municipality_code: str | None = None,
    status: CourseStatus | None = None,
    started_from: date | None = None,
    started_to: date | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    # Bounded: an offset beyond 64 bits reached the database and failed there (a 500).
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[CourseOut]:
    criteria = CourseSearch(municipality_code, status, started_from, started_to)
    return await service.list_courses(ctx, criteria, limit, offset)


@router.get(
    "/courses/{course_id}", response_model=CourseOut, responses=problems("course_not_found")
)
async def get_course(course_id: uuid.UUID, ctx: Reader) -> CourseOut:
    return await service.get_course(ctx, course_id)


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
        "unknown_municipality",
        conflict="The course is cancelled, or the change meets another active course",
    ),
)
async def correct_course(course_id: uuid.UUID, body: CorrectionIn, ctx: Writer) -> CourseOut:
    return await service.correct_course(ctx, course_id, body)
