"""The monitoring page (agreement §4.1): a quarter's figures as charts, for the region or
one municipality. The figures come from service.monitoring.service.monitoring, the same use
case as the API's, with its access rules: a municipality sees only its own (another's code
answers a 404 page). The page reads its quarter from the path after its own checks (the
file format), as it always has; a malformed quarter is the 422 page."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from service.domain.monitoring import Quarter
from service.errors import NotFound
from service.kit.http import file_response
from service.monitoring import service
from service.monitoring.files import DEVIATION_LABELS, REASON_LABELS, SETTING_LABELS
from service.monitoring.schemas import FiguresOut, MonitoringOut
from service.report.labels import treatment_label
from service.web.charts import Bar, Series, column_chart, danish_number, hbar_chart, share_bar
from service.web.pages import Page, PageRoute, render, signed_in

router = APIRouter(route_class=PageRoute, include_in_schema=False)

FinancePage = Annotated[Page, Depends(signed_in("region", "municipality"))]
FORMATS = ("csv", "xlsx")
STATUS_LABELS = {
    "accepted": "accepteret",
    "rejected": "afvist",
    "withdrawn": "trukket tilbage",
    "pending": "afventer",
}


def quarter_label(quarter: str) -> str:
    """ "2024Q1" → "1. kvartal 2024"."""
    year, number = quarter.split("Q")
    return f"{number}. kvartal {year}"


def share_percent(share: str | None) -> str:
    """The API's share ("0.7500") as Danish percent ("75,0 %"); "–" when undefined."""
    if share is None:
        return "–"
    return danish_number(float(Decimal(share) * 100)) + " %"


def mean_text(mean: str | None) -> str:
    return "–" if mean is None else mean.replace(".", ",")


def charts(f: FiguresOut, scope: str) -> dict[str, str]:
    """The page's charts for one set of figures (pure: numbers in, SVG text out)."""
    types = [treatment_label(t.treatment_type) for t in f.by_treatment]
    return {
        "referrals": column_chart(
            types,
            [
                Series("Henvist", [t.referred for t in f.by_treatment]),
                Series("Accepteret", [t.accepted for t in f.by_treatment]),
                Series("Forløb startet", [t.courses_started for t in f.by_treatment]),
            ],
            title=f"Henvisninger, accept og startede forløb pr. behandling, {scope}",
        ),
        "outcomes": share_bar(
            [
                Bar(STATUS_LABELS["accepted"].capitalize(), f.referrals.accepted),
                Bar(STATUS_LABELS["rejected"].capitalize(), f.referrals.rejected),
                Bar(STATUS_LABELS["withdrawn"].capitalize(), f.referrals.withdrawn),
                Bar(STATUS_LABELS["pending"].capitalize(), f.referrals.pending),
            ],
            title=f"Henvisningernes udfald, {scope}",
        ),
        "reasons": hbar_chart(
            [
                Bar(REASON_LABELS.get(c.key, c.key).capitalize(), c.count)
                for c in f.referrals.rejected_by_reason
            ],
            title=f"Afvisninger pr. årsag, {scope}",
            label_width=290,
        ),
        "administrations": hbar_chart(
            [Bar(treatment_label(t.treatment_type), t.administrations) for t in f.by_treatment],
            title=f"Givne indgifter pr. behandling, {scope}",
        ),
        "setting_courses": share_bar(
            [
                Bar(SETTING_LABELS.get(c.key, c.key).capitalize(), c.count)
                for c in f.courses.started_by_setting
            ],
            title=f"Startede forløb: eget hjem og kommunal klinik, {scope}",
        ),
        "setting_given": share_bar(
            [
                Bar(SETTING_LABELS.get(c.key, c.key).capitalize(), c.count)
                for c in f.administrations.by_setting
            ],
            title=f"Givne indgifter: eget hjem og kommunal klinik, {scope}",
        ),
        "length": column_chart(
            [f"{c.key.replace('-', '–')} dage" for c in f.courses.length_days],
            [Series("Afsluttede forløb", [c.count for c in f.courses.length_days])],
            title=f"Afsluttede forløbs længde i dage, {scope}",
        ),
        "per_day": column_chart(
            [c.key for c in f.administrations.per_course_day],
            [Series("Forløbsdage", [c.count for c in f.administrations.per_course_day])],
            title=f"Forløbsdage efter antal indgifter samme dag, {scope}",
        ),
    }


@router.get("/overvaagning")
async def monitoring_now(page: FinancePage) -> Response:
    last = service.last_ended(page.ctx.clock.today())
    return RedirectResponse(f"/overvaagning/{last}", status_code=303)


@router.get("/overvaagning/{quarter}.{fmt}")
async def monitoring_download(
    quarter: str, fmt: str, page: FinancePage, kommune: str | None = None
) -> Response:
    if fmt not in FORMATS:
        raise NotFound("not_found", "no such file")
    return file_response(
        await service.monitoring_file(page.ctx, Quarter.parse(quarter), kommune or None, fmt)
    )


@router.get("/overvaagning/{quarter}")
async def monitoring_page(
    request: Request, quarter: str, page: FinancePage, kommune: str | None = None
) -> Response:
    parsed = Quarter.parse(quarter)
    out: MonitoringOut = await service.monitoring(page.ctx, parsed, kommune or None)
    if out.region is not None:
        figures, scope = out.region, "hele regionen"
    else:
        (one,) = out.municipalities
        figures, scope = one.figures, one.municipality_name
    previous, following = service.neighbours(parsed)
    choices = (
        await service.municipalities(page.ctx, parsed) if page.principal.role == "region" else []
    )
    context: dict[str, Any] = {
        "out": out,
        "f": figures,
        "scope": scope,
        "label": quarter_label(out.quarter),
        "charts": charts(figures, scope),
        "previous": previous,
        "following": following,
        "chosen": kommune or "",
        "choices": choices,
        "query": f"?kommune={kommune}" if kommune else "",
        "share": share_percent,
        "mean": mean_text,
        "reason_labels": REASON_LABELS,
        "deviation_labels": DEVIATION_LABELS,
        "quarter_label": quarter_label,
        "formats": FORMATS,
    }
    return render(request, "monitoring.html", context, page=page)
