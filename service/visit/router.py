"""Routes of visits: single, batch (up to 1,000) and the list of a course."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from service.deps import Ctx, require
from service.errors import Conflict, Invalid, NotFound, ServiceError
from service.kit.openapi_responses import conflict
from service.visit import service
from service.visit.schemas import BatchVisitIn, VisitBatchIn, VisitBatchOut, VisitIn, VisitOut

router = APIRouter(prefix="/api/v1", tags=["visits"])

_ERRORS: dict[int, type[ServiceError]] = {404: NotFound, 409: Conflict, 422: Invalid}


@router.post(
    "/courses/{course_id}/visits",
    response_model=VisitOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "This visit id is already stored with the same content"},
        **conflict("The course is cancelled, or this visit id is stored with other content"),
    },
)
async def record_visit(
    course_id: uuid.UUID,
    body: VisitIn,
    response: Response,
    ctx: Annotated[Ctx, Depends(require("municipality"))],
) -> VisitOut:
    (result,) = await service.record_visits(
        ctx, [BatchVisitIn(course_id=course_id, **body.model_dump())]
    )
    if result.visit is None:
        assert result.code is not None and result.detail is not None
        raise _ERRORS[result.http_status](result.code, result.detail)
    response.status_code = result.http_status
    return result.visit


@router.post("/visits/batch", response_model=VisitBatchOut)
async def record_visit_batch(
    body: VisitBatchIn, ctx: Annotated[Ctx, Depends(require("municipality"))]
) -> VisitBatchOut:
    """Up to 1,000 visits; a result per item, in order. Items are independent: a rejected
    item does not stop the others, and the whole batch can be re-sent safely."""
    results = await service.record_visits(ctx, body.visits)
    return VisitBatchOut(
        results=results,
        created=sum(r.status == "created" for r in results),
        unchanged=sum(r.status == "unchanged" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
    )


@router.get("/courses/{course_id}/visits", response_model=list[VisitOut])
async def list_visits(
    course_id: uuid.UUID, ctx: Annotated[Ctx, Depends(require("municipality", "region"))]
) -> list[VisitOut]:
    return await service.list_visits(ctx, course_id)
