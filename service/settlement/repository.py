"""SQL of the settlement: the inputs of a run (courses, tariff, index, what was issued)
and the write-once records of an issue."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import func, insert, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from service.domain.settlement import CourseFacts, IssuedLine, Period
from service.domain.tariff import Payer, TariffVersion, TierRates, TreatmentTariff
from service.models import (
    Course,
    CoursePosition,
    CourseVersion,
    PriceIndex,
    SettlementInput,
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
    revision: int


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


async def candidate_courses(session: AsyncSession, open_from: date | None) -> list[CourseRow]:
    """Courses whose settlement may have moved since the last issue.

    With no issue yet (or after a tariff or index change; `open_from` None) that is every
    course. Otherwise: active courses, courses that start or end on or after the first open
    day, and courses whose current revision no issue has read (changed, or given visits,
    since). A course outside these owes exactly what was issued, so leaving it out changes
    no line, and the cost of a run follows what changed, not the years of history. The
    revision is raised in the writing transaction, so no write can slip between two runs
    (an issue reads one snapshot: REPEATABLE READ, or SQLite's single writer).
    """
    stmt = select(Course)
    if open_from is not None:
        read_by_an_issue = (
            select(SettlementInput.course_id)
            .where(
                SettlementInput.course_id == Course.id,
                SettlementInput.revision == Course.revision,
            )
            .exists()
        )
        stmt = stmt.where(
            or_(
                Course.status == "active",
                Course.start_date >= open_from,
                Course.end_date >= open_from,
                ~read_by_an_issue,
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
            revision=course.revision,
        )
        for course in courses
    ]


async def courses_as_of(
    session: AsyncSession, revisions: dict[uuid.UUID, int]
) -> tuple[list[CourseRow], set[uuid.UUID]]:
    """The courses as they stood at the given revisions, rebuilt from their history: the
    latest recorded version at or before each revision, and the visits that revision had.
    Also returns the courses whose history lacks that revision."""
    versions: dict[uuid.UUID, CourseVersion] = {}
    for chunk in _chunks(list(revisions)):
        for version in await session.scalars(
            select(CourseVersion).where(CourseVersion.course_id.in_(chunk))
        ):
            wanted = revisions[version.course_id]
            best = versions.get(version.course_id)
            if version.revision <= wanted and (best is None or version.revision > best.revision):
                versions[version.course_id] = version
    created: dict[uuid.UUID, datetime] = {}
    for chunk in _chunks(list(revisions)):
        rows = await session.execute(
            select(Course.id, Course.created_at).where(Course.id.in_(chunk))
        )
        created.update({course_id: at for course_id, at in rows})
    active = [cid for cid, v in versions.items() if v.status == "active"]
    last_given: dict[uuid.UUID, date] = {}
    for chunk in _chunks(active):
        given = await session.execute(
            select(Visit.course_id, Visit.course_revision, func.max(Visit.local_date))
            .where(Visit.course_id.in_(chunk), Visit.administered.is_(True))
            .group_by(Visit.course_id, Visit.course_revision)
        )
        for course_id, course_revision, last in given:
            if course_revision <= revisions[course_id] and (
                course_id not in last_given or last > last_given[course_id]
            ):
                last_given[course_id] = last
    rows_out = [
        CourseRow(
            facts=CourseFacts(
                course_id=str(course_id),
                municipality_code=v.municipality_code,
                hospital_code=v.hospital_code,
                treatment_type=v.treatment_type,  # type: ignore[arg-type]
                start_date=v.start_date,
                end_date=v.end_date,
                last_administered_date=last_given.get(course_id),
                status=v.status,  # type: ignore[arg-type]
            ),
            created_at=created[course_id],
            revision=revisions[course_id],
        )
        for course_id, v in versions.items()
    ]
    return rows_out, set(revisions) - set(versions)


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


def _issued_before(before: Period | None) -> Any:
    """Issues of periods before `before` (all issues when None): what an issue of `before`
    found already issued."""
    if before is None:
        return true()
    return SettlementIssue.period < str(before)


async def positions(
    session: AsyncSession, course_ids: Sequence[str | uuid.UUID], before: Period | None = None
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
            )
            .join(SettlementIssue, SettlementIssue.id == CoursePosition.issue_id)
            .where(CoursePosition.course_id.in_(chunk), _issued_before(before))
        )
        found.update({str(cid): (year, pos, tier) for cid, year, pos, tier in rows})
    return found


async def next_free_positions(
    session: AsyncSession, before: Period | None = None
) -> dict[int, int]:
    rows = await session.execute(
        select(CoursePosition.year, func.max(CoursePosition.position))
        .join(SettlementIssue, SettlementIssue.id == CoursePosition.issue_id)
        .where(_issued_before(before))
        .group_by(CoursePosition.year)
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
    session: AsyncSession, course_ids: Sequence[str | uuid.UUID], before: Period | None = None
) -> list[IssuedLine]:
    lines: list[IssuedLine] = []
    for chunk in _chunks(course_ids):
        stmt = select(StatementLine).where(StatementLine.course_id.in_(chunk))
        if before is not None:
            stmt = stmt.join(Statement, Statement.id == StatementLine.statement_id).where(
                Statement.period < str(before)
            )
        rows = await session.scalars(stmt)
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


async def corrected_courses(
    session: AsyncSession, revisions: dict[uuid.UUID, int], before: Period | None = None
) -> set[str]:
    """Courses corrected since an issue last read them: a correction recorded after the
    course's last settled revision and at or before the revision read now."""
    settled: dict[uuid.UUID, int] = {}
    corrected: set[str] = set()
    for chunk in _chunks(list(revisions)):
        rows = await session.execute(
            select(SettlementInput.course_id, func.max(SettlementInput.revision))
            .join(SettlementIssue, SettlementIssue.id == SettlementInput.issue_id)
            .where(SettlementInput.course_id.in_(chunk), _issued_before(before))
            .group_by(SettlementInput.course_id)
        )
        settled.update({key: value for key, value in rows})
        corrections = await session.execute(
            select(CourseVersion.course_id, CourseVersion.revision).where(
                CourseVersion.course_id.in_(chunk), CourseVersion.change == "corrected"
            )
        )
        corrected.update(
            str(course_id)
            for course_id, revision in corrections
            if settled.get(course_id, 0) < revision <= revisions[course_id]
        )
    return corrected


async def inputs_of(session: AsyncSession, issue_id: uuid.UUID) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(SettlementInput.course_id, SettlementInput.revision).where(
            SettlementInput.issue_id == issue_id
        )
    )
    return {key: value for key, value in rows}


async def placed_by(session: AsyncSession, issue_id: uuid.UUID) -> dict[str, tuple[int, int, int]]:
    rows = await session.execute(
        select(
            CoursePosition.course_id,
            CoursePosition.year,
            CoursePosition.position,
            CoursePosition.tier,
        ).where(CoursePosition.issue_id == issue_id)
    )
    return {str(cid): (year, pos, tier) for cid, year, pos, tier in rows}


async def issues(session: AsyncSession) -> list[SettlementIssue]:
    return list(
        (await session.scalars(select(SettlementIssue).order_by(SettlementIssue.period))).all()
    )


# One key for "an issue is being made" (any period: issues are made in sequence).
ISSUE_LOCK_KEY = 7301202101


class IssueInProgress(Exception):
    """Another issue holds the lock: the caller is turned away rather than queued."""


@dataclass
class IssueTransaction:
    """Where an issue reads and then writes. `session` reads the run's inputs; call
    `start_writing()` once they are computed, before the first insert."""

    session: AsyncSession
    _conn: AsyncConnection | None = None

    async def start_writing(self) -> None:
        if self._conn is None:
            return  # SQLite: one transaction throughout
        # End the read-only snapshot and write in READ COMMITTED: inserts that reference
        # courses (statement lines, inputs, places) check each course row, which a
        # REPEATABLE READ transaction may not do once a nurse's visit has raised the
        # course's revision since the snapshot (40001 on every busy day). The lock still
        # keeps every other issuer out, so what was computed stays true; writes committed
        # since the snapshot carry revisions this issue did not read, for the next one.
        await self.session.commit()
        await self._conn.execution_options(isolation_level="READ COMMITTED")


@asynccontextmanager
async def issuing(request_session: AsyncSession) -> AsyncIterator[IssueTransaction]:
    """The transaction(s) an issue runs and commits in.

    PostgreSQL: its own connection that first takes a session-level advisory lock without
    waiting (a second issuer gets IssueInProgress at once), and only then reads the run's
    inputs in one REPEATABLE READ snapshot that includes every issue before it and every
    write committed before it began; then writes the issue in one transaction (see
    IssueTransaction.start_writing). The lock is released on the way out.
    SQLite: the request's own transaction (BEGIN IMMEDIATE already makes it the only
    writer, so its reads are one snapshot too).
    """
    engine = request_session.bind
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "postgresql":
        yield IssueTransaction(request_session)
        return
    async with engine.connect() as conn:
        # From the lock query on, any failure discards the connection: closing it is the one
        # sure way to drop a session-level lock (a pooled connection would keep it, and
        # every later issue would be turned away) and whatever transaction was open.
        try:
            locked = await conn.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ISSUE_LOCK_KEY}
            )
            await conn.commit()
            if not locked:
                raise IssueInProgress
            await conn.execution_options(isolation_level="REPEATABLE READ")
            async with AsyncSession(bind=conn, expire_on_commit=False, autoflush=False) as session:
                yield IssueTransaction(session, conn)
                await session.commit()
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ISSUE_LOCK_KEY})
            await conn.commit()
        except IssueInProgress:
            raise
        except BaseException:
            await conn.invalidate()
            raise


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
