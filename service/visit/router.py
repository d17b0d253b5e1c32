"""Routes of visits: single, batch (up to 1,000) and the list of a course."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from service.deps import Ctx, require
from service.kit.openapi_responses import problems
from service.visit import service
from service.visit.schemas import (
    BatchVisitIn,
    ItemStatus,
    VisitBatchIn,
    VisitBatchOut,
    VisitIn,
    VisitOut,
    VisitResult,
)

router = APIRouter(prefix="/api/v1", tags=["visits"])

# A stored visit answers as the single route does: created or, for a repeat, unchanged.
_STORED: dict[ItemStatus, int] = {"created": 201, "unchanged": 200}


def _result(outcome: service.VisitOutcome) -> VisitResult:
    """An item of a batch answer: the status a single visit would have had, and its code."""
    error = outcome.error
    return VisitResult(
        index=outcome.index,
        id=outcome.id,
        status=outcome.status,
        http_status=error.status if error is not None else _STORED[outcome.status],
        code=outcome.code,
        detail=outcome.detail,
        visit=outcome.visit,
    )


@router.post(
    "/courses/{course_id}/visits",
    response_model=VisitOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "This visit id is already stored with the same content"},
        **problems(
            "course_not_found",
            "course_cancelled",
            "visit_conflict",
            "visit_outside_course",
            "visit_in_future",
            conflict="The course is cancelled, or this visit id is stored with other content",
        ),
    },
)
async def record_visit(
    course_id: uuid.UUID,
    body: VisitIn,
    response: Response,
    ctx: Annotated[Ctx, Depends(require("municipality"))],
) -> VisitOut:
    (outcome,) = await service.record_visits(
        ctx, [BatchVisitIn(course_id=course_id, **body.model_dump())]
    )
    if outcome.error is not None:
        raise outcome.error
    assert outcome.visit is not None
    response.status_code = _STORED[outcome.status]
    return outcome.visit


@router.post("/visits/batch", response_model=VisitBatchOut)
async def record_visit_batch(
    body: VisitBatchIn, ctx: Annotated[Ctx, Depends(require("municipality"))]
) -> VisitBatchOut:
    """Up to 1,000 visits; a result per item, in order. Items are independent: a rejected
    item does not stop the others, and the whole batch can be re-sent safely."""
    results = [_result(outcome) for outcome in await service.record_visits(ctx, body.visits)]
    return VisitBatchOut(
        results=results,
        created=sum(r.status == "created" for r in results),
        unchanged=sum(r.status == "unchanged" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
    )


@router.get(
    "/courses/{course_id}/visits",
    response_model=list[VisitOut],
    responses=problems("course_not_found"),
)
async def list_visits(
    course_id: uuid.UUID, ctx: Annotated[Ctx, Depends(require("municipality", "region"))]
) -> list[VisitOut]:
    return await service.list_visits(ctx, course_id)
