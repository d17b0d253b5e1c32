"""Use cases of the quarterly monitoring (agreement §4.1): the figures as JSON and as files.

Who sees what: the region sees the region total and every municipality; a municipality
sees only its own figures (another's answers 404, as everywhere); other roles are refused.
The region total is left out for a municipality too: it is made of the others' figures.
Every read is audited as an aggregate read (no patient).

The web pages call `monitoring` directly (with the same Ctx a route gets) to draw charts.
"""

from __future__ import annotations

from datetime import date

from service.access import audit
from service.deps import Ctx
from service.domain.monitoring import (
    Figures,
    Quarter,
    by_municipality,
    figures,
    mean_text,
    share_text,
)
from service.errors import Forbidden, NotFound
from service.kit.rows import from_row
from service.monitoring import repository
from service.monitoring.files import monitoring_csv, monitoring_filename, monitoring_xlsx
from service.monitoring.schemas import (
    AdministrationFiguresOut,
    CountOut,
    CourseFiguresOut,
    FiguresOut,
    MonitoringOut,
    MunicipalityFiguresOut,
    ReferralFiguresOut,
    TreatmentFiguresOut,
)
from service.report.files import MEDIA_TYPES, File

ROLES = ("region", "municipality")


async def monitoring(ctx: Ctx, quarter: Quarter, municipality_code: str | None) -> MonitoringOut:
    """The quarter's figures this client may see (audited as `monitoring.read`)."""
    out = await _compute(ctx, quarter, municipality_code)
    await _audit(ctx, "monitoring.read", out, "json")
    return out


async def monitoring_file(
    ctx: Ctx, quarter: Quarter, municipality_code: str | None, fmt: str
) -> File:
    """The same figures as CSV or XLSX (audited as `monitoring.export`)."""
    out = await _compute(ctx, quarter, municipality_code)
    content = monitoring_csv(out) if fmt == "csv" else monitoring_xlsx(out)
    await _audit(ctx, "monitoring.export", out, fmt)
    return File(content, monitoring_filename(out, fmt), MEDIA_TYPES[fmt])


async def municipalities(ctx: Ctx, quarter: Quarter) -> list[tuple[str, str]]:
    """(code, name) of the municipalities valid on some day of the quarter, by code."""
    return await repository.municipalities(ctx.session, quarter)


def _quarter_text(year: int, number: int, step: int) -> str:
    index = year * 4 + (number - 1) + step
    return f"{index // 4}Q{index % 4 + 1}"


def neighbours(quarter: Quarter) -> tuple[str, str]:
    """The quarters before and after, as a link writes them (at the ends of the years a
    Quarter allows, one may be out of range and answer 422 like any malformed quarter)."""
    return (
        _quarter_text(quarter.year, quarter.number, -1),
        _quarter_text(quarter.year, quarter.number, 1),
    )


def last_ended(today: date) -> str:
    """The last quarter that has ended by `today`, as a link writes it."""
    return _quarter_text(today.year, (today.month - 1) // 3 + 1, -1)


async def _audit(ctx: Ctx, action: str, out: MonitoringOut, fmt: str) -> None:
    code = None if out.region is not None else out.municipalities[0].municipality_code
    await audit.record(
        ctx.session, ctx.principal, ctx.now, action, "monitoring",
        out.quarter if code is None else f"{out.quarter}/{code}",
        detail={"scope": out.scope, "municipality_code": code, "format": fmt},
    )  # fmt: skip


async def _compute(ctx: Ctx, quarter: Quarter, municipality_code: str | None) -> MonitoringOut:
    principal = ctx.principal
    if principal.role not in ROLES:
        raise Forbidden(
            "role_not_allowed", "this operation is for the role(s) region, municipality"
        )
    if principal.role == "municipality":
        if municipality_code is not None and municipality_code != principal.org_code:
            raise NotFound("municipality_not_found", "no municipality with this code")
        municipality_code = principal.org_code
    session = ctx.session
    if municipality_code is not None:
        name = await repository.municipality_name(session, municipality_code)
        if name is None:
            raise NotFound("municipality_not_found", "no municipality with this code")
        names = {municipality_code: name}
    else:
        names = dict(await repository.municipalities(session, quarter))
    inputs = await repository.inputs(session, quarter, municipality_code)
    if municipality_code is None:
        # A municipality no longer valid that still has data in the quarter keeps its row.
        for code in inputs.municipality_codes() - set(names):
            names[code] = await repository.municipality_name(session, code) or code
    codes = sorted(names)
    per_municipality = by_municipality(inputs, codes)
    return MonitoringOut(
        quarter=str(quarter),
        first_day=quarter.first_day,
        last_day=quarter.last_day,
        scope="region" if principal.role == "region" else "municipality",
        computed_at=ctx.now,
        region=figures_out(figures(inputs)) if municipality_code is None else None,
        municipalities=[
            MunicipalityFiguresOut(
                municipality_code=code,
                municipality_name=names[code],
                figures=figures_out(per_municipality[code]),
            )
            for code in codes
        ],
    )


def _counts(counts: dict[str, int] | dict[int, int]) -> list[CountOut]:
    return [CountOut(key=str(key), count=count) for key, count in counts.items()]


def figures_out(f: Figures) -> FiguresOut:
    """The domain's figures in the API's shape (shares and means as decimal strings)."""
    status = f.referrals_by_status
    home_courses = f.courses_by_setting.get("home", 0)
    home_given = f.administrations_by_setting.get("home", 0)
    return FiguresOut(
        referrals=ReferralFiguresOut(
            referred=f.referred,
            accepted=status["accepted"],
            rejected=status["rejected"],
            withdrawn=status["withdrawn"],
            pending=status["pending"],
            rejected_by_reason=_counts(f.rejected_by_reason),
        ),
        by_treatment=[
            from_row(TreatmentFiguresOut, t, treatment_type=treatment)
            for treatment, t in f.by_treatment.items()
        ],
        courses=CourseFiguresOut(
            started=f.courses_started,
            started_by_setting=_counts(f.courses_by_setting),
            home_share=share_text(home_courses, f.courses_started),
            planned_visits_per_day=_counts(f.planned_visits_per_day),
            planned_visits_per_day_mean=mean_text(f.planned_visits_total, f.courses_started),
            completed=f.courses_completed,
            length_days=_counts(f.course_length_buckets),
            length_days_median=f.course_length_median,
        ),
        administrations=from_row(
            AdministrationFiguresOut,
            f,
            by_setting=_counts(f.administrations_by_setting),
            home_share=share_text(home_given, f.administrations),
            per_course_day=_counts(f.administrations_per_course_day),
            per_course_day_mean=mean_text(f.administrations, f.course_days),
        ),
        deviations=_counts(f.deviations),
    )
