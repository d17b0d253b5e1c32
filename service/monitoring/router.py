"""Routes of the quarterly monitoring (agreement §4.1): JSON, CSV and XLSX."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AfterValidator

from service.deps import Ctx, require
from service.domain.monitoring import InvalidQuarter, Quarter
from service.errors import as_service_error
from service.kit.http import file_response, file_responses
from service.kit.openapi_responses import problems
from service.monitoring import service
from service.monitoring.schemas import MonitoringOut
from service.report.files import MEDIA_TYPES

router = APIRouter(prefix="/api/v1", tags=["monitoring"])


def _quarter(text: str) -> Quarter:
    try:
        return Quarter.parse(text)
    except InvalidQuarter as exc:
        # Raised as the service's error: pydantic would turn a ValueError into the generic
        # 422 invalid_request.
        raise as_service_error(exc) from None


if TYPE_CHECKING:
    QuarterPath = Quarter
else:
    # A string in the OpenAPI document, and no pattern on it: a malformed quarter answers
    # 422 `invalid_quarter`, like a quarter out of range. The route receives a Quarter.
    QuarterPath = Annotated[
        str,
        Path(
            description="A calendar quarter, YYYYQn with n 1-4 (2024Q1 = January-March 2024)",
            examples=["2024Q1"],
        ),
        AfterValidator(_quarter),
    ]
MunicipalityCode = Annotated[
    str | None,
    Query(
        description="One municipality's figures only (a municipality's key: its own code)",
        examples=["157"],
    ),
]
Reader = Annotated[Ctx, Depends(require("region", "municipality"))]

_QUARTER = problems("invalid_quarter", "municipality_not_found")


# Registered before the JSON route: "2024Q1.csv" must not be read as a quarter.
@router.get(
    "/monitoring/{quarter}.{fmt}",
    response_class=Response,
    responses={
        **file_responses(
            "The figures as a file (Danish headings)", MEDIA_TYPES["csv"], MEDIA_TYPES["xlsx"]
        ),
        **_QUARTER,
    },
)
async def monitoring_file(
    quarter: QuarterPath,
    fmt: Literal["csv", "xlsx"],
    ctx: Reader,
    municipality_code: MunicipalityCode = None,
) -> Response:
    """The quarter's figures as CSV or XLSX: one row for the region (region only) and one
    per municipality, one column per figure."""
    return file_response(await service.monitoring_file(ctx, quarter, municipality_code, fmt))


@router.get("/monitoring/{quarter}", response_model=MonitoringOut, responses=_QUARTER)
async def monitoring(
    quarter: QuarterPath, ctx: Reader, municipality_code: MunicipalityCode = None
) -> MonitoringOut:
    """The agreement's §4.1 figures for a quarter: referred, accepted, rejected by reason,
    by treatment type, visits per day, minutes per administration, course length, home
    versus clinic, deviations. The region sees the region total and every municipality
    (or one, with `municipality_code`); a municipality sees only its own."""
    return await service.monitoring(ctx, quarter, municipality_code)
