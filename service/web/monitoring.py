"""The monitoring page (agreement §4.1): a quarter's figures as charts, for the region or
one municipality. The figures come from service.monitoring.service.monitoring, the same use
case as the API's, with its access rules: a municipality sees only its own (another's code
answers a 404 page)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from service.domain.monitoring import Quarter
from service.errors import NotFound
from service.monitoring import repository, service
from service.monitoring.schemas import FiguresOut, MonitoringOut
from service.report.labels import treatment_label
from service.report.monitoring import DEVIATION_LABELS, REASON_LABELS, SETTING_LABELS
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


def neighbours(quarter: Quarter) -> tuple[str, str]:
    year, number = quarter.year, quarter.number
    previous = f"{year - 1}Q4" if number == 1 else f"{year}Q{number - 1}"
    following = f"{year + 1}Q1" if number == 4 else f"{year}Q{number + 1}"
    return previous, following


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


def _default_quarter(page: Page) -> str:
    """The last quarter that has ended."""
    today = page.ctx.clock.today()
    number = (today.month - 1) // 3 + 1
    return f"{today.year - 1}Q4" if number == 1 else f"{today.year}Q{number - 1}"


@router.get("/overvaagning")
async def monitoring_now(page: FinancePage) -> Response:
    return RedirectResponse(f"/overvaagning/{_default_quarter(page)}", status_code=303)


@router.get("/overvaagning/{quarter}.{fmt}")
async def monitoring_download(
    quarter: str, fmt: str, page: FinancePage, kommune: str | None = None
) -> Response:
    if fmt not in FORMATS:
        raise NotFound("not_found", "no such file")
    file = await service.monitoring_file(page.ctx, quarter, kommune or None, fmt)
    return Response(
        content=file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


@router.get("/overvaagning/{quarter}")
async def monitoring_page(
    request: Request, quarter: str, page: FinancePage, kommune: str | None = None
) -> Response:
    out: MonitoringOut = await service.monitoring(page.ctx, quarter, kommune or None)
    if out.region is not None:
        figures, scope = out.region, "hele regionen"
    else:
        (one,) = out.municipalities
        figures, scope = one.figures, one.municipality_name
    parsed = service.parse_quarter(out.quarter)
    previous, following = neighbours(parsed)
    choices = (
        await repository.municipalities(page.ctx.session, parsed)
        if page.principal.role == "region"
        else []
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
