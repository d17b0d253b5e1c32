"""SQL of the quarterly monitoring: every figure is counted and grouped in the database.

Nothing here reads patient rows: each query returns counts grouped by a handful of small
columns (municipality, type, setting, status, minutes, a deviation flag), so what comes
back is bounded by the number of distinct values, not by the number of visits. The
medians and percentiles are then taken in Python from those counts (a histogram of
minutes or days), exactly. Two passes over the quarter's visits: one grouped by visit
facts, one by course-day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from typing import Any

from sqlalchemy import ColumnElement, Select, Time, and_, cast, func, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from service.domain.daytime import DaytimeWindow, daytime_windows
from service.domain.monitoring import (
    CompletedGroup,
    CourseDayGroup,
    CourseStartGroup,
    Inputs,
    Quarter,
    ReferralGroup,
    VisitGroup,
)
from service.kit.clock import LOCAL_TZ
from service.models import Course, Municipality, Referral, Visit


async def municipalities(session: AsyncSession, quarter: Quarter) -> list[tuple[str, str]]:
    """(code, name) of the municipalities valid on some day of the quarter, by code."""
    rows = await session.execute(
        select(Municipality.code, Municipality.name)
        .where(
            or_(Municipality.valid_from.is_(None), Municipality.valid_from <= quarter.last_day),
            or_(Municipality.valid_to.is_(None), Municipality.valid_to >= quarter.first_day),
        )
        .order_by(Municipality.code)
    )
    return [(code, name) for code, name in rows]


async def municipality_name(session: AsyncSession, code: str) -> str | None:
    return await session.scalar(select(Municipality.name).where(Municipality.code == code))


async def inputs(session: AsyncSession, quarter: Quarter, municipality_code: str | None) -> Inputs:
    """The quarter's grouped counts, for one municipality or (None) for all."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # asyncpg prepares statements; after five runs PostgreSQL may switch to a generic
        # plan, which cannot see how much of the table a quarter's date range holds (twice
        # as slow at national scale). This transaction plans each query for its values.
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    return Inputs(
        referrals=await _referrals(session, quarter, municipality_code),
        course_starts=await _course_starts(session, quarter, municipality_code),
        completed=await _completed(session, quarter, municipality_code),
        visits=await _visits(session, quarter, municipality_code, dialect),
        course_days=await _course_days(session, quarter, municipality_code),
    )


def _of(column: QueryableAttribute[str], code: str | None) -> ColumnElement[bool]:
    return column == code if code is not None else true()


def _count_by(columns: Sequence[Any], *where: ColumnElement[bool]) -> Select[Any]:
    """Each distinct combination of `columns` (among the rows `where` keeps), counted."""
    return select(*columns, func.count()).where(*where).group_by(*columns)


async def _referrals(
    session: AsyncSession, quarter: Quarter, code: str | None
) -> list[ReferralGroup]:
    start, end = quarter.instants(LOCAL_TZ)
    columns = (
        Referral.municipality_code,
        Referral.treatment_type,
        Referral.status,
        Referral.rejection_reason,
    )
    rows = await session.execute(
        _count_by(
            columns,
            Referral.created_at >= start,
            Referral.created_at < end,
            _of(Referral.municipality_code, code),
        )
    )
    return [ReferralGroup(m, t, s, reason, n) for m, t, s, reason, n in rows]


def _in_quarter(column: QueryableAttribute[Any], quarter: Quarter) -> ColumnElement[bool]:
    return and_(column >= quarter.first_day, column <= quarter.last_day)


async def _course_starts(
    session: AsyncSession, quarter: Quarter, code: str | None
) -> list[CourseStartGroup]:
    columns = (
        Course.municipality_code,
        Course.treatment_type,
        Course.setting,
        Referral.visits_per_day,
    )
    rows = await session.execute(
        _count_by(
            columns,
            _in_quarter(Course.start_date, quarter),
            Course.status != "cancelled",
            _of(Course.municipality_code, code),
        ).join(Referral, Referral.id == Course.referral_id)
    )
    return [CourseStartGroup(m, t, s, per_day, n) for m, t, s, per_day, n in rows]


async def _completed(
    session: AsyncSession, quarter: Quarter, code: str | None
) -> list[CompletedGroup]:
    columns = (Course.municipality_code, Course.start_date, Course.end_date)
    rows = await session.execute(
        _count_by(
            columns,
            Course.status == "completed",
            _in_quarter(Course.end_date, quarter),
            _of(Course.municipality_code, code),
        )
    )
    groups = []
    for m, start, end, n in rows:
        assert end is not None  # a completed course has its end date
        groups.append(CompletedGroup(m, start, end, n))
    return groups


def _utc_time_of_day(dialect: str) -> ColumnElement[Any]:
    """The visit's start as a UTC time of day, comparable with `_time_literal`."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", Visit.started_at), Time)
    # SQLAlchemy stores an SQLite DATETIME as "YYYY-MM-DD HH:MM:SS.ffffff" (here in UTC):
    # the text from position 12 is the time of day to the microsecond and compares as text.
    # (strftime would parse every row and keep milliseconds only; this is ~40 % faster.)
    return func.substr(Visit.started_at, 12)


def _time_literal(moment: time, dialect: str) -> object:
    if dialect == "postgresql":
        return moment
    return moment.strftime("%H:%M:%S.%f")


def _outside_hours(windows: Sequence[DaytimeWindow], dialect: str) -> ColumnElement[bool]:
    """`domain.monitoring.outside_hours` as SQL: one branch per UTC offset in the quarter."""
    tod = _utc_time_of_day(dialect)
    branches = []
    for index, window in enumerate(windows):
        conditions: list[ColumnElement[bool]] = [
            or_(
                tod < _time_literal(window.utc_start, dialect),
                tod > _time_literal(window.utc_end, dialect),
            )
        ]
        if window.since is not None:
            conditions.append(Visit.started_at >= window.since)
        if index + 1 < len(windows):
            following = windows[index + 1].since
            assert following is not None
            conditions.append(Visit.started_at < following)
        branches.append(and_(*conditions))
    return or_(*branches)


async def _visits(
    session: AsyncSession, quarter: Quarter, code: str | None, dialect: str
) -> list[VisitGroup]:
    windows = daytime_windows(*quarter.instants(LOCAL_TZ), LOCAL_TZ)
    outside_dates = or_(
        Visit.local_date < Course.start_date,
        and_(Course.end_date.is_not(None), Visit.local_date > Course.end_date),
    )
    # Grouped in an outer query by the inner labels: PostgreSQL does not see two renderings
    # of an expression with bound parameters as the same GROUP BY expression.
    inner = (
        select(
            Course.municipality_code.label("municipality_code"),
            Course.treatment_type.label("treatment_type"),
            Visit.setting.label("setting"),
            Visit.administered.label("administered"),
            Visit.duration_minutes.label("minutes"),
            _outside_hours(windows, dialect).label("outside_hours"),
            outside_dates.label("outside_dates"),
        )
        .join(Course, Course.id == Visit.course_id)
        .where(
            _in_quarter(Visit.local_date, quarter),
            Course.status != "cancelled",
            _of(Course.municipality_code, code),
        )
        .subquery()
    )
    columns = (
        inner.c.municipality_code,
        inner.c.treatment_type,
        inner.c.setting,
        inner.c.administered,
        inner.c.minutes,
        inner.c.outside_hours,
        inner.c.outside_dates,
    )
    rows = await session.execute(_count_by(columns))
    return [
        VisitGroup(m, t, s, bool(given), minutes, bool(hours), bool(dates), n)
        for m, t, s, given, minutes, hours, dates, n in rows
    ]


async def _course_days(
    session: AsyncSession, quarter: Quarter, code: str | None
) -> list[CourseDayGroup]:
    inner = (
        select(
            Course.municipality_code.label("municipality_code"),
            func.count().label("visits"),
            func.count().filter(Visit.administered.is_(True)).label("administrations"),
        )
        .join(Course, Course.id == Visit.course_id)
        .where(
            _in_quarter(Visit.local_date, quarter),
            Course.status != "cancelled",
            _of(Course.municipality_code, code),
        )
        # Date first: SQLite then scans the table instead of walking the course_id index.
        .group_by(Visit.local_date, Visit.course_id, Course.municipality_code)
        .subquery()
    )
    columns = (inner.c.municipality_code, inner.c.visits, inner.c.administrations)
    rows = await session.execute(_count_by(columns))
    return [CourseDayGroup(m, visits, given, n) for m, visits, given, n in rows]
