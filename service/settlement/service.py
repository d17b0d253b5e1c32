"""Read use cases of the monthly settlement: a statement, the region summary, the staircase.

A period that was issued is read back as it was stored; one not issued yet is a draft
computed now (service.settlement.run). Issuing is service.settlement.issue, files are
service.settlement.downloads. Domain errors of the run (a missing price index, a period
before the agreement) propagate; service.errors answers them.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.access import audit
from service.deps import Ctx
from service.domain.money import format_kr
from service.domain.review import hold_explanation, statement_rise_warnings
from service.domain.settlement import Period
from service.domain.staircase import staircase_status
from service.domain.tariff import OutsideAgreement, TariffVersion, version_for
from service.errors import Conflict, NotFound
from service.models import Course, CourseHoldRelease, SettlementIssue
from service.objection import repository as objection_repository
from service.report.labels import kr_text
from service.settlement import approval, presentation, repository
from service.settlement.presentation import Presented
from service.settlement.run import Hold, compute, held_courses
from service.settlement.schemas import (
    CourseReviewOut,
    HoldOut,
    HoldReleaseIn,
    HoldReleaseOut,
    HoldRuleOut,
    RegionSummaryOut,
    ReviewWarningOut,
    StaircaseOut,
    StatementOut,
)

# The years the staircase can be asked for (the API's bounds, and the web page's).
FIRST_STAIRCASE_YEAR = 2021
LAST_STAIRCASE_YEAR = 2100


async def _statements(
    ctx: Ctx, period: Period, only: str | None = None
) -> tuple[list[Presented], SettlementIssue | None, list[Hold]]:
    """The period's statements: stored when issued, else a draft computed now, with the
    courses the review rules hold out of it; no draft of a period that has not begun (with
    the margin a start date may lie ahead: then a course of it can exist)."""
    session = ctx.session
    issue = await repository.issue_of(session, period)
    if issue is not None:
        stored = await repository.stored_issue(session, issue, only)
        return presentation.stored_statements(stored), issue, []
    last = await repository.last_issue(session)
    if last is not None and period < Period.parse(last.period):
        raise Conflict(
            "period_closed",
            f"{period} was never issued and lies before the last issued period {last.period}; "
            "what it owes was settled in later statements",
        )
    earliest = period.first_day - timedelta(days=ctx.future_date_margin_days)
    if ctx.clock.today() < earliest:
        raise Conflict(
            "period_not_begun",
            f"{period} has not begun: its draft can be seen from {earliest.isoformat()}",
        )
    run = await compute(session, period, ctx.hold_rules)
    municipalities = [
        m for m in await repository.municipalities(session) if only is None or m.code == only
    ]
    held = [h for h in run.held if only is None or h.municipality_code == only]
    return presentation.draft_statements(run, municipalities), None, held


async def get_statement(ctx: Ctx, period: Period, municipality_code: str) -> StatementOut:
    """One municipality's statement for a period (audited as `statement.read`); another
    municipality's, or an unknown one, is not found."""
    if ctx.principal.role == "municipality" and municipality_code != ctx.principal.org_code:
        raise NotFound("statement_not_found", "no such statement for this client")
    if await repository.municipality(ctx.session, municipality_code) is None:
        raise NotFound("statement_not_found", "no such statement for this client")
    statements, _, _ = await _statements(ctx, period, municipality_code)
    (presented,) = statements
    statement = presented.statement
    await audit.record(
        ctx.session, ctx.principal, ctx.now, "statement.read", "statement",
        f"{period}/{municipality_code}", detail={"state": statement.state},
    )  # fmt: skip
    return statement


async def region_summary(ctx: Ctx, period: Period) -> RegionSummaryOut:
    """All municipalities' totals for a period, with the staircase of its year."""
    statements, issue, held = await _statements(ctx, period)
    summary = presentation.region_summary(
        period,
        statements,
        issue,
        await _staircase(ctx.session, period.year),
        await repository.unbilled_courses(ctx.session, period.last_day),
    )
    summary.open_objections = await objection_repository.count_open(ctx.session, str(period))
    if issue is None:
        summary.warnings = await _rise_warnings(ctx, period, statements)
        summary.holds = await holds_out(ctx, held)
    latest = await repository.latest_approval(ctx.session, period)
    if latest is not None:
        current = approval.statement_hashes(statements) if issue is None else None
        summary.approval = await approval.approval_out(ctx, latest, current)
    return summary


async def last_issued(ctx: Ctx) -> Period | None:
    """The latest period issued, if any."""
    last = await repository.last_issue(ctx.session)
    return Period.parse(last.period) if last is not None else None


async def _staircase(session: AsyncSession, year: int) -> StaircaseOut:
    versions = await repository.tariff_versions(session)
    try:
        first = min(v.valid_from for v in versions)
        version: TariffVersion = version_for(versions, max(date(year, 1, 1), first))
    except (ValueError, OutsideAgreement):
        raise NotFound("no_tariff", "no tariff version covers this year") from None
    if date(year, 12, 31) < first:
        raise NotFound("no_tariff", "no tariff version covers this year")
    counted = await repository.counted_in_year(session, year)
    status = staircase_status(counted, version.tier_thresholds)
    return StaircaseOut(
        year=year,
        counted=counted,
        current_tier=status.current_tier,
        until_next_tier=status.until_next_tier,
        tier_thresholds=list(version.tier_thresholds),
    )


async def staircase(ctx: Ctx, year: int) -> StaircaseOut:
    """Where the staircase count of `year` stands (issued courses only)."""
    return await _staircase(ctx.session, year)


async def _rise_warnings(
    ctx: Ctx, period: Period, statements: list[Presented]
) -> list[ReviewWarningOut]:
    """The draft's statements far above their municipality's usual level."""
    rule = ctx.statement_rise
    history = await repository.issued_totals_before(ctx.session, period, rule.months)
    totals = {p.statement.municipality_code: p.total for p in statements}
    names = {p.statement.municipality_code: p.statement.municipality_name for p in statements}
    return [
        ReviewWarningOut(
            rule="statement_rise",
            municipality_code=w.municipality_code,
            explanation=(
                f"{names[w.municipality_code]}s opgørelse er {kr_text(format_kr(w.total_ore))}, "
                f"mere end {rule.percent} % over gennemsnittet af de seneste {w.months} "
                f"udstedte måneder ({kr_text(format_kr(w.average_ore))}). "
                "Se efter, før du godkender."
            ),
            total=format_kr(w.total_ore),
            average=format_kr(w.average_ore),
            months=w.months,
        )
        for w in statement_rise_warnings(totals, history, rule)
    ]


async def holds_out(ctx: Ctx, held: list[Hold]) -> list[HoldOut]:
    numbers = await repository.course_numbers(ctx.session, [h.course_id for h in held])
    return [
        HoldOut(
            course_id=uuid.UUID(h.course_id),
            course_number=numbers[h.course_id],
            municipality_code=h.municipality_code,
            rules=[
                HoldRuleOut(rule=r, explanation=hold_explanation(r, ctx.hold_rules))
                for r in h.rules
            ],
        )
        for h in held
    ]


async def holds_of(ctx: Ctx, period: Period) -> list[HoldOut]:
    """The courses held out of the period's draft (a municipality: its own); none once the
    period is issued (what was held is owed later)."""
    only = ctx.principal.org_code if ctx.principal.role == "municipality" else None
    _, _, held = await _statements(ctx, period, only)
    await ctx.audit_many(
        "course.hold.read", "course", [(uuid.UUID(h.course_id), None) for h in held]
    )
    return await holds_out(ctx, held)


async def course_review(ctx: Ctx, course: Course) -> CourseReviewOut:
    """A visible course's review flags as of today's period: the rules that hold it (not
    released) and every release with its note (for the course page)."""
    rows = await repository.current_course_rows(ctx.session, [course.id])
    held = await held_courses(ctx.session, rows, ctx.hold_rules, Period.of(ctx.clock.today()))
    releases = await repository.releases_of(ctx.session, course.id)
    return CourseReviewOut(
        holding=[
            HoldRuleOut(rule=r, explanation=hold_explanation(r, ctx.hold_rules))
            for h in held
            for r in h.rules
        ],
        released=[HoldReleaseOut.model_validate(r, from_attributes=True) for r in releases],
    )


async def release_hold(ctx: Ctx, course_id: uuid.UUID, body: HoldReleaseIn) -> HoldReleaseOut:
    """The region releases a held course from the rules that hold it now, with a note; its
    lines are then owed in the next issue. A rule that fires later again holds again."""
    course = await ctx.session.get(Course, course_id)
    if course is None:
        raise NotFound("course_not_found", "no such course for this client")
    rows = await repository.current_course_rows(ctx.session, [course_id])
    held = await held_courses(ctx.session, rows, ctx.hold_rules, Period.of(ctx.clock.today()))
    if not held:
        raise Conflict("course_not_held", "no review rule holds this course now")
    (hold,) = held
    release = CourseHoldRelease(
        course_id=course_id,
        rules=list(hold.rules),
        note=body.note,
        released_at=ctx.now,
        released_by=ctx.principal.client_id,
    )
    await repository.add_hold_release(ctx.session, release)
    await ctx.audit(
        "course.hold.release", "course", course_id, course.patient_id,
        detail={"rules": list(hold.rules)},
    )  # fmt: skip
    return HoldReleaseOut(
        course_id=course_id,
        rules=list(hold.rules),
        note=body.note,
        released_at=release.released_at,
        released_by=ctx.principal.client_id,
    )
