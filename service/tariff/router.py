"""Routes of the tariff timeline and the price index."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from service.deps import ANY_ROLE, Ctx, require
from service.kit.openapi_responses import problems
from service.tariff import service
from service.tariff.schemas import PriceIndexIn, PriceIndexOut, TariffDocument, TariffOut

router = APIRouter(prefix="/api/v1", tags=["tariffs"])

Year = Annotated[int, Path(ge=2000, le=2100)]


@router.get("/tariffs", response_model=list[TariffOut])
async def list_tariffs(ctx: Annotated[Ctx, Depends(require(*ANY_ROLE))]) -> list[TariffOut]:
    return await service.list_tariffs(ctx)


@router.get(
    "/tariffs/{tariff_id}", response_model=TariffOut, responses=problems("tariff_not_found")
)
async def get_tariff(
    tariff_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    ctx: Annotated[Ctx, Depends(require(*ANY_ROLE))],
) -> TariffOut:
    # Ids are 32-bit in the database: a larger one was a 500 (out of range), now a 422.
    return await service.get_tariff(ctx, tariff_id)


@router.post(
    "/tariffs",
    response_model=TariffOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The same version was already loaded"},
        **problems(
            "tariff_version_exists",
            conflict="A version valid from the same day exists with other content",
        ),
    },
)
async def create_tariff(
    doc: TariffDocument, response: Response, ctx: Annotated[Ctx, Depends(require("admin"))]
) -> TariffOut:
    out, created = await service.create_tariff(ctx, doc)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.put("/price-index/{year}", response_model=PriceIndexOut)
async def set_price_index(
    year: Year, body: PriceIndexIn, ctx: Annotated[Ctx, Depends(require("region", "admin"))]
) -> PriceIndexOut:
    return await service.set_price_index(ctx, year, body.index)


@router.get("/price-index", response_model=list[PriceIndexOut])
async def list_price_index(ctx: Annotated[Ctx, Depends(require(*ANY_ROLE))]) -> list[PriceIndexOut]:
    return await service.list_price_index(ctx)
