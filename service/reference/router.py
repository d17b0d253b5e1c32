"""Reference data: municipalities (with their parenteral-nutrition policy) and hospitals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from service.deps import ANY_ROLE, Ctx, require
from service.kit.openapi_responses import problems
from service.reference import service
from service.reference.schemas import HospitalOut, MunicipalityOut, PolicyIn

router = APIRouter(prefix="/api/v1", tags=["reference"])


@router.get("/municipalities", response_model=list[MunicipalityOut])
async def list_municipalities(
    ctx: Annotated[Ctx, Depends(require(*ANY_ROLE))],
) -> list[MunicipalityOut]:
    return await service.list_municipalities(ctx)


@router.patch(
    "/municipalities/{code}",
    response_model=MunicipalityOut,
    responses=problems("municipality_not_found"),
)
async def set_municipality_policy(
    code: str, body: PolicyIn, ctx: Annotated[Ctx, Depends(require("admin"))]
) -> MunicipalityOut:
    """Change a municipality's policy for parenteral-nutrition referrals (admin)."""
    return await service.set_municipality_policy(ctx, code, body.parenteral_nutrition_policy)


@router.get("/hospitals", response_model=list[HospitalOut])
async def list_hospitals(ctx: Annotated[Ctx, Depends(require(*ANY_ROLE))]) -> list[HospitalOut]:
    return await service.list_hospitals(ctx)
