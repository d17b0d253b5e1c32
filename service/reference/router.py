"""Reference data: municipalities (with their parenteral-nutrition policy) and hospitals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from service.deps import ANY_ROLE, Ctx, require
from service.kit.openapi_responses import problems
from service.reference import service
from service.reference.schemas import (
    HospitalOut,
    MunicipalityOut,
    PayerDetailsIn,
    PayerDetailsOut,
    PolicyIn,
)

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
    """Change a municipality's policy for parenteral-nutrition referrals, and its e-invoice
    master data (CVR, EAN/GLN, address; admin). Fields left out stay as they are."""
    return await service.update_municipality(ctx, code, body)


@router.get("/hospitals", response_model=list[HospitalOut])
async def list_hospitals(ctx: Annotated[Ctx, Depends(require(*ANY_ROLE))]) -> list[HospitalOut]:
    return await service.list_hospitals(ctx)


@router.get("/payers", response_model=list[PayerDetailsOut])
async def list_payers(
    ctx: Annotated[Ctx, Depends(require("admin", "region"))],
) -> list[PayerDetailsOut]:
    """Every payer a tariff version names, with its e-invoice master data and terms."""
    return await service.list_payers(ctx)


@router.patch(
    "/payers/{cvr}", response_model=PayerDetailsOut, responses=problems("payer_not_found")
)
async def update_payer(
    cvr: str, body: PayerDetailsIn, ctx: Annotated[Ctx, Depends(require("admin"))]
) -> PayerDetailsOut:
    """Set a payer's EAN/GLN, address and the terms its invoices carry: order reference,
    account string (AccountingCost) and reference person (admin)."""
    return await service.update_payer(ctx, cvr, body)
