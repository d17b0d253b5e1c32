"""SQL of transfers (a course's move to another municipality)."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import Select, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.access.auth import Principal
from service.access.visibility import first_visible
from service.course.schemas import TransferSearch
from service.models import Course, CourseTransfer

T = TypeVar("T")


def _visible(stmt: Select[T], principal: Principal) -> Select[T]:
    """A municipality sees the transfers it sent and those sent to it, the region all,
    others none (so: 404)."""
    if principal.role == "municipality":
        return stmt.where(
            or_(
                CourseTransfer.from_municipality_code == principal.org_code,
                CourseTransfer.to_municipality_code == principal.org_code,
            )
        )
    if principal.role != "region":
        return stmt.where(false())
    return stmt


async def visible_transfer(
    session: AsyncSession, principal: Principal, transfer_id: uuid.UUID, for_update: bool
) -> CourseTransfer | None:
    """The transfer if the principal may see it; `for_update` locks its row (not the
    course's) until commit."""
    stmt = _visible(select(CourseTransfer).where(CourseTransfer.id == transfer_id), principal)
    return await first_visible(session, stmt, for_update)


async def courses_of(
    session: AsyncSession, transfers: list[CourseTransfer]
) -> dict[uuid.UUID, Course]:
    """The courses of the transfers, by id (whatever municipality now has each)."""
    ids = {t.course_id for t in transfers}
    if not ids:
        return {}
    return {c.id: c for c in await session.scalars(select(Course).where(Course.id.in_(ids)))}


async def course_of(session: AsyncSession, transfer: CourseTransfer) -> Course:
    """The transfer's course, its row locked (the receiving municipality cannot see it yet,
    so it is read without the visibility rule, after the transfer's own row is locked)."""
    stmt = select(Course).where(Course.id == transfer.course_id).with_for_update()
    return (await session.scalars(stmt)).one()


async def proposed_for(session: AsyncSession, course_id: uuid.UUID) -> CourseTransfer | None:
    """The course's transfer that awaits an answer, if any."""
    stmt = select(CourseTransfer).where(
        CourseTransfer.course_id == course_id, CourseTransfer.status == "proposed"
    )
    return (await session.scalars(stmt)).first()


async def search(
    session: AsyncSession, principal: Principal, criteria: TransferSearch, limit: int, offset: int
) -> list[CourseTransfer]:
    """The visible transfers that match, newest proposal first."""
    stmt = _visible(select(CourseTransfer), principal)
    if criteria.status is not None:
        stmt = stmt.where(CourseTransfer.status == criteria.status)
    if criteria.course_id is not None:
        stmt = stmt.where(CourseTransfer.course_id == criteria.course_id)
    stmt = (
        stmt.order_by(CourseTransfer.proposed_at.desc(), CourseTransfer.id)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.scalars(stmt)).all())
