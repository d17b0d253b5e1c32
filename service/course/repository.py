"""SQL of courses and their corrections."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.access.auth import Principal
from service.access.visibility import first_visible, visible
from service.course.schemas import CourseSearch
from service.kit.db import dialect_insert
from service.models import (
    Course,
    CourseCorrection,
    CourseNumberCounter,
    CoursePosition,
    CourseVersion,
    Hospital,
    Referral,
    Statement,
    StatementLine,
    Visit,
)

VERSIONED_FIELDS = (
    "municipality_code",
    "hospital_code",
    "treatment_type",
    "setting",
    "start_date",
    "end_date",
    "status",
)
"""What of a course its history keeps at each revision (what settling it depends on)."""


def visible_courses(principal: Principal) -> Select[Course]:
    """A municipality sees its own courses, the region all; others none (so: 404)."""
    return visible(select(Course), principal, {"municipality": Course.municipality_code})


async def visible_course(
    session: AsyncSession, principal: Principal, course_id: uuid.UUID, for_update: bool
) -> Course | None:
    """The course if the principal may see it; `for_update` locks its row until commit."""
    return await first_visible(
        session, visible_courses(principal).where(Course.id == course_id), for_update
    )


async def next_course_number(session: AsyncSession, year: int) -> str:
    """The next course number of a registration year ("IV-2026-00042"): one upsert that
    raises the year's counter and holds its row lock until commit, so concurrent
    registrations queue for a number and none is given twice (a rolled-back registration
    gives its number back with the counter)."""
    stmt = (
        dialect_insert(session, CourseNumberCounter)
        .values(year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=["year"],
            set_={"last_number": CourseNumberCounter.last_number + 1},
        )
        .returning(CourseNumberCounter.last_number)
    )
    number = (await session.execute(stmt)).scalar_one()
    return f"IV-{year}-{number:05d}"


async def search(
    session: AsyncSession, principal: Principal, criteria: CourseSearch, limit: int, offset: int
) -> list[Course]:
    """The visible courses that match every criterion given, by start date (then creation)."""
    stmt = visible_courses(principal)
    if criteria.number is not None:
        stmt = stmt.where(Course.number == criteria.number)
    if criteria.municipality_code is not None:
        stmt = stmt.where(Course.municipality_code == criteria.municipality_code)
    if criteria.status is not None:
        stmt = stmt.where(Course.status == criteria.status)
    if criteria.started_from is not None:
        stmt = stmt.where(Course.start_date >= criteria.started_from)
    if criteria.started_to is not None:
        stmt = stmt.where(Course.start_date <= criteria.started_to)
    stmt = (
        stmt.order_by(Course.start_date, Course.created_at, Course.id).limit(limit).offset(offset)
    )
    return list((await session.scalars(stmt)).all())


async def visit_summary(
    session: AsyncSession, course_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int, date | None]]:
    """Per course: visits, visits with the dose given, and the last date with a given dose."""
    if not course_ids:
        return {}
    rows = await session.execute(
        select(
            Visit.course_id,
            func.count(),
            func.count().filter(Visit.administered.is_(True)),
            func.max(Visit.local_date).filter(Visit.administered.is_(True)),
        )
        .where(Visit.course_id.in_(set(course_ids)))
        .group_by(Visit.course_id)
    )
    return {cid: (n, given, last) for cid, n, given, last in rows}


async def referral_refs(
    session: AsyncSession, referral_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str | None, str]]:
    """Per referral: the hospital's own reference, the referring department and the
    hospital's name."""
    if not referral_ids:
        return {}
    rows = await session.execute(
        select(Referral.id, Referral.external_ref, Referral.department, Hospital.name)
        .join(Hospital, Hospital.code == Referral.hospital_code)
        .where(Referral.id.in_(set(referral_ids)))
    )
    return {rid: (ref, department, name) for rid, ref, department, name in rows}


async def billed_lines(
    session: AsyncSession, course_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[StatementLine, Statement]]]:
    """Issued lines per course, with their statements, in the order they were issued."""
    result: dict[uuid.UUID, list[tuple[StatementLine, Statement]]] = {c: [] for c in course_ids}
    if not course_ids:
        return result
    rows = await session.execute(
        select(StatementLine, Statement)
        .join(Statement, Statement.id == StatementLine.statement_id)
        .where(StatementLine.course_id.in_(set(course_ids)))
        .order_by(Statement.period, StatementLine.id)
    )
    for line, statement in rows:
        result[line.course_id].append((line, statement))
    return result


async def staircase_places(
    session: AsyncSession, course_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, CoursePosition]:
    if not course_ids:
        return {}
    rows = await session.scalars(
        select(CoursePosition).where(CoursePosition.course_id.in_(set(course_ids)))
    )
    return {p.course_id: p for p in rows}


async def corrections_for(
    session: AsyncSession, course_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[CourseCorrection]]:
    result: dict[uuid.UUID, list[CourseCorrection]] = {cid: [] for cid in course_ids}
    if not course_ids:
        return result
    rows = await session.scalars(
        select(CourseCorrection)
        .where(CourseCorrection.course_id.in_(set(course_ids)))
        .order_by(CourseCorrection.corrected_at, CourseCorrection.id)
    )
    for correction in rows:
        result[correction.course_id].append(correction)
    return result


async def record_version(
    session: AsyncSession, course: Course, change: str, at: datetime, by: uuid.UUID | None
) -> None:
    """Append the course as it now stands (its revision already raised) to its history."""
    await session.execute(
        insert(CourseVersion).values(
            course_id=course.id,
            revision=course.revision,
            change=change,
            recorded_at=at,
            recorded_by=by,
            **{name: getattr(course, name) for name in VERSIONED_FIELDS},
        )
    )


async def lock_visible_courses(
    session: AsyncSession, principal: Principal, course_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Course]:
    """The visible courses among `course_ids`, each row locked until commit and read as it
    stands once the lock is held.

    The one lock order of course rows: by id, and before anything else the transaction
    writes (the audit log's rows come last). `SELECT … ORDER BY id FOR NO KEY UPDATE` locks
    in the order of the sort; an `UPDATE … WHERE id IN (…)` locks in the order it finds the
    rows (heap order, which every update changes), however the list is sorted, and two
    overlapping visit batches then deadlocked (40P01). `NO KEY UPDATE` is what an UPDATE of
    the revision takes itself: it does not block inserts that only reference the course."""
    if not course_ids:
        return {}
    courses = await session.scalars(
        visible_courses(principal)
        .where(Course.id.in_(sorted(course_ids)))
        .order_by(Course.id)
        .with_for_update(key_share=True)  # FOR NO KEY UPDATE
        .execution_options(populate_existing=True)
    )
    return {c.id: c for c in courses}


async def raise_revisions(
    session: AsyncSession, course_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Raise the revision of courses whose visits change, returning the new revisions.

    The caller holds the rows' locks already (`lock_visible_courses`, in id order), so
    concurrent writers of one course get distinct revisions in the order they commit, and
    writers of overlapping sets of courses never deadlock: this UPDATE alone would lock in
    heap order."""
    if not course_ids:
        return {}
    ordered = sorted(course_ids)
    rows = await session.execute(
        update(Course)
        .where(Course.id.in_(ordered))
        .values(revision=Course.revision + 1)
        .returning(Course.id, Course.revision)
        .execution_options(synchronize_session=False)
    )
    return {course_id: revision for course_id, revision in rows}
