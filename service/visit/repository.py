"""SQL of visits."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.access.auth import Principal
from service.course.repository import visible_courses
from service.kit.db import insert_ignoring_conflicts
from service.models import Course, Visit


async def visible_courses_by_id(
    session: AsyncSession, principal: Principal, course_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Course]:
    """The courses among `course_ids` the principal may record visits on or read (no
    lock: see `service.course.repository.lock_visible_courses` for those that get visits)."""
    if not course_ids:
        return {}
    courses = await session.scalars(visible_courses(principal).where(Course.id.in_(course_ids)))
    return {c.id: c for c in courses}


async def stored_ids(session: AsyncSession, visit_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Which of the visit ids are stored already."""
    return set((await session.scalars(select(Visit.id).where(Visit.id.in_(list(visit_ids))))).all())


async def insert_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert the visits whose id is not stored; the ids this call inserted."""
    if not rows:
        return set()
    # In id order: re-syncs of overlapping batches in other orders then wait on each other's
    # uncommitted rows in one order, never in opposite orders (a deadlock; tests/
    # test_concurrency.py counted 34-54 per run of 30 shuffled batches without it).
    ordered = sorted(rows, key=lambda row: str(row["id"]))
    result = await insert_ignoring_conflicts(session, Visit, ordered, ["id"], returning=Visit.id)
    return set(result.scalars().all())


async def by_ids(session: AsyncSession, visit_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Visit]:
    """The stored visits of these ids, as stored now (not as this session last saw them)."""
    if not visit_ids:
        return {}
    visits = await session.scalars(
        select(Visit).where(Visit.id.in_(list(visit_ids))).execution_options(populate_existing=True)
    )
    return {v.id: v for v in visits}


async def of_courses(
    session: AsyncSession, course_ids: Collection[uuid.UUID], days: Collection[date] | None
) -> list[Visit]:
    """The visits of the courses (with `days`, only of those local dates), as stored now."""
    stmt = (
        select(Visit)
        .where(Visit.course_id.in_(list(course_ids)))
        .execution_options(populate_existing=True)
    )
    if days is not None:
        stmt = stmt.where(Visit.local_date.in_(sorted(days)))
    return list((await session.scalars(stmt)).all())


async def of_course_in_order(session: AsyncSession, course_id: uuid.UUID) -> list[Visit]:
    """A course's visits in the order they were given."""
    return list(
        (
            await session.scalars(
                select(Visit)
                .where(Visit.course_id == course_id)
                .order_by(Visit.started_at, Visit.id)
            )
        ).all()
    )
