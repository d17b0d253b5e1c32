"""Use cases of courses: read, complete, cancel, correct (previous values kept)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from service.access.patients import reveal_cprs
from service.course import repository
from service.course.schemas import (
    BilledLineOut,
    CancelIn,
    CompleteIn,
    CorrectionIn,
    CorrectionOut,
    CourseOut,
    CourseSearch,
    CourseUpdateIn,
    StaircasePlaceOut,
)
from service.deps import Ctx
from service.domain.money import format_kr
from service.domain.scope import Violation
from service.errors import Conflict, Invalid, NotFound
from service.kit.problem import ProblemCode
from service.kit.rows import from_row
from service.models import Course, CourseCorrection, Statement, StatementLine
from service.reference import repository as reference_repository
from service.tariff.repository import version_valid_on


def day_count(course: Course, today: date) -> int:
    """Day n of a course is start + (n-1); the end date is inclusive."""
    last = course.end_date if course.end_date is not None else today
    return max(0, (last - course.start_date).days + 1)


async def present_courses(
    ctx: Ctx, courses: Sequence[Course], action: str, reveal_cpr: bool = True
) -> list[CourseOut]:
    """Courses as the principal may see them; the read is audited per patient. Without
    `reveal_cpr` (the web pages, which show no CPR) the number is not even decrypted."""
    ids = [c.id for c in courses]
    patients = [c.patient_id for c in courses] if reveal_cpr else []
    cprs = await reveal_cprs(ctx.session, ctx.vault, ctx.principal, patients)
    visits = await repository.visit_summary(ctx.session, ids)
    corrections = await repository.corrections_for(ctx.session, ids)
    places = await repository.staircase_places(ctx.session, ids)
    billed = await repository.billed_lines(ctx.session, ids)
    referrals = await repository.referral_refs(ctx.session, [c.referral_id for c in courses])
    await ctx.audit_many(
        action, "course", [(c.id, c.patient_id) for c in courses], {"cpr_shown": bool(cprs)}
    )
    today = ctx.clock.today()
    out = []
    for c in courses:
        n, given, last_given = visits.get(c.id, (0, 0, None))
        place = places.get(c.id)
        external_ref, department, hospital_name = referrals[c.referral_id]
        out.append(
            from_row(
                CourseOut,
                c,
                external_ref=external_ref,
                department=department,
                hospital_name=hospital_name,
                patient_cpr=cprs.get(c.patient_id),
                day_count=day_count(c, today),
                visit_count=n,
                administered_visit_count=given,
                last_administered_date=last_given,
                corrections=[CorrectionOut.model_validate(k) for k in corrections[c.id]],
                staircase=StaircasePlaceOut.model_validate(place) if place is not None else None,
                billed=[_billed_out(line, statement) for line, statement in billed[c.id]],
                billed_total=format_kr(sum(line.amount_ore for line, _ in billed[c.id])),
            )
        )
    return out


def _billed_out(line: StatementLine, statement: Statement) -> BilledLineOut:
    return from_row(
        BilledLineOut,
        line,
        statement_number=statement.number,
        statement_period=statement.period,
        statement_municipality_code=statement.municipality_code,
        period=line.line_period,
        unit_price=format_kr(line.unit_price_ore),
        amount=format_kr(line.amount_ore),
    )


async def course_out(ctx: Ctx, course: Course, action: str = "course.read") -> CourseOut:
    """One course as the principal may see it (the read is audited)."""
    (out,) = await present_courses(ctx, [course], action)
    return out


async def visible_course(ctx: Ctx, course_id: uuid.UUID, for_update: bool = False) -> Course:
    """The course, if the principal may see it (else 404); `for_update` locks its row."""
    course = await repository.visible_course(ctx.session, ctx.principal, course_id, for_update)
    if course is None:
        raise NotFound("course_not_found", "no such course for this client")
    return course


async def list_courses(
    ctx: Ctx, criteria: CourseSearch, limit: int, offset: int
) -> list[CourseOut]:
    """The courses the principal may see that match, by start date (the search audited)."""
    courses = await repository.search(ctx.session, ctx.principal, criteria, limit, offset)
    await ctx.audit_search("course.search", "course", asdict(criteria), len(courses))
    return await present_courses(ctx, courses, "course.read")


async def get_course(ctx: Ctx, course_id: uuid.UUID) -> CourseOut:
    """The course, if the principal may see it."""
    return await course_out(ctx, await visible_course(ctx, course_id))


def _invalid(code: ProblemCode, field: str, message: str) -> Invalid:
    return Invalid(code, message, [Violation(code, field, message)])


def refuse_far_start(ctx: Ctx, start_date: date, field: str = "start_date") -> None:
    """No start date later than today (Europe/Copenhagen) plus the configured margin: a
    course is registered when it starts, not planned months (or millennia) ahead."""
    latest = ctx.clock.today() + timedelta(days=ctx.future_date_margin_days)
    if start_date > latest:
        message = (
            f"the start date may lie at most {ctx.future_date_margin_days} day(s) past today,"
            f" i.e. on or before {latest.isoformat()}"
        )
        raise Invalid(
            "start_date_in_future",
            message,
            [Violation("start_date_in_future", field, message)],
            latest_date=latest.isoformat(),
        )


async def _changed(
    ctx: Ctx, course: Course, change: str, action: str, detail: dict[str, Any] | None = None
) -> None:
    """Append the course as it now stands (its revision raised) to its history, and audit
    the change."""
    await repository.record_version(ctx.session, course, change, ctx.now, ctx.principal.client_id)
    await ctx.audit(action, "course", course.id, course.patient_id, detail=detail)


async def complete_course(ctx: Ctx, course_id: uuid.UUID, body: CompleteIn) -> CourseOut:
    """The course ended (§2.4): its end date and reason; the same completion again is a
    retry and changes nothing."""
    course = await visible_course(ctx, course_id, for_update=True)
    if (
        course.status == "completed"
        and course.end_date == body.end_date
        and course.end_reason == body.reason
    ):
        return await course_out(ctx, course)  # a retry
    if course.status != "active":
        raise Conflict(
            "course_not_active",
            f"the course is {course.status}; change a completed course through a correction",
            course_status=course.status,
        )
    if body.end_date < course.start_date:
        raise _invalid("end_before_start", "end_date", "the end date is before the course start")
    if body.end_date > ctx.clock.today():
        raise _invalid(
            "end_date_in_future", "end_date", "a course is completed on or after its last day"
        )
    course.status = "completed"
    course.end_date = body.end_date
    course.end_reason = body.reason
    course.end_note = body.note
    course.updated_at = ctx.now
    course.revision += 1
    detail = {"end_date": str(body.end_date), "reason": body.reason}
    await _changed(ctx, course, "completed", "course.complete", detail)
    return await course_out(ctx, course)


async def update_course(ctx: Ctx, course_id: uuid.UUID, body: CourseUpdateIn) -> CourseOut:
    """The municipality sets (or clears) its own case reference. Not a correction: nothing
    settled depends on it, so the course's revision stays; the change is audited, and a
    draft shows it on the course's lines (an approval made before is then out of date)."""
    course = await visible_course(ctx, course_id, for_update=True)
    if body.municipality_ref != course.municipality_ref:
        detail = {"municipality_ref": [course.municipality_ref, body.municipality_ref]}
        course.municipality_ref = body.municipality_ref
        course.updated_at = ctx.now
        await ctx.audit("course.update", "course", course.id, course.patient_id, detail=detail)
    return await course_out(ctx, course)


async def cancel_course(ctx: Ctx, course_id: uuid.UUID, body: CancelIn) -> CourseOut:
    """A course that should never have been registered: not billed; what was billed for it
    is credited in the next statement. Its visits stay stored."""
    course = await visible_course(ctx, course_id, for_update=True)
    if course.status != "cancelled":
        course.status = "cancelled"
        course.cancel_reason = body.reason
        course.updated_at = ctx.now
        course.revision += 1
        await _changed(ctx, course, "cancelled", "course.cancel")
    return await course_out(ctx, course)


async def correct_course(ctx: Ctx, course_id: uuid.UUID, body: CorrectionIn) -> CourseOut:
    """A correction after the fact; the previous values are kept with who and why."""
    course = await visible_course(ctx, course_id, for_update=True)
    if course.status == "cancelled":
        raise Conflict("course_cancelled", "a cancelled course cannot be corrected")
    changes: dict[str, Any] = {
        field: value
        for field in ("start_date", "end_date", "treatment_type", "municipality_code")
        if (value := getattr(body, field)) is not None and value != getattr(course, field)
    }
    if not changes:
        raise _invalid(
            "nothing_to_correct", "body", "the correction changes no value of the course"
        )
    if "municipality_code" in changes and not await reference_repository.is_municipality(
        ctx.session, changes["municipality_code"]
    ):
        raise _invalid(
            "unknown_municipality",
            "municipality_code",
            "the municipality must be one of the region's 29",
        )
    if "municipality_code" in changes:
        # The receiving municipality would see the patient without having accepted anything.
        raise _invalid(
            "transfer_required",
            "municipality_code",
            "a course moves to another municipality when that municipality accepts it:"
            f" propose it with POST /api/v1/courses/{course.id}/transfers",
        )
    if "end_date" in changes and course.status != "completed":
        raise _invalid(
            "course_not_completed", "end_date", "complete the course to set its end date"
        )
    start = changes.get("start_date", course.start_date)
    end = changes.get("end_date", course.end_date)
    if end is not None and end < start:
        raise _invalid("end_before_start", "end_date", "the end date is before the course start")
    if end is not None and end > ctx.clock.today():
        raise _invalid("end_date_in_future", "end_date", "the end date lies in the future")
    if "start_date" in changes:
        refuse_far_start(ctx, start)
    if "start_date" in changes and await version_valid_on(ctx.session, start) is None:
        raise _invalid("before_agreement", "start_date", "no tariff version covers this start date")

    await apply_changes(ctx, course, changes, body.reason, "course.correct")
    return await course_out(ctx, course)


async def apply_changes(
    ctx: Ctx, course: Course, changes: dict[str, Any], reason: str, action: str
) -> None:
    """Change the course's values after the fact, keeping the previous ones with who and
    why (a correction), and record the new version: what a settlement run settles anew. A
    correction and an accepted transfer (course/transfers.py) go through here alike."""
    previous = {field: _jsonable(getattr(course, field)) for field in changes}
    try:
        async with ctx.session.begin_nested():
            for field, value in changes.items():
                setattr(course, field, value)
            course.updated_at = ctx.now
            course.revision += 1
            ctx.session.add(
                CourseCorrection(
                    id=uuid.uuid4(),
                    course_id=course.id,
                    reason=reason,
                    previous=previous,
                    corrected={f: _jsonable(v) for f, v in changes.items()},
                    corrected_at=ctx.now,
                    corrected_by=ctx.principal.client_id,
                )
            )
    except IntegrityError:
        raise Conflict(
            "active_course_exists",
            "the patient already has an active course of this type in that municipality",
        ) from None
    await _changed(ctx, course, "corrected", action, {"fields": sorted(changes)})


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value
