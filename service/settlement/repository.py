"""SQL of the settlement's reads: the inputs of a run (courses, tariff, index, what was
issued; live, or as they stood for `ivsettle verify`), the issued statements read back,
and the stored files of issued statements. An issue's own writes, and the transaction
they run in, are service.settlement.issuing."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Row, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.review import HoldFacts
from service.domain.settlement import CourseFacts, IssuedLine, Period
from service.domain.staircase import Placement
from service.domain.tariff import Payer, TariffVersion, TierRates, TreatmentTariff
from service.kit.clock import LOCAL_TZ
from service.kit.db import insert_ignoring_conflicts
from service.models import (
    ApiClient,
    AuditChainHead,
    AuditEvent,
    Course,
    CourseHoldRelease,
    CoursePosition,
    CourseVersion,
    Hospital,
    Municipality,
    PriceIndex,
    Referral,
    SettlementApproval,
    SettlementInput,
    SettlementIssue,
    Statement,
    StatementFile,
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


@dataclass(frozen=True)
class LineTrace:
    """What finance traces a course's lines by (printed on them, not priced): its number,
    dates, the referring hospital and its references, the municipality's reference."""

    course_number: str
    course_start: date
    course_end: date | None
    hospital_name: str
    external_ref: str
    department: str | None
    municipality_ref: str | None


async def line_traces(session: AsyncSession, course_ids: Iterable[str]) -> dict[str, LineTrace]:
    """The trace of each course, as the data says now (by course id)."""
    result: dict[str, LineTrace] = {}
    for chunk in _chunks(sorted(set(course_ids))):
        rows = await session.execute(
            select(
                Course.id,
                Course.number,
                Course.start_date,
                Course.end_date,
                Hospital.name,
                Referral.external_ref,
                Referral.department,
                Course.municipality_ref,
            )
            .join(Referral, Referral.id == Course.referral_id)
            .join(Hospital, Hospital.code == Course.hospital_code)
            .where(Course.id.in_(chunk))
        )
        for course_id, number, start, end, hospital, ref, department, own_ref in rows:
            result[str(course_id)] = LineTrace(
                number, start, end, hospital, ref, department, own_ref
            )
    return result


async def course_numbers(session: AsyncSession, course_ids: Iterable[str]) -> dict[str, str]:
    """Course id → its number."""
    result: dict[str, str] = {}
    for chunk in _chunks(sorted(set(course_ids))):
        rows = await session.execute(select(Course.id, Course.number).where(Course.id.in_(chunk)))
        result.update((str(course_id), number) for course_id, number in rows)
    return result


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
        _course_row(course.id, course, last_given, course.created_at, course.revision)
        for course in courses
    ]


def _course_row(
    course_id: uuid.UUID,
    state: Course | CourseVersion,
    last_given: dict[uuid.UUID, date],
    created_at: datetime,
    revision: int,
) -> CourseRow:
    """The course as it stands in `state` (the course now, or a version of its history)."""
    return CourseRow(
        facts=CourseFacts(
            course_id=str(course_id),
            municipality_code=state.municipality_code,
            hospital_code=state.hospital_code,
            treatment_type=state.treatment_type,
            start_date=state.start_date,
            end_date=state.end_date,
            last_administered_date=last_given.get(course_id),
            status=state.status,
        ),
        created_at=created_at,
        revision=revision,
    )


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
        _course_row(course_id, v, last_given, created[course_id], revisions[course_id])
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


_PLACEMENT = (
    CoursePosition.course_id,
    CoursePosition.year,
    CoursePosition.position,
    CoursePosition.tier,
)


def _placements(rows: Iterable[Row[uuid.UUID, int, int, int]]) -> dict[str, Placement]:
    return {str(cid): Placement(year, position, tier) for cid, year, position, tier in rows}


async def positions(
    session: AsyncSession, course_ids: Sequence[str | uuid.UUID], before: Period | None = None
) -> dict[str, Placement]:
    """Course id → its place for courses already on the staircase."""
    found: dict[str, Placement] = {}
    for chunk in _chunks(course_ids):
        rows = await session.execute(
            select(*_PLACEMENT)
            .join(SettlementIssue, SettlementIssue.id == CoursePosition.issue_id)
            .where(CoursePosition.course_id.in_(chunk), _issued_before(before))
        )
        found.update(_placements(rows))
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
                kind=r.kind,
                period=Period.parse(r.line_period),
                quantity=r.quantity,
                unit_price=r.unit_price_ore,
                tier=r.tier,
                treatment_type=r.treatment_type,
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


async def placed_by(session: AsyncSession, issue_id: uuid.UUID) -> dict[str, Placement]:
    """The places an issue gave (the courses it billed for the first time)."""
    rows = await session.execute(select(*_PLACEMENT).where(CoursePosition.issue_id == issue_id))
    return _placements(rows)


async def issues(session: AsyncSession) -> list[SettlementIssue]:
    return list(
        (await session.scalars(select(SettlementIssue).order_by(SettlementIssue.period))).all()
    )


@dataclass(frozen=True)
class StoredIssue:
    """What an issue stored, as read back: its statements (their lines in the order
    issued), the municipalities they are for, and the issuing client's name."""

    issue: SettlementIssue
    statements: list[Statement]
    lines: dict[uuid.UUID, list[StatementLine]]
    municipalities: dict[str, Municipality]
    issued_by: str | None


async def stored_issue(
    session: AsyncSession, issue: SettlementIssue, only: str | None = None
) -> StoredIssue:
    """An issue's statements (only the one of municipality `only`, when given)."""
    statements = await _statements_of(session, issue.id, only)
    return StoredIssue(
        issue=issue,
        statements=statements,
        lines=await _lines_of(session, [s.id for s in statements]),
        municipalities={m.code: m for m in await municipalities(session)},
        issued_by=await client_name(session, issue.issued_by),
    )


async def municipalities(session: AsyncSession) -> list[Municipality]:
    """Every municipality, by code."""
    return list((await session.scalars(select(Municipality).order_by(Municipality.code))).all())


async def municipality(session: AsyncSession, code: str) -> Municipality | None:
    """The municipality with this code, if there is one."""
    return await session.get(Municipality, code)


async def client_name(session: AsyncSession, client_id: uuid.UUID) -> str | None:
    """The API client's name (None for an unknown id)."""
    return await session.scalar(select(ApiClient.name).where(ApiClient.id == client_id))


async def _statements_of(
    session: AsyncSession, issue_id: uuid.UUID, only: str | None
) -> list[Statement]:
    stmt = select(Statement).where(
        Statement.issue_id == issue_id,
        Statement.municipality_code == only if only is not None else true(),
    )
    return list((await session.scalars(stmt.order_by(Statement.municipality_code))).all())


async def _lines_of(
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


async def issued_statements_of(
    session: AsyncSession, municipality_code: str, periods: Sequence[str]
) -> list[Statement]:
    """A municipality's issued statements of `periods`, oldest first."""
    rows = await session.scalars(
        select(Statement)
        .where(Statement.municipality_code == municipality_code, Statement.period.in_(periods))
        .order_by(Statement.period)
    )
    return list(rows.all())


async def statement_id(session: AsyncSession, period: Period, municipality_code: str) -> uuid.UUID:
    """The issued statement of a period and municipality (it must exist)."""
    return (
        await session.scalars(
            select(Statement.id).where(
                Statement.period == str(period), Statement.municipality_code == municipality_code
            )
        )
    ).one()


async def stored_file(session: AsyncSession, statement_id: uuid.UUID, fmt: str) -> bytes | None:
    """The statement's file in `fmt` as first rendered, if it was downloaded before."""
    return (
        await session.scalars(
            select(StatementFile.content).where(
                StatementFile.statement_id == statement_id, StatementFile.format == fmt
            )
        )
    ).first()


async def store_file(
    session: AsyncSession,
    statement_id: uuid.UUID,
    fmt: str,
    content: bytes,
    sha256: str,
    rendered_at: datetime,
) -> None:
    """Keep a statement's first rendering; when two first downloads race, the first insert
    wins and the other's is dropped (read the stored bytes back after this)."""
    await insert_ignoring_conflicts(
        session,
        StatementFile,
        [
            {
                "id": uuid.uuid4(),
                "statement_id": statement_id,
                "format": fmt,
                "content": content,
                "sha256": sha256,
                "rendered_at": rendered_at,
            }
        ],
        ["statement_id", "format"],
    )


async def issue_with_chain_hash(session: AsyncSession, sha256: str) -> SettlementIssue | None:
    """The issue whose chain hash is `sha256`, if any."""
    return await session.scalar(
        select(SettlementIssue).where(SettlementIssue.chain_sha256 == sha256)
    )


async def audit_head(session: AsyncSession) -> tuple[int, str] | None:
    """The audit chain's head (seq, hash) as last committed (None: no head row)."""
    row = (await session.execute(select(AuditChainHead.seq, AuditChainHead.sha256))).one_or_none()
    return None if row is None else (int(row[0]), str(row[1]))


async def audit_rows(session: AsyncSession, size: int = 5000) -> AsyncIterator[AuditEvent]:
    """Every audit row in chain order (unchained rows, chain_seq NULL, first), in pages."""
    after: tuple[int, int] = (-1, -1)
    while True:
        seq_key = func.coalesce(AuditEvent.chain_seq, -1)
        rows = (
            await session.scalars(
                select(AuditEvent)
                .where(
                    or_(
                        seq_key > after[0],
                        (seq_key == after[0]) & (AuditEvent.id > after[1]),
                    )
                )
                .order_by(seq_key, AuditEvent.id)
                .limit(size)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1]
        after = (last.chain_seq if last.chain_seq is not None else -1, last.id)


async def stored_files_of(
    session: AsyncSession, statement_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, str, bytes, str]]:
    """The stored files (statement id, format, content, recorded SHA-256) of statements."""
    found: list[tuple[uuid.UUID, str, bytes, str]] = []
    for chunk in _chunks(statement_ids):
        rows = await session.execute(
            select(
                StatementFile.statement_id,
                StatementFile.format,
                StatementFile.content,
                StatementFile.sha256,
            )
            .where(StatementFile.statement_id.in_(chunk))
            .order_by(StatementFile.statement_id, StatementFile.format)
        )
        found.extend((r[0], str(r[1]), bytes(r[2]), str(r[3])) for r in rows)
    return found


async def served_file_hashes(
    session: AsyncSession, objects: Sequence[str]
) -> dict[tuple[str, str], set[str]]:
    """The SHA-256s the `statement.export` audit rows recorded as served, by (object id
    "2024-01/157", format); rows without one (a draft's) are left out."""
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for start in range(0, len(objects), _CHUNK):
        rows = await session.execute(
            select(AuditEvent.object_id, AuditEvent.detail).where(
                AuditEvent.action == "statement.export",
                AuditEvent.object_type == "statement",
                AuditEvent.object_id.in_(list(objects[start : start + _CHUNK])),
            )
        )
        for object_id, detail in rows:
            if isinstance(detail, dict) and isinstance(detail.get("sha256"), str):
                found[(str(object_id), str(detail.get("format")))].add(detail["sha256"])
    return found


_CHUNK = 5000
"""Values per `IN (…)`: well under SQLite's and asyncpg's parameter limits."""


def _chunks(ids: Sequence[Any], size: int = _CHUNK) -> list[list[Any]]:
    values = [uuid.UUID(str(i)) for i in ids]
    return [values[i : i + size] for i in range(0, len(values), size)]


async def latest_approval(session: AsyncSession, period: Period) -> SettlementApproval | None:
    """The period's latest approval (it supersedes every earlier one), if any."""
    return (
        await session.scalars(
            select(SettlementApproval)
            .where(SettlementApproval.period == str(period))
            .order_by(SettlementApproval.id.desc())
            .limit(1)
        )
    ).first()


async def add_approval(session: AsyncSession, approval: SettlementApproval) -> None:
    session.add(approval)
    await session.flush()


async def issued_totals_before(
    session: AsyncSession, period: Period, months: int
) -> dict[str, list[int]]:
    """Each municipality's totals (øre) of the last `months` issued periods before
    `period`, newest first."""
    periods = (
        select(Statement.period)
        .where(Statement.period < str(period))
        .distinct()
        .order_by(Statement.period.desc())
        .limit(months)
    )
    rows = await session.execute(
        select(Statement.municipality_code, Statement.total_ore)
        .where(Statement.period.in_(periods.scalar_subquery()))
        .order_by(Statement.period.desc())
    )
    totals: dict[str, list[int]] = {}
    for code, total in rows:
        totals.setdefault(code, []).append(total)
    return totals


async def hold_facts(session: AsyncSession, rows: Sequence[CourseRow]) -> list[HoldFacts]:
    """What the holding rules read of the run's courses that are not cancelled."""
    ids = [uuid.UUID(r.facts.course_id) for r in rows if r.facts.status != "cancelled"]
    if not ids:
        return []
    courses: dict[uuid.UUID, Any] = {}
    administered: dict[uuid.UUID, int] = {}
    for chunk in _chunks(ids):
        found = await session.execute(
            select(
                Course.id,
                Course.patient_id,
                Course.treatment_type,
                Course.start_date,
                Course.end_date,
                Course.status,
                Course.created_at,
                Referral.expected_start_date,
            )
            .join(Referral, Referral.id == Course.referral_id)
            .where(Course.id.in_(chunk))
        )
        courses.update({row.id: row for row in found})
        counts = await session.execute(
            select(Visit.course_id, func.count())
            .where(Visit.course_id.in_(chunk), Visit.administered.is_(True))
            .group_by(Visit.course_id)
        )
        administered.update({course_id: n for course_id, n in counts})
    last_given = await _last_given_dose(session, ids)
    ends: dict[tuple[uuid.UUID, str], list[tuple[date, uuid.UUID]]] = {}
    patients = sorted({c.patient_id for c in courses.values()})
    for chunk in _chunks(patients):
        ended = await session.execute(
            select(Course.id, Course.patient_id, Course.treatment_type, Course.end_date).where(
                Course.patient_id.in_(chunk),
                Course.end_date.is_not(None),
                Course.status != "cancelled",
            )
        )
        for row in ended:
            ends.setdefault((row.patient_id, row.treatment_type), []).append((row.end_date, row.id))
    facts = []
    for course_id, c in courses.items():
        earlier = [
            end
            for end, other in ends.get((c.patient_id, c.treatment_type), [])
            if other != course_id and end <= c.start_date
        ]
        facts.append(
            HoldFacts(
                course_id=str(course_id),
                start_date=c.start_date,
                end_date=c.end_date,
                completed=c.status == "completed",
                expected_start_date=c.expected_start_date,
                registered_on=c.created_at.astimezone(LOCAL_TZ).date(),
                administered_visits=administered.get(course_id, 0),
                last_administered_date=last_given.get(course_id),
                previous_end_date=max(earlier, default=None),
            )
        )
    return facts


async def released_rules(
    session: AsyncSession, course_ids: Sequence[uuid.UUID]
) -> dict[str, set[str]]:
    """Course id → every rule the region released for it."""
    released: dict[str, set[str]] = {}
    for chunk in _chunks(course_ids):
        rows = await session.execute(
            select(CourseHoldRelease.course_id, CourseHoldRelease.rules).where(
                CourseHoldRelease.course_id.in_(chunk)
            )
        )
        for course_id, rules in rows:
            released.setdefault(str(course_id), set()).update(rules)
    return released


async def releases_of(session: AsyncSession, course_id: uuid.UUID) -> list[CourseHoldRelease]:
    """A course's hold releases, oldest first."""
    rows = await session.scalars(
        select(CourseHoldRelease)
        .where(CourseHoldRelease.course_id == course_id)
        .order_by(CourseHoldRelease.id)
    )
    return list(rows.all())


async def add_hold_release(session: AsyncSession, release: CourseHoldRelease) -> None:
    session.add(release)
    await session.flush()


async def current_course_rows(
    session: AsyncSession, course_ids: Sequence[uuid.UUID]
) -> list[CourseRow]:
    """The courses as they stand now, as the settlement reads them."""
    courses = list((await session.scalars(select(Course).where(Course.id.in_(course_ids)))).all())
    last_given = await _last_given_dose(session, [c.id for c in courses if c.status == "active"])
    return [_course_row(c.id, c, last_given, c.created_at, c.revision) for c in courses]
