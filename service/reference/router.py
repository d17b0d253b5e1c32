"""Reference data: municipalities (with their parenteral-nutrition policy) and hospitals."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from service.access import audit
from service.deps import ANY_ROLE, Ctx, require
from service.errors import NotFound
from service.models import Hospital, Municipality

router = APIRouter(prefix="/api/v1", tags=["reference"])


class MunicipalityOut(BaseModel):
    code: str
    name: str
    cluster: str
    parenteral_nutrition_policy: Literal["reject", "accept"]


class HospitalOut(BaseModel):
    code: str
    name: str
    shak: str | None


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parenteral_nutrition_policy: Literal["reject", "accept"]


def _municipality_out(m: Municipality) -> MunicipalityOut:
    return MunicipalityOut(
        code=m.code,
        name=m.name,
        cluster=m.cluster,
        parenteral_nutrition_policy=m.parenteral_nutrition_policy,
    )


@router.get("/municipalities", response_model=list[MunicipalityOut])
async def list_municipalities(
    ctx: Annotated[Ctx, Depends(require(*ANY_ROLE))],
) -> list[MunicipalityOut]:
    rows = await ctx.session.scalars(select(Municipality).order_by(Municipality.code))
    return [_municipality_out(m) for m in rows]


@router.patch("/municipalities/{code}", response_model=MunicipalityOut)
async def set_municipality_policy(
    code: str, body: PolicyIn, ctx: Annotated[Ctx, Depends(require("admin"))]
) -> MunicipalityOut:
    """Change a municipality's policy for parenteral-nutrition referrals (admin)."""
    municipality = await ctx.session.get(Municipality, code, with_for_update=True)
    if municipality is None:
        raise NotFound("municipality_not_found", "no municipality with this code")
    previous = municipality.parenteral_nutrition_policy
    municipality.parenteral_nutrition_policy = body.parenteral_nutrition_policy
    ctx.reference.invalidate()
    await audit.record(
        ctx.session,
        ctx.principal,
        ctx.now,
        "municipality.policy",
        "municipality",
        code,
        detail={"previous": previous, "new": body.parenteral_nutrition_policy},
    )
    return _municipality_out(municipality)


@router.get("/hospitals", response_model=list[HospitalOut])
async def list_hospitals(ctx: Annotated[Ctx, Depends(require(*ANY_ROLE))]) -> list[HospitalOut]:
    rows = await ctx.session.scalars(select(Hospital).order_by(Hospital.code))
    return [HospitalOut(code=h.code, name=h.name, shak=h.shak) for h in rows]
