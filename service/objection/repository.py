"""SQL of objections."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.access.auth import Principal
from service.models import Course, Objection, Statement, StatementLine
from service.objection.schemas import ObjectionSearch


def _visible(stmt: Select[Objection], principal: Principal) -> Select[Objection]:
    """A municipality sees its own objections; the region all."""
    if principal.role == "municipality":
        return stmt.where(Objection.municipality_code == principal.org_code)
    return stmt


async def visible(
    session: AsyncSession, principal: Principal, objection_id: uuid.UUID, for_update: bool = False
) -> Objection | None:
    stmt = _visible(select(Objection).where(Objection.id == objection_id), principal)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def search(
    session: AsyncSession, principal: Principal, criteria: ObjectionSearch, limit: int, offset: int
) -> list[Objection]:
    """The visible objections that match, oldest first (the order they are answered in)."""
    stmt = _visible(select(Objection), principal)
    if criteria.period is not None:
        stmt = stmt.where(Objection.period == criteria.period)
    if criteria.status is not None:
        stmt = stmt.where(Objection.status == criteria.status)
    if criteria.municipality_code is not None:
        stmt = stmt.where(Objection.municipality_code == criteria.municipality_code)
    stmt = stmt.order_by(Objection.raised_at, Objection.id).limit(limit).offset(offset)
    return list((await session.scalars(stmt)).all())


async def same_open(session: AsyncSession, objection: Objection) -> Objection | None:
    """An open objection of the same client with the same content (a retry)."""
    stmt = select(Objection).where(
        Objection.status == "open",
        Objection.raised_by == objection.raised_by,
        Objection.course_id == objection.course_id,
        Objection.reason == objection.reason,
        Objection.text == objection.text,
    )
    for column, value in (
        (Objection.period, objection.period),
        (Objection.line_kind, objection.line_kind),
        (Objection.line_period, objection.line_period),
    ):
        stmt = stmt.where(column.is_(None) if value is None else column == value)
    return (await session.scalars(stmt.limit(1))).first()


async def issued_line_exists(
    session: AsyncSession,
    period: str,
    municipality_code: str,
    course_id: uuid.UUID,
    line_kind: str | None,
    line_period: str | None,
) -> bool:
    """Whether the municipality's issued statement of `period` has a line of the course
    (of that kind and line period, when given)."""
    stmt = (
        select(func.count())
        .select_from(StatementLine)
        .join(Statement, Statement.id == StatementLine.statement_id)
        .where(
            Statement.period == period,
            Statement.municipality_code == municipality_code,
            StatementLine.course_id == course_id,
        )
    )
    if line_kind is not None:
        stmt = stmt.where(StatementLine.kind == line_kind)
    if line_period is not None:
        stmt = stmt.where(StatementLine.line_period == line_period)
    return bool(await session.scalar(stmt))


async def count_open(session: AsyncSession, period: str) -> int:
    """Open objections to the period's issued statements."""
    stmt = select(func.count()).where(Objection.period == period, Objection.status == "open")
    return int(await session.scalar(stmt) or 0)


async def patients_of(
    session: AsyncSession, course_ids: set[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """Course id → its patient, in one query (for the audit rows of a list)."""
    if not course_ids:
        return {}
    rows = await session.execute(
        select(Course.id, Course.patient_id).where(Course.id.in_(course_ids))
    )
    return {course_id: patient_id for course_id, patient_id in rows}
