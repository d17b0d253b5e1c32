"""Recording visits, set-based: one path for a single visit and a batch of up to 1,000.

Idempotent by the client's visit id (`INSERT … ON CONFLICT DO NOTHING`): the same visit
again answers "unchanged"; the same id with other content is a conflict.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from service.access import audit
from service.course.repository import raise_revisions, visible_courses
from service.course.service import visible_course
from service.deps import Ctx
from service.domain.visits import VisitFacts, visit_deviations
from service.kit.clock import LOCAL_TZ
from service.models import Course, Visit
from service.visit.schemas import BatchVisitIn, VisitIn, VisitOut, VisitResult

# Clocks of tablets drift: a visit a few minutes "in the future" is accepted.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class _Rejection:
    http_status: int
    code: str
    detail: str


def _content(v: Visit | dict[str, object]) -> tuple[object, ...]:
    get = v.get if isinstance(v, dict) else lambda k: getattr(v, k)
    return (
        get("course_id"),
        get("started_at"),
        get("duration_minutes"),
        get("setting"),
        get("administered"),
    )


async def record_visits(ctx: Ctx, items: Sequence[BatchVisitIn]) -> list[VisitResult]:
    course_ids = {item.course_id for item in items}
    courses = {
        c.id: c
        for c in (
            await ctx.session.scalars(
                visible_courses(ctx.principal).where(Course.id.in_(course_ids))
            )
        ).all()
    }
    latest_allowed = ctx.now + CLOCK_SKEW
    results: list[VisitResult | None] = [None] * len(items)
    rows: dict[uuid.UUID, dict[str, object]] = {}
    first_index: dict[uuid.UUID, int] = {}
    for index, item in enumerate(items):
        rejection = _check(item, courses.get(item.course_id), latest_allowed)
        if rejection is not None:
            results[index] = VisitResult(
                index=index,
                id=item.id,
                status="rejected",
                http_status=rejection.http_status,
                code=rejection.code,
                detail=rejection.detail,
            )
            continue
        row = {
            "id": item.id,
            "course_id": item.course_id,
            "started_at": item.started_at.astimezone(ctx.now.tzinfo),
            "local_date": item.started_at.astimezone(LOCAL_TZ).date(),
            "duration_minutes": item.duration_minutes,
            "setting": item.setting,
            "administered": item.administered,
            "recorded_at": ctx.now,
            "recorded_by": ctx.principal.client_id,
        }
        if item.id in rows:  # the same id twice in one batch: the later one is a retry
            if _content(rows[item.id]) != _content(row):
                results[index] = _conflict(index, item.id)
            continue
        rows[item.id] = row
        first_index[item.id] = index

    await _stamp_revisions(ctx, rows)
    inserted = await _insert_new(ctx, list(rows.values()))
    deviations, stored = await _deviations_and_visits(
        ctx,
        {courses[r["course_id"]] for r in rows.values()},  # type: ignore[index]
        days={r["local_date"] for r in rows.values()},  # type: ignore[misc]
    )
    # An id stored under another course or day (a conflict) is not among those read.
    stored |= await _load(ctx, [visit_id for visit_id in rows if visit_id not in stored])

    touched: dict[uuid.UUID, uuid.UUID] = {}
    for index, item in enumerate(items):
        if results[index] is not None:
            continue
        visit = stored[item.id]
        if _content(visit) != _content(rows[item.id]):
            results[index] = _conflict(index, item.id)
            continue
        created = item.id in inserted and first_index[item.id] == index
        if created:
            course = courses[visit.course_id]
            touched[course.id] = course.patient_id
        results[index] = VisitResult(
            index=index,
            id=item.id,
            status="created" if created else "unchanged",
            http_status=201 if created else 200,
            visit=_visit_out(visit, deviations.get(visit.id, [])),
        )
    await audit.record_many(
        ctx.session,
        ctx.principal,
        ctx.now,
        "visit.record",
        "course",
        list(touched.items()),
        detail={"created": len(inserted)},
    )
    return [r for r in results if r is not None]


def _check(
    item: VisitIn | BatchVisitIn, course: Course | None, latest_allowed: object
) -> _Rejection | None:
    if course is None:
        return _Rejection(404, "course_not_found", "no such course for this client")
    if course.status == "cancelled":
        return _Rejection(
            409, "course_cancelled", "the course is cancelled; visits are not recorded"
        )
    local_day = item.started_at.astimezone(LOCAL_TZ).date()
    if local_day < course.start_date or (
        course.end_date is not None and local_day > course.end_date
    ):
        return _Rejection(
            422,
            "visit_outside_course",
            "the visit lies outside the course dates; correct the course dates first",
        )
    if item.started_at > latest_allowed:  # type: ignore[operator]
        return _Rejection(422, "visit_in_future", "a visit is recorded after it has started")
    return None


def _conflict(index: int, visit_id: uuid.UUID) -> VisitResult:
    return VisitResult(
        index=index,
        id=visit_id,
        status="rejected",
        http_status=409,
        code="visit_conflict",
        detail="a visit with this id is stored with other content",
    )


async def _stamp_revisions(ctx: Ctx, rows: dict[uuid.UUID, dict[str, object]]) -> None:
    """Raise the revision of each course that gets new visits and stamp the visits with it,
    so the history knows which visits every course revision had. Visits already stored (a
    re-sync) raise nothing: a retried batch takes no course lock."""
    if not rows:
        return
    stored = set(
        (await ctx.session.scalars(select(Visit.id).where(Visit.id.in_(list(rows))))).all()
    )
    new = [row for visit_id, row in rows.items() if visit_id not in stored]
    revisions = await raise_revisions(
        ctx.session,
        list({row["course_id"] for row in new}),  # type: ignore[misc]
    )
    for row in rows.values():
        row["course_revision"] = revisions.get(row["course_id"], 0)  # type: ignore[call-overload]


async def _insert_new(ctx: Ctx, rows: list[dict[str, object]]) -> set[uuid.UUID]:
    if not rows:
        return set()
    dialect = ctx.session.bind.dialect.name if ctx.session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # executemany with RETURNING: one cached statement, sent in SQLAlchemy's batched
    # "insertmanyvalues" form (a multi-row VALUES compiled per batch is far slower).
    stmt = insert(Visit).on_conflict_do_nothing(index_elements=["id"]).returning(Visit.id)
    # In id order: re-syncs of overlapping batches in other orders then wait on each other's
    # uncommitted rows in one order, never in opposite orders (a deadlock; tests/
    # test_concurrency.py counted 34-54 per run of 30 shuffled batches without it).
    rows = sorted(rows, key=lambda row: str(row["id"]))
    result = await ctx.session.execute(stmt, rows)
    return set(result.scalars().all())


async def _load(ctx: Ctx, ids: list[uuid.UUID]) -> dict[uuid.UUID, Visit]:
    if not ids:
        return {}
    visits = await ctx.session.scalars(
        select(Visit).where(Visit.id.in_(ids)).execution_options(populate_existing=True)
    )
    return {v.id: v for v in visits}


async def _deviations_for(
    ctx: Ctx, courses: set[Course], days: set[date] | None = None
) -> dict[uuid.UUID, list[str]]:
    flags, _ = await _deviations_and_visits(ctx, courses, days)
    return flags


async def _deviations_and_visits(
    ctx: Ctx, courses: set[Course], days: set[date] | None = None
) -> tuple[dict[uuid.UUID, list[str]], dict[uuid.UUID, Visit]]:
    """Deviation flags of the visits of the given courses (derived, never stored); with
    `days`, only of those local dates (flags depend on the visit and its day only)."""
    flags: dict[uuid.UUID, list[str]] = {}
    if not courses:
        return flags, {}
    by_course: dict[uuid.UUID, list[Visit]] = {c.id: [] for c in courses}
    stmt = (
        select(Visit)
        .where(Visit.course_id.in_(list(by_course)))
        .execution_options(populate_existing=True)
    )
    if days is not None:
        stmt = stmt.where(Visit.local_date.in_(sorted(days)))
    loaded: dict[uuid.UUID, Visit] = {}
    for v in await ctx.session.scalars(stmt):
        by_course[v.course_id].append(v)
        loaded[v.id] = v
    for course in courses:
        visits = by_course[course.id]
        per_id = visit_deviations(
            [
                VisitFacts(str(v.id), v.started_at.astimezone(LOCAL_TZ), v.duration_minutes)
                for v in visits
            ],
            course.start_date,
            course.end_date,
        )
        flags.update({uuid.UUID(k): codes for k, codes in per_id.items()})
    return flags, loaded


def _visit_out(v: Visit, deviations: list[str]) -> VisitOut:
    return VisitOut(
        id=v.id,
        course_id=v.course_id,
        started_at=v.started_at,
        local_date=v.local_date,
        duration_minutes=v.duration_minutes,
        setting=v.setting,
        administered=v.administered,
        deviations=deviations,
        recorded_at=v.recorded_at,
    )


async def list_visits(ctx: Ctx, course_id: uuid.UUID) -> list[VisitOut]:
    course = await visible_course(ctx, course_id)
    visits = list(
        (
            await ctx.session.scalars(
                select(Visit)
                .where(Visit.course_id == course.id)
                .order_by(Visit.started_at, Visit.id)
            )
        ).all()
    )
    flags = await _deviations_for(ctx, {course})
    await audit.record(
        ctx.session, ctx.principal, ctx.now, "visit.read", "course", course.id, course.patient_id
    )
    return [_visit_out(v, flags.get(v.id, [])) for v in visits]
