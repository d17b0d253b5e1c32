"""Use cases of the monthly settlement: draft, issue, read, staircase.

A run gathers its inputs (candidate courses, tariff timeline, price index, what was
issued for those courses), computes with the pure core (service.domain), and, when
issuing, writes the write-once records. "Desired minus issued": the statement for period
P holds what the data now says is owed for every period up to P, minus what was issued.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import rfc8785
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.access import audit
from service.deps import Ctx
from service.domain.money import format_kr, parse_kr
from service.domain.settlement import (
    AdjustmentReason,
    DeltaLine,
    InvalidPeriod,
    IssuedLine,
    OwedLine,
    Period,
    PeriodNotEnded,
    PeriodOutOfSequence,
    check_issuable,
    is_billable_by,
    owed_lines,
    statement_delta,
)
from service.domain.staircase import (
    Placement,
    StaircaseCandidate,
    assign_positions,
    staircase_status,
)
from service.domain.tariff import (
    MissingPriceIndex,
    OutsideAgreement,
    Payer,
    TariffVersion,
    payer_on,
    version_for,
)
from service.errors import Conflict, Invalid, NotFound
from service.models import (
    ApiClient,
    CoursePosition,
    Municipality,
    SettlementInput,
    SettlementIssue,
    Statement,
    StatementLine,
)
from service.settlement import repository
from service.settlement.schemas import (
    InputsOut,
    LineOut,
    MunicipalityTotalOut,
    PayerOut,
    RegionSummaryOut,
    StaircaseOut,
    StatementOut,
    TotalOut,
)
from service.tariff.service import index_text


@dataclass(frozen=True)
class PricedDelta:
    line: DeltaLine
    position: int


@dataclass
class Run:
    """A computed settlement of one period for all municipalities (a draft until stored)."""

    period: Period
    payer: Payer
    lines: dict[str, list[PricedDelta]]
    new_placements: dict[str, Placement]
    tariff_fingerprint: dict[str, str]
    price_indices: dict[int, int]
    # Course id → the revision read: what the issue records as its inputs.
    course_revisions: dict[str, int]

    @property
    def courses_considered(self) -> int:
        return len(self.course_revisions)


@dataclass(frozen=True)
class RunInputs:
    """Everything a run computes from, gathered from the live data (a draft or an issue)
    or rebuilt from the history (`ivsettle verify`)."""

    period: Period
    courses: list[repository.CourseRow]
    placed: dict[str, tuple[int, int, int]]
    next_free: dict[int, int]
    versions: list[TariffVersion]
    tariff_fingerprint: dict[str, str]
    price_indices: dict[int, int]
    issued: list[IssuedLine]
    corrected: set[str]


def parse_period(text: str) -> Period:
    try:
        return Period.parse(text)
    except InvalidPeriod:
        raise Invalid("invalid_period", "a period is written YYYY-MM, e.g. 2024-03") from None


def _domain_error(exc: Exception) -> Exception:
    if isinstance(exc, MissingPriceIndex):
        return Conflict("missing_price_index", str(exc), year=exc.year)
    if isinstance(exc, OutsideAgreement):
        return Invalid("before_agreement", str(exc))
    if isinstance(exc, PeriodNotEnded):
        return Conflict("period_not_ended", str(exc))
    if isinstance(exc, PeriodOutOfSequence):
        return Conflict("period_out_of_sequence", str(exc))
    return exc


async def compute(session: AsyncSession, period: Period) -> Run:
    """Settle `period` as the data says now, against what was issued (nothing is stored)."""
    try:
        return settle(await _live_inputs(session, period))
    except (MissingPriceIndex, OutsideAgreement) as exc:
        raise _domain_error(exc) from None


async def _live_inputs(session: AsyncSession, period: Period) -> RunInputs:
    last = await repository.last_issue(session)
    indices = await repository.price_indices(session)
    fingerprint = await repository.tariff_fingerprint(session)
    inputs_unchanged = (
        last is not None
        and last.tariff_versions == fingerprint
        and last.price_indices == {str(year): value for year, value in indices.items()}
    )
    open_from = Period.parse(last.period).next().first_day if last is not None else None
    rows = await repository.candidate_courses(session, open_from if inputs_unchanged else None)
    ids = [row.facts.course_id for row in rows]
    return RunInputs(
        period=period,
        courses=rows,
        placed=await repository.positions(session, ids),
        next_free=await repository.next_free_positions(session),
        versions=await repository.tariff_versions(session),
        tariff_fingerprint=fingerprint,
        price_indices=indices,
        issued=await repository.issued_lines(session, ids),
        corrected=await repository.corrected_courses(
            session, {uuid.UUID(row.facts.course_id): row.revision for row in rows}
        ),
    )


def settle(inputs: RunInputs) -> Run:
    """The run's arithmetic over its inputs (no I/O): staircase places for courses billed
    for the first time, owed lines, and desired-minus-issued per municipality."""
    period, rows, versions = inputs.period, inputs.courses, inputs.versions
    new_placements = assign_positions(
        [
            StaircaseCandidate(row.facts.course_id, row.facts.start_date, row.created_at)
            for row in rows
            if row.facts.course_id not in inputs.placed and is_billable_by(row.facts, period)
        ],
        inputs.next_free,
        lambda start: version_for(versions, start).tier_thresholds,
    )
    place = dict(inputs.placed) | {
        cid: (p.year, p.position, p.tier) for cid, p in new_placements.items()
    }
    index_fractions = repository.as_fractions(inputs.price_indices)
    owed: list[OwedLine] = []
    for row in rows:
        tier = place.get(row.facts.course_id, (0, 0, 1))[2]
        tariff = version_for(versions, row.facts.start_date)
        owed.extend(owed_lines(row.facts, tariff, tier, index_fractions, period))
    reasons: dict[str, AdjustmentReason] = dict.fromkeys(inputs.corrected, "correction")
    reasons |= {
        row.facts.course_id: "cancellation" for row in rows if row.facts.status == "cancelled"
    }
    by_municipality: dict[str, list[PricedDelta]] = defaultdict(list)
    for line in statement_delta(owed, inputs.issued, period, reasons):
        by_municipality[line.municipality_code].append(
            PricedDelta(line, place.get(line.course_id, (0, 0, 0))[1])
        )
    for deltas in by_municipality.values():
        deltas.sort(key=_reading_order)
    return Run(
        period=period,
        payer=payer_on(versions, period.first_day),
        lines=dict(by_municipality),
        new_placements=new_placements,
        tariff_fingerprint=inputs.tariff_fingerprint,
        price_indices=inputs.price_indices,
        course_revisions={row.facts.course_id: row.revision for row in rows},
    )


def _reading_order(d: PricedDelta) -> tuple[Any, ...]:
    """As finance reads a statement: regular lines first, then adjustments by the period
    they concern; within them by staircase position, course fee before day fees."""
    line = d.line
    return (line.adjustment, line.period, d.position, line.course_id, line.kind, line.quantity)


# --- presenting --------------------------------------------------------------------------


def _line_out(line: DeltaLine, position: int) -> LineOut:
    return LineOut(
        course_id=uuid.UUID(line.course_id),
        kind=line.kind,
        period=str(line.period),
        quantity=line.quantity,
        unit_price=format_kr(line.unit_price),
        amount=format_kr(line.amount),
        tier=line.tier,
        position=position,
        treatment_type=line.treatment_type,
        hospital_code=line.hospital_code,
        tariff_version_id=line.tariff_version_id,
        adjustment=line.adjustment,
        reason=line.reason,
    )


def _stored_line_out(line: StatementLine) -> LineOut:
    return LineOut(
        course_id=line.course_id,
        kind=line.kind,
        period=line.line_period,
        quantity=line.quantity,
        unit_price=format_kr(line.unit_price_ore),
        amount=format_kr(line.amount_ore),
        tier=line.tier,
        position=line.position,
        treatment_type=line.treatment_type,
        hospital_code=line.hospital_code,
        tariff_version_id=line.tariff_version_id,
        adjustment=line.adjustment,
        reason=line.reason,
    )


def _totals(lines: Iterable[LineOut], key: str) -> list[TotalOut]:
    sums: dict[str, int] = defaultdict(int)
    for line in lines:
        sums[str(getattr(line, key))] += parse_kr(line.amount)
    return [TotalOut(key=k, amount=format_kr(v)) for k, v in sorted(sums.items())]


def _statement_out(
    *,
    period: Period,
    municipality: Municipality,
    payer: PayerOut,
    lines: list[LineOut],
    inputs: InputsOut,
    number: int | None = None,
    number_year: int | None = None,
    issued_at: datetime | None = None,
    content_hash: str | None = None,
) -> StatementOut:
    total = sum(parse_kr(line.amount) for line in lines)
    adjustments = sum(parse_kr(line.amount) for line in lines if line.adjustment)
    return StatementOut(
        number=number,
        number_year=number_year,
        period=str(period),
        municipality_code=municipality.code,
        municipality_name=municipality.name,
        state="issued" if number is not None else "draft",
        issued_at=issued_at,
        payer=payer,
        total=format_kr(total),
        regular_total=format_kr(total - adjustments),
        adjustment_total=format_kr(adjustments),
        totals_by_type=_totals(lines, "treatment_type"),
        totals_by_tier=_totals(lines, "tier"),
        totals_by_hospital=_totals(lines, "hospital_code"),
        lines=lines,
        inputs=inputs,
        hash=content_hash,
    )


def canonical_content(statement: StatementOut) -> bytes:
    """The statement's canonical JSON by RFC 8785 (JCS: sorted keys, no insignificant
    whitespace, UTF-8; numbers are integers and amounts strings), the input of its SHA-256:
    anyone can recompute the hash from the JSON the API serves."""
    return rfc8785.dumps(statement.model_dump(mode="json", exclude={"hash"}))


def content_hash(statement: StatementOut) -> str:
    return hashlib.sha256(canonical_content(statement)).hexdigest()


async def all_municipalities(session: AsyncSession) -> list[Municipality]:
    return list((await session.scalars(select(Municipality).order_by(Municipality.code))).all())


def _payer_out(payer: Payer) -> PayerOut:
    return PayerOut(name=payer.name, cvr=payer.cvr, gln=payer.gln)


async def stored_statements(
    session: AsyncSession, issue: SettlementIssue, only: str | None = None
) -> list[StatementOut]:
    statements = [
        s
        for s in await repository.statements_of(session, issue.id)
        if only is None or s.municipality_code == only
    ]
    lines = await repository.lines_of(session, [s.id for s in statements])
    names = {m.code: m for m in await all_municipalities(session)}
    issuer = await session.get(ApiClient, issue.issued_by)
    inputs = _inputs(
        issue.tariff_versions,
        {int(year): value for year, value in issue.price_indices.items()},
        issuer.name if issuer is not None else None,
    )
    return [
        _statement_out(
            period=Period.parse(s.period),
            municipality=names[s.municipality_code],
            payer=PayerOut(name=s.payer_name, cvr=s.payer_cvr, gln=s.payer_gln),
            lines=[_stored_line_out(line) for line in lines[s.id]],
            inputs=inputs,
            number=s.number,
            number_year=s.number_year,
            issued_at=s.issued_at,
            content_hash=s.content_sha256,
        )
        for s in statements
    ]


def _inputs(
    tariff_versions: dict[str, str], indices: dict[int, int], issued_by: str | None
) -> InputsOut:
    return InputsOut(
        issued_by=issued_by,
        tariff_versions=dict(sorted(tariff_versions.items(), key=lambda item: int(item[0]))),
        price_indices={str(year): index_text(value) for year, value in sorted(indices.items())},
    )


def draft_statements(
    run: Run, municipalities: Sequence[Municipality], issued_by: str | None = None
) -> list[StatementOut]:
    payer = _payer_out(run.payer)
    inputs = _inputs(run.tariff_fingerprint, run.price_indices, issued_by)
    return [
        _statement_out(
            period=run.period,
            municipality=m,
            payer=payer,
            lines=[_line_out(d.line, d.position) for d in run.lines.get(m.code, [])],
            inputs=inputs,
        )
        for m in municipalities
    ]


async def _statements(
    session: AsyncSession, period: Period, only: str | None = None
) -> tuple[list[StatementOut], SettlementIssue | None]:
    """The period's statements: stored when issued, else a draft computed now."""
    issue = await repository.issue_of(session, period)
    if issue is not None:
        return await stored_statements(session, issue, only), issue
    last = await repository.last_issue(session)
    if last is not None and period < Period.parse(last.period):
        raise Conflict(
            "period_closed",
            f"{period} was never issued and lies before the last issued period {last.period}; "
            "what it owes was settled in later statements",
        )
    run = await compute(session, period)
    municipalities = [
        m for m in await all_municipalities(session) if only is None or m.code == only
    ]
    return draft_statements(run, municipalities), None


# --- use cases ---------------------------------------------------------------------------


async def get_statement(ctx: Ctx, period_text: str, municipality_code: str) -> StatementOut:
    period = parse_period(period_text)
    if ctx.principal.role == "municipality" and municipality_code != ctx.principal.org_code:
        raise NotFound("statement_not_found", "no such statement for this client")
    if await ctx.session.get(Municipality, municipality_code) is None:
        raise NotFound("statement_not_found", "no such statement for this client")
    statements, _ = await _statements(ctx.session, period, municipality_code)
    (statement,) = statements
    await audit.record(
        ctx.session, ctx.principal, ctx.now, "statement.read", "statement",
        f"{period}/{municipality_code}", detail={"state": statement.state},
    )  # fmt: skip
    return statement


async def region_summary(ctx: Ctx, period_text: str) -> RegionSummaryOut:
    period = parse_period(period_text)
    statements, issue = await _statements(ctx.session, period)
    all_lines = [line for s in statements for line in s.lines]
    return RegionSummaryOut(
        period=str(period),
        state="issued" if issue is not None else "draft",
        issued_at=issue.issued_at if issue is not None else None,
        payer=statements[0].payer,
        total=format_kr(sum(parse_kr(s.total) for s in statements)),
        municipalities=[
            MunicipalityTotalOut(
                municipality_code=s.municipality_code,
                municipality_name=s.municipality_name,
                number=s.number,
                total=s.total,
                regular_total=s.regular_total,
                adjustment_total=s.adjustment_total,
                line_count=len(s.lines),
                hash=s.hash,
            )
            for s in statements
        ],
        totals_by_type=_totals(all_lines, "treatment_type"),
        totals_by_tier=_totals(all_lines, "tier"),
        totals_by_hospital=_totals(all_lines, "hospital_code"),
        staircase=await _staircase(ctx.session, period.year),
        registered_not_settled=await repository.unbilled_courses(ctx.session, period.last_day),
    )


async def issue_period(ctx: Ctx, period_text: str) -> tuple[RegionSummaryOut, bool]:
    """Issue a period for all 29 municipalities in one transaction. Issuing it again yields
    the one issue already made; while another issue is being made, 409 issue_in_progress."""
    period = parse_period(period_text)
    try:
        async with repository.issuing(ctx.session) as transaction:
            created = await _issue(ctx, transaction, period)
    except repository.IssueInProgress:
        raise Conflict(
            "issue_in_progress",
            "another issue is being made right now; ask again in a moment",
        ) from None
    return await region_summary(ctx, period_text), created


async def _issue(ctx: Ctx, transaction: repository.IssueTransaction, period: Period) -> bool:
    session = transaction.session
    if await repository.issue_of(session, period) is not None:
        return False
    last = await repository.last_issue(session)
    try:
        check_issuable(
            period,
            last_issued=Period.parse(last.period) if last is not None else None,
            today=ctx.clock.today(),
        )
    except (PeriodNotEnded, PeriodOutOfSequence) as exc:
        raise _domain_error(exc) from None
    run = await compute(session, period)
    municipalities = await all_municipalities(session)
    number = await repository.next_statement_number(session, run.payer.cvr, period.year)
    await transaction.start_writing()
    issue_id = uuid.uuid4()
    now = ctx.now
    await repository.insert_rows(
        session,
        SettlementIssue,
        [
            {
                "id": issue_id,
                "period": str(period),
                "issued_at": now,
                "issued_by": ctx.principal.client_id,
                "tariff_versions": run.tariff_fingerprint,
                "price_indices": {str(y): v for y, v in run.price_indices.items()},
                "courses_considered": run.courses_considered,
            }
        ],
    )
    await repository.insert_rows(
        session,
        SettlementInput,
        [
            {"issue_id": issue_id, "course_id": uuid.UUID(course_id), "revision": revision}
            for course_id, revision in run.course_revisions.items()
        ],
    )
    await repository.insert_rows(
        session,
        CoursePosition,
        [
            {
                "course_id": uuid.UUID(course_id),
                "year": p.year,
                "position": p.position,
                "tier": p.tier,
                "issue_id": issue_id,
            }
            for course_id, p in run.new_placements.items()
        ],
    )
    statement_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    for offset, draft in enumerate(draft_statements(run, municipalities, ctx.principal.name)):
        issued = draft.model_copy(
            update={
                "number": number + offset,
                "number_year": period.year,
                "state": "issued",
                "issued_at": now,
            }
        )
        statement_id = uuid.uuid4()
        statement_rows.append(
            {
                "id": statement_id,
                "issue_id": issue_id,
                "period": str(period),
                "municipality_code": issued.municipality_code,
                "number_year": period.year,
                "number": number + offset,
                "payer_name": run.payer.name,
                "payer_cvr": run.payer.cvr,
                "payer_gln": run.payer.gln,
                "total_ore": parse_kr(issued.total),
                "issued_at": now,
                "content_sha256": content_hash(issued),
            }
        )
        line_rows.extend(
            {
                "statement_id": statement_id,
                "course_id": uuid.UUID(d.line.course_id),
                "kind": d.line.kind,
                "line_period": str(d.line.period),
                "quantity": d.line.quantity,
                "unit_price_ore": d.line.unit_price,
                "amount_ore": d.line.amount,
                "tier": d.line.tier,
                "position": d.position,
                "treatment_type": d.line.treatment_type,
                "hospital_code": d.line.hospital_code,
                "municipality_code": d.line.municipality_code,
                "tariff_version_id": d.line.tariff_version_id,
                "adjustment": d.line.adjustment,
                "reason": d.line.reason,
            }
            for d in run.lines.get(issued.municipality_code, [])
        )
    await repository.insert_rows(session, Statement, statement_rows)
    await repository.insert_rows(session, StatementLine, line_rows)
    await audit.record(
        session, ctx.principal, now, "settlement.issue", "settlement_issue", issue_id,
        detail={"period": str(period), "statements": len(statement_rows), "lines": len(line_rows)},
    )  # fmt: skip
    return True


async def _staircase(session: AsyncSession, year: int) -> StaircaseOut:
    versions = await repository.tariff_versions(session)
    try:
        first = min(v.valid_from for v in versions)
        version: TariffVersion = version_for(versions, max(date(year, 1, 1), first))
    except (ValueError, OutsideAgreement):
        raise NotFound("no_tariff", "no tariff version covers this year") from None
    if date(year, 12, 31) < first:
        raise NotFound("no_tariff", "no tariff version covers this year")
    counted = await repository.counted_in_year(session, year)
    status = staircase_status(counted, version.tier_thresholds)
    return StaircaseOut(
        year=year,
        counted=counted,
        current_tier=status.current_tier,
        until_next_tier=status.until_next_tier,
        tier_thresholds=list(version.tier_thresholds),
    )


async def staircase(ctx: Ctx, year: int) -> StaircaseOut:
    return await _staircase(ctx.session, year)
