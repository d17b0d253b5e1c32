"""SQL of the settlement: the inputs of a run (courses, tariff, index, what was issued)
and the write-once records of an issue."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import func, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.settlement import CourseFacts, IssuedLine, Period
from service.domain.tariff import Payer, TariffVersion, TierRates, TreatmentTariff
from service.models import (
    Course,
    CourseCorrection,
    CoursePosition,
    PriceIndex,
    SettlementIssue,
    Statement,
    StatementLine,
    TariffRate,
    Visit,
)
from service.models import TariffVersion as TariffVersionRow


@dataclass(frozen=True)
class CourseRow:
    """A course as the settlement reads it: its facts and what orders it on the staircase."""

    facts: CourseFacts
    created_at: datetime


async def issue_of(session: AsyncSession, period: Period) -> SettlementIssue | None:
    return (
        await session.scalars(select(SettlementIssue).where(SettlementIssue.period == str(period)))
    ).first()


async def last_issue(session: AsyncSession) -> SettlementIssue | None:
    return (
        await session.scalars(
            select(SettlementIssue).order_by(SettlementIssue.period.desc()).limit(1)
        )
    ).first()


async def tariff_versions(session: AsyncSession) -> list[TariffVersion]:
    rows = (await session.scalars(select(TariffVersionRow))).all()
    rates: dict[int, dict[str, dict[int, TariffRate]]] = defaultdict(lambda: defaultdict(dict))
    for rate in await session.scalars(select(TariffRate)):
        rates[rate.tariff_version_id][rate.treatment_type][rate.tier] = rate
    versions = []
    for row in rows:
        treatments = {}
        for treatment, tiers in rates[row.id].items():
            ordered = [tiers[t] for t in sorted(tiers)]
            treatments[treatment] = TreatmentTariff(
                included_days=ordered[0].included_days,
                tiers=tuple(TierRates(r.course_fee_ore, r.day_fee_ore) for r in ordered),  # type: ignore[arg-type]
            )
        versions.append(
            TariffVersion(
                id=row.id,
                valid_from=row.valid_from,
                price_level_year=row.price_level_year,
                indexed=row.indexed,
                payer=Payer(row.payer_name, row.payer_cvr, row.payer_gln),
                tier_thresholds=(row.tier_threshold_1, row.tier_threshold_2),
                treatments=treatments,
                name=row.name,
            )
        )
    return versions


async def tariff_fingerprint(session: AsyncSession) -> dict[str, str]:
    """Tariff version id → document hash: what an issue records as its tariff input."""
    rows = await session.execute(select(TariffVersionRow.id, TariffVersionRow.document_sha256))
    return {str(version_id): sha for version_id, sha in rows}


async def price_indices(session: AsyncSession) -> dict[int, int]:
    """Year → index in ten-thousandths (exact)."""
    rows = await session.execute(select(PriceIndex.year, PriceIndex.index_e4))
    return {year: index_e4 for year, index_e4 in rows}


def as_fractions(indices: dict[int, int]) -> dict[int, Fraction]:
    return {year: Fraction(index_e4, 10_000) for year, index_e4 in indices.items()}


async def candidate_courses(
    session: AsyncSession, changed_since: datetime | None, open_from: date | None
) -> list[CourseRow]:
    """Courses whose settlement may have moved since the last issue.

    With no issue yet (or after a tariff or index change) that is every course. Otherwise:
    active courses, courses changed or given visits since (a margin before) the last issue,
    and courses that start or end on or after the first open day. A course outside these
    owes exactly what was issued, so leaving it out changes no line, and the cost of a run
    follows what changed, not the years of history.
    """
    stmt = select(Course)
    if changed_since is not None and open_from is not None:
        recent_visits = select(Visit.course_id).where(Visit.recorded_at > changed_since)
        stmt = stmt.where(
            or_(
                Course.status == "active",
                Course.updated_at > changed_since,
                Course.start_date >= open_from,
                Course.end_date >= open_from,
                Course.id.in_(recent_visits),
            )
        )
    courses = list((await session.scalars(stmt)).all())
    # Only an active course is billed by its visits: read their last given dose, for
    # those courses alone (an aggregate over every visit would grow with the history).
    last_given = await _last_given_dose(session, [c.id for c in courses if c.status == "active"])
    return [
        CourseRow(
            facts=CourseFacts(
                course_id=str(course.id),
                municipality_code=course.municipality_code,
                hospital_code=course.hospital_code,
                treatment_type=course.treatment_type,  # type: ignore[arg-type]
                start_date=course.start_date,
                end_date=course.end_date,
                last_administered_date=last_given.get(course.id),
                status=course.status,  # type: ignore[arg-type]
            ),
            created_at=course.created_at,
        )
        for course in courses
    ]


async def _last_given_dose(
    session: AsyncSession, course_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, date]:
    found: dict[uuid.UUID, date] = {}
    for chunk in _chunks(course_ids):
        rows = await session.execute(
            select(Visit.course_id, func.max(Visit.local_date))
            .where(Visit.course_id.in_(chunk), Visit.administered.is_(True))
            .group_by(Visit.course_id)
        )
        found.update({course_id: last for course_id, last in rows})
    return found


async def positions(
    session: AsyncSession, course_ids: Sequence[str | uuid.UUID]
) -> dict[str, tuple[int, int, int]]:
    """Course id → (year, position, tier) for courses already on the staircase."""
    found: dict[str, tuple[int, int, int]] = {}
    for chunk in _chunks(course_ids):
        rows = await session.execute(
            select(
                CoursePosition.course_id,
                CoursePosition.year,
                CoursePosition.position,
                CoursePosition.tier,
            ).where(CoursePosition.course_id.in_(chunk))
        )
        found.update({str(cid): (year, pos, tier) for cid, year, pos, tier in rows})
    return found


async def next_free_positions(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(
        select(CoursePosition.year, func.max(CoursePosition.position)).group_by(CoursePosition.year)
    )
    return {year: top + 1 for year, top in rows}


async def unbilled_courses(session: AsyncSession, started_by: date) -> int:
    """Courses registered (started by `started_by`, not cancelled) that were never billed."""
    billed = select(CoursePosition.course_id)
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Course)
            .where(
                Course.start_date <= started_by,
                Course.status != "cancelled",
                Course.id.not_in(billed),
            )
        )
        or 0
    )


async def counted_in_year(session: AsyncSession, year: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(CoursePosition).where(CoursePosition.year == year)
        )
        or 0
    )


async def issued_lines(
    session: AsyncSession, course_ids: Sequence[str | uuid.UUID]
) -> list[IssuedLine]:
    lines: list[IssuedLine] = []
    for chunk in _chunks(course_ids):
        rows = await session.scalars(
            select(StatementLine).where(StatementLine.course_id.in_(chunk))
        )
        lines.extend(
            IssuedLine(
                course_id=str(r.course_id),
                kind=r.kind,  # type: ignore[arg-type]
                period=Period.parse(r.line_period),
                quantity=r.quantity,
                unit_price=r.unit_price_ore,
                tier=r.tier,
                treatment_type=r.treatment_type,  # type: ignore[arg-type]
                hospital_code=r.hospital_code,
                municipality_code=r.municipality_code,
                tariff_version_id=r.tariff_version_id,
            )
            for r in rows
        )
    return lines


async def corrected_since(session: AsyncSession, since: datetime | None) -> set[str]:
    stmt = select(CourseCorrection.course_id).distinct()
    if since is not None:
        stmt = stmt.where(CourseCorrection.corrected_at > since)
    return {str(cid) for cid in (await session.scalars(stmt)).all()}


async def take_issue_lock(session: AsyncSession) -> None:
    """Serialise issuing: a PostgreSQL transaction-level advisory lock (SQLite's writers
    are already serialised by BEGIN IMMEDIATE)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(7301202101)"))


async def next_statement_number(session: AsyncSession, payer_cvr: str, year: int) -> int:
    top = await session.scalar(
        select(func.max(Statement.number)).where(
            Statement.payer_cvr == payer_cvr, Statement.number_year == year
        )
    )
    return int(top or 0) + 1


async def insert_rows(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    for chunk_start in range(0, len(rows), 2000):
        chunk = rows[chunk_start : chunk_start + 2000]
        if chunk:
            await session.execute(insert(model), chunk)


async def statements_of(session: AsyncSession, issue_id: uuid.UUID) -> list[Statement]:
    return list(
        (
            await session.scalars(
                select(Statement)
                .where(Statement.issue_id == issue_id)
                .order_by(Statement.municipality_code)
            )
        ).all()
    )


async def lines_of(
    session: AsyncSession, statement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[StatementLine]]:
    result: dict[uuid.UUID, list[StatementLine]] = {sid: [] for sid in statement_ids}
    for chunk in _chunks(statement_ids):
        rows = await session.scalars(
            select(StatementLine)
            .where(StatementLine.statement_id.in_(chunk))
            .order_by(StatementLine.id)
        )
        for line in rows:
            result[line.statement_id].append(line)
    return result


def _chunks(ids: Sequence[Any], size: int = 5000) -> list[list[Any]]:
    values = [uuid.UUID(str(i)) for i in ids]
    return [values[i : i + size] for i in range(0, len(values), size)]
