"""Recording visits, set-based: one path for a single visit and a batch of up to 1,000.

Idempotent by the client's visit id (`INSERT … ON CONFLICT DO NOTHING`): the same visit
again answers "unchanged"; the same id with other content is a conflict.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from service.access import audit
from service.course.repository import lock_visible_courses, raise_revisions
from service.course.service import visible_course
from service.deps import Ctx
from service.domain.visits import VisitFacts, visit_deviations
from service.errors import Conflict, Invalid, NotFound, ServiceError
from service.kit.clock import LOCAL_TZ
from service.kit.rows import from_row
from service.models import Course, Visit
from service.visit import repository
from service.visit.schemas import BatchVisitIn, ItemStatus, VisitIn, VisitOut

# Clocks of tablets drift: a visit a few minutes "in the future" is accepted.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class VisitOutcome:
    """What became of one visit sent, at its place in the batch."""

    index: int
    id: uuid.UUID
    status: ItemStatus
    error: ServiceError | None = None
    """Why it was rejected: the problem a single visit answers, an item of a batch names."""
    visit: VisitOut | None = None

    @property
    def code(self) -> str | None:
        """The rejection's stable code."""
        return self.error.code if self.error is not None else None

    @property
    def detail(self) -> str | None:
        """The rejection's explanation."""
        return self.error.detail if self.error is not None else None


def _content(v: Visit | dict[str, object]) -> tuple[object, ...]:
    get = v.get if isinstance(v, dict) else lambda k: getattr(v, k)
    return (
        get("course_id"),
        get("started_at"),
        get("duration_minutes"),
        get("setting"),
        get("administered"),
    )


async def record_visits(ctx: Ctx, items: Sequence[BatchVisitIn]) -> list[VisitOutcome]:
    """Record the visits; an outcome per item, in order. Items are independent: a rejected
    one does not stop the others (a single visit is a batch of one)."""
    courses = await _courses(ctx, items)
    latest_allowed = ctx.now + CLOCK_SKEW
    results: list[VisitOutcome | None] = [None] * len(items)
    rows: dict[uuid.UUID, dict[str, object]] = {}
    first_index: dict[uuid.UUID, int] = {}
    for index, item in enumerate(items):
        error = _check(item, courses.get(item.course_id), latest_allowed)
        if error is not None:
            results[index] = VisitOutcome(index, item.id, "rejected", error)
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
    inserted = await repository.insert_new(ctx.session, list(rows.values()))
    deviations, stored = await _deviations_and_visits(
        ctx,
        {courses[r["course_id"]] for r in rows.values()},  # type: ignore[index]
        days={r["local_date"] for r in rows.values()},  # type: ignore[misc]
    )
    # An id stored under another course or day (a conflict) is not among those read.
    stored |= await repository.by_ids(
        ctx.session, [visit_id for visit_id in rows if visit_id not in stored]
    )

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
        results[index] = VisitOutcome(
            index,
            item.id,
            "created" if created else "unchanged",
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
    item: VisitIn | BatchVisitIn, course: Course | None, latest_allowed: datetime
) -> ServiceError | None:
    if course is None:
        return NotFound("course_not_found", "no such course for this client")
    if course.status == "cancelled":
        return Conflict("course_cancelled", "the course is cancelled; visits are not recorded")
    local_day = item.started_at.astimezone(LOCAL_TZ).date()
    if local_day < course.start_date or (
        course.end_date is not None and local_day > course.end_date
    ):
        return Invalid(
            "visit_outside_course",
            "the visit lies outside the course dates; correct the course dates first",
        )
    if item.started_at > latest_allowed:
        return Invalid("visit_in_future", "a visit is recorded after it has started")
    return None


def _conflict(index: int, visit_id: uuid.UUID) -> VisitOutcome:
    error = Conflict("visit_conflict", "a visit with this id is stored with other content")
    return VisitOutcome(index, visit_id, "rejected", error)


async def _courses(ctx: Ctx, items: Sequence[BatchVisitIn]) -> dict[uuid.UUID, Course]:
    """The visible courses the items name. Those that get a visit not stored yet are
    locked first, in id order, and read as they stand under the lock (a completion or
    correction that committed meanwhile is seen); the others (a re-sync of stored visits)
    are read without a lock, so a retried batch takes none."""
    stored = await repository.stored_ids(ctx.session, [item.id for item in items])
    getting_new = {item.course_id for item in items if item.id not in stored}
    courses = await lock_visible_courses(ctx.session, ctx.principal, getting_new)
    rest = {item.course_id for item in items} - getting_new
    courses.update(await repository.visible_courses_by_id(ctx.session, ctx.principal, rest))
    return courses


async def _stamp_revisions(ctx: Ctx, rows: dict[uuid.UUID, dict[str, object]]) -> None:
    """Raise the revision of each course that gets new visits and stamp the visits with it,
    so the history knows which visits every course revision had. Their rows are locked
    already (`_courses`), so the visits stored now are all there are: one stored by a
    batch that held the lock before this one raises nothing (nor does a re-sync)."""
    if not rows:
        return
    stored = await repository.stored_ids(ctx.session, list(rows))
    new = [row for visit_id, row in rows.items() if visit_id not in stored]
    revisions = await raise_revisions(
        ctx.session,
        {row["course_id"] for row in new},  # type: ignore[misc]
    )
    for row in rows.values():
        row["course_revision"] = revisions.get(row["course_id"], 0)  # type: ignore[call-overload]


async def _deviations_and_visits(
    ctx: Ctx, courses: set[Course], days: set[date] | None = None
) -> tuple[dict[uuid.UUID, list[str]], dict[uuid.UUID, Visit]]:
    """Deviation flags of the visits of the given courses (derived, never stored); with
    `days`, only of those local dates (flags depend on the visit and its day only)."""
    flags: dict[uuid.UUID, list[str]] = {}
    if not courses:
        return flags, {}
    by_course: dict[uuid.UUID, list[Visit]] = {c.id: [] for c in courses}
    loaded: dict[uuid.UUID, Visit] = {}
    for v in await repository.of_courses(ctx.session, list(by_course), days):
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
    return from_row(VisitOut, v, deviations=deviations)


async def list_visits(ctx: Ctx, course_id: uuid.UUID) -> list[VisitOut]:
    """A course's visits with their deviation flags (audited as `visit.read`)."""
    course = await visible_course(ctx, course_id)
    visits = await repository.of_course_in_order(ctx.session, course.id)
    flags, _ = await _deviations_and_visits(ctx, {course})
    await audit.record(
        ctx.session, ctx.principal, ctx.now, "visit.read", "course", course.id, course.patient_id
    )
    return [_visit_out(v, flags.get(v.id, [])) for v in visits]
