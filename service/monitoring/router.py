"""Routes of the quarterly monitoring (agreement §4.1): JSON, CSV and XLSX."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from service.deps import Ctx, require
from service.monitoring import service
from service.monitoring.schemas import MonitoringOut
from service.report.files import MEDIA_TYPES

router = APIRouter(prefix="/api/v1", tags=["monitoring"])

# Not a pattern on the path: a malformed quarter answers 422 `invalid_quarter`, like a
# quarter out of range, instead of the generic `invalid_request`.
QuarterText = Annotated[
    str,
    Path(
        description="A calendar quarter, YYYYQn with n 1-4 (2024Q1 = January-March 2024)",
        examples=["2024Q1"],
    ),
]
MunicipalityCode = Annotated[
    str | None,
    Query(
        description="One municipality's figures only (a municipality's key: its own code)",
        examples=["157"],
    ),
]
Reader = Annotated[Ctx, Depends(require("region", "municipality"))]

_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The figures as a file (Danish headings)",
        "content": {media: {} for media in (MEDIA_TYPES["csv"], MEDIA_TYPES["xlsx"])},
    }
}


# Registered before the JSON route: "2024Q1.csv" must not be read as a quarter.
@router.get("/monitoring/{quarter}.{fmt}", response_class=Response, responses=_FILE_RESPONSES)
async def monitoring_file(
    quarter: QuarterText,
    fmt: Literal["csv", "xlsx"],
    ctx: Reader,
    municipality_code: MunicipalityCode = None,
) -> Response:
    """The quarter's figures as CSV or XLSX: one row for the region (region only) and one
    per municipality, one column per figure."""
    file = await service.monitoring_file(ctx, quarter, municipality_code, fmt)
    return Response(
        content=file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


@router.get("/monitoring/{quarter}", response_model=MonitoringOut)
async def monitoring(
    quarter: QuarterText, ctx: Reader, municipality_code: MunicipalityCode = None
) -> MonitoringOut:
    """The agreement's §4.1 figures for a quarter: referred, accepted, rejected by reason,
    by treatment type, visits per day, minutes per administration, course length, home
    versus clinic, deviations. The region sees the region total and every municipality
    (or one, with `municipality_code`); a municipality sees only its own."""
    return await service.monitoring(ctx, quarter, municipality_code)
