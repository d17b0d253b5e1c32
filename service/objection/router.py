"""Routes of objections: a municipality raises them, the region answers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from service.deps import Ctx, require
from service.domain.vocabulary import ObjectionStatus
from service.kit.contract import PeriodText
from service.kit.openapi_responses import problems
from service.objection import service
from service.objection.schemas import ObjectionAnswerIn, ObjectionIn, ObjectionOut, ObjectionSearch

router = APIRouter(prefix="/api/v1", tags=["objections"])


@router.post(
    "/objections",
    response_model=ObjectionOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The same open objection was raised before; it is returned"},
        **problems("course_not_found", "line_not_on_statement"),
    },
)
async def raise_objection(
    body: ObjectionIn, response: Response, ctx: Annotated[Ctx, Depends(require("municipality"))]
) -> ObjectionOut:
    """Object to a line of one of your issued statements (`period`, optionally `line_kind`
    and `line_period`) or, without `period`, to one of your courses."""
    out, created = await service.raise_objection(ctx, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/objections", response_model=list[ObjectionOut])
async def list_objections(
    ctx: Annotated[Ctx, Depends(require("region", "municipality"))],
    period: Annotated[PeriodText | None, Query()] = None,
    status: ObjectionStatus | None = None,
    municipality_code: Annotated[str | None, Query(max_length=3)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[ObjectionOut]:
    """Objections, oldest first: the region's all, a municipality's its own."""
    criteria = ObjectionSearch(period, status, municipality_code)
    return await service.list_objections(ctx, criteria, limit, offset)


@router.get(
    "/objections/{objection_id}",
    response_model=ObjectionOut,
    responses=problems("objection_not_found"),
)
async def get_objection(
    objection_id: uuid.UUID, ctx: Annotated[Ctx, Depends(require("region", "municipality"))]
) -> ObjectionOut:
    return await service.get_objection(ctx, objection_id)


@router.post(
    "/objections/{objection_id}/answer",
    response_model=ObjectionOut,
    responses=problems("objection_not_found", "objection_already_answered"),
)
async def answer_objection(
    objection_id: uuid.UUID,
    body: ObjectionAnswerIn,
    ctx: Annotated[Ctx, Depends(require("region"))],
) -> ObjectionOut:
    """Accept (then correct or cancel the course: the next statement settles it) or reject
    the objection, with a note; the same answer again returns it unchanged."""
    return await service.answer_objection(ctx, objection_id, body)
