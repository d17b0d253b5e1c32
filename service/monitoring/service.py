"""Use cases of the quarterly monitoring (agreement §4.1): the figures as JSON and as files.

Who sees what: the region sees the region total and every municipality; a municipality
sees only its own figures (another's answers 404, as everywhere); other roles are refused.
The region total is left out for a municipality too: it is made of the others' figures.
Every read is audited as an aggregate read (no patient).

The web pages call `monitoring` directly (with the same Ctx a route gets) to draw charts.
"""

from __future__ import annotations

from service.access import audit
from service.deps import Ctx
from service.domain.monitoring import (
    Figures,
    InvalidQuarter,
    Quarter,
    by_municipality,
    figures,
    mean_text,
    share_text,
)
from service.domain.scope import Violation
from service.errors import Forbidden, Invalid, NotFound
from service.monitoring import repository
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
from service.report.files import MEDIA_TYPES
from service.report.monitoring import monitoring_csv, monitoring_filename, monitoring_xlsx
from service.settlement.downloads import File

ROLES = ("region", "municipality")


def parse_quarter(text: str) -> Quarter:
    try:
        return Quarter.parse(text)
    except InvalidQuarter:
        rule = "a quarter is written YYYYQn with n 1-4 and a year 2000-2999, e.g. 2024Q1"
        raise Invalid(
            "invalid_quarter", rule, [Violation("invalid_quarter", "quarter", rule)]
        ) from None


async def monitoring(ctx: Ctx, quarter_text: str, municipality_code: str | None) -> MonitoringOut:
    """The quarter's figures this client may see (audited as `monitoring.read`)."""
    out = await _compute(ctx, quarter_text, municipality_code)
    await _audit(ctx, "monitoring.read", out, "json")
    return out


async def monitoring_file(
    ctx: Ctx, quarter_text: str, municipality_code: str | None, fmt: str
) -> File:
    """The same figures as CSV or XLSX (audited as `monitoring.export`)."""
    out = await _compute(ctx, quarter_text, municipality_code)
    content = monitoring_csv(out) if fmt == "csv" else monitoring_xlsx(out)
    await _audit(ctx, "monitoring.export", out, fmt)
    return File(content, monitoring_filename(out, fmt), MEDIA_TYPES[fmt])


async def _audit(ctx: Ctx, action: str, out: MonitoringOut, fmt: str) -> None:
    code = None if out.region is not None else out.municipalities[0].municipality_code
    await audit.record(
        ctx.session, ctx.principal, ctx.now, action, "monitoring",
        out.quarter if code is None else f"{out.quarter}/{code}",
        detail={"scope": out.scope, "municipality_code": code, "format": fmt},
    )  # fmt: skip


async def _compute(ctx: Ctx, quarter_text: str, municipality_code: str | None) -> MonitoringOut:
    principal = ctx.principal
    if principal.role not in ROLES:
        raise Forbidden(
            "role_not_allowed", "this operation is for the role(s) region, municipality"
        )
    quarter = parse_quarter(quarter_text)
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
            TreatmentFiguresOut(
                treatment_type=treatment,
                referred=t.referred,
                accepted=t.accepted,
                courses_started=t.courses_started,
                administrations=t.administrations,
            )
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
        administrations=AdministrationFiguresOut(
            visits=f.visits,
            administrations=f.administrations,
            by_setting=_counts(f.administrations_by_setting),
            home_share=share_text(home_given, f.administrations),
            course_days=f.course_days,
            per_course_day=_counts(f.administrations_per_course_day),
            per_course_day_mean=mean_text(f.administrations, f.course_days),
            minutes_median=f.minutes_median,
            minutes_p90=f.minutes_p90,
        ),
        deviations=_counts(f.deviations),
    )
