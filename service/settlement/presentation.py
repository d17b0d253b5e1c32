"""Statements and the region summary as finance reads them (`*Out`), and the content hash.

Pure: drafts are built from a computed run, issued statements from their stored rows, and
both the same way, so an issued statement rebuilt from its rows gives the JSON (and the
hash) it was issued with. Totals are summed in øre and formatted once; a formatted amount
is never read back.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import NamedTuple

import rfc8785

from service.domain.money import format_kr
from service.domain.settlement import Period
from service.kit.rows import from_row
from service.models import Municipality, SettlementIssue, StatementLine
from service.settlement.repository import LineTrace, StoredIssue
from service.settlement.run import PricedDelta, Run
from service.settlement.schemas import (
    ChainOut,
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


class Priced(NamedTuple):
    """A line as served, with its amount in øre: what the totals sum."""

    out: LineOut
    amount: int


@dataclass(frozen=True)
class Presented:
    """A statement as served, with its lines' amounts in øre (in the order of its lines)."""

    statement: StatementOut
    lines: list[Priced]

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


def _draft_line(d: PricedDelta, trace: LineTrace | None) -> Priced:
    line = d.line
    out = from_row(
        LineOut,
        line,
        period=str(line.period),
        unit_price=format_kr(line.unit_price),
        amount=format_kr(line.amount),
        position=d.position,
        **(asdict(trace) if trace is not None else NO_TRACE),
    )
    return Priced(out, line.amount)


NO_TRACE = dict.fromkeys(f.name for f in fields(LineTrace))
"""A line without a trace: every trace field None (absent from the content)."""


def trace_of(line: StatementLine) -> LineTrace | None:
    """A stored line's trace (None: issued before lines carried one)."""
    if line.course_number is None or line.course_start is None:
        return None
    return LineTrace(
        course_number=line.course_number,
        course_start=line.course_start,
        course_end=line.course_end,
        hospital_name=line.hospital_name or "",
        external_ref=line.external_ref or "",
        department=line.department,
        municipality_ref=line.municipality_ref,
    )


def _stored_line(line: StatementLine) -> Priced:
    # The trace columns by name; NULL ones stay None and are absent from the content.
    out = from_row(
        LineOut,
        line,
        period=line.line_period,
        unit_price=format_kr(line.unit_price_ore),
        amount=format_kr(line.amount_ore),
    )
    return Priced(out, line.amount_ore)


def _totals(lines: Iterable[Priced], key: str) -> list[TotalOut]:
    sums: dict[str, int] = defaultdict(int)
    for line in lines:
        sums[str(getattr(line.out, key))] += line.amount
    return [TotalOut(key=k, amount=format_kr(v)) for k, v in sorted(sums.items())]


def _presented(
    *,
    period: Period,
    municipality: Municipality,
    payer: PayerOut,
    lines: list[Priced],
    inputs: InputsOut,
    number: int | None = None,
    number_year: int | None = None,
    issued_at: datetime | None = None,
    content_hash: str | None = None,
    chain: ChainOut | None = None,
) -> Presented:
    total = sum(line.amount for line in lines)
    adjustments = sum(line.amount for line in lines if line.out.adjustment)
    statement = StatementOut(
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
        lines=[line.out for line in lines],
        inputs=inputs,
        hash=content_hash,
        chain=chain,
    )
    return Presented(statement, lines)


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
) -> list[Presented]:
    """The run's statement for each of `municipalities` (one without lines owes nothing)."""
    payer = PayerOut.model_validate(run.payer, from_attributes=True)
    inputs = _inputs(run.tariff_fingerprint, run.price_indices, issued_by)
    return [
        _presented(
            period=run.period,
            municipality=m,
            payer=payer,
            lines=[
                _draft_line(d, run.traces.get(d.line.course_id)) for d in run.lines.get(m.code, [])
            ],
            inputs=inputs,
        )
        for m in municipalities
    ]


def stored_statements(stored: StoredIssue) -> list[Presented]:
    """The issued statements as they were issued, rebuilt from their stored rows."""
    issue = stored.issue
    inputs = _inputs(
        issue.tariff_versions,
        {int(year): value for year, value in issue.price_indices.items()},
        stored.issued_by,
    )
    chain = _chain_of(issue)
    return [
        _presented(
            period=Period.parse(s.period),
            municipality=stored.municipalities[s.municipality_code],
            payer=PayerOut(name=s.payer_name, cvr=s.payer_cvr, gln=s.payer_gln),
            lines=[_stored_line(line) for line in stored.lines[s.id]],
            inputs=inputs,
            number=s.number,
            number_year=s.number_year,
            issued_at=s.issued_at,
            content_hash=s.content_sha256,
            chain=chain,
        )
        for s in stored.statements
    ]


def issued_copy(
    draft: StatementOut, number: int, number_year: int, issued_at: datetime
) -> StatementOut:
    """A draft as the statement it becomes when issued (before its hash is known)."""
    return draft.model_copy(
        update={
            "number": number,
            "number_year": number_year,
            "state": "issued",
            "issued_at": issued_at,
        }
    )


def canonical_content(statement: StatementOut) -> bytes:
    """The statement's canonical JSON by RFC 8785 (JCS: sorted keys, no insignificant
    whitespace, UTF-8; numbers are integers and amounts strings), the input of its SHA-256:
    anyone can recompute the hash from the JSON the API serves, without `hash` and `chain`
    (the chain is the issue's, made from the statements' hashes)."""
    return rfc8785.dumps(statement.model_dump(mode="json", exclude={"hash", "chain"}))


def content_hash(statement: StatementOut) -> str:
    """SHA-256 (hex) of the statement's canonical content."""
    return hashlib.sha256(canonical_content(statement)).hexdigest()


def region_summary(
    period: Period,
    statements: Sequence[Presented],
    issue: SettlementIssue | None,
    staircase: StaircaseOut,
    registered_not_settled: int,
) -> RegionSummaryOut:
    """The period's statements side by side, with the region's totals."""
    all_lines = [line for s in statements for line in s.lines]
    return RegionSummaryOut(
        period=str(period),
        state="issued" if issue is not None else "draft",
        issued_at=issue.issued_at if issue is not None else None,
        payer=statements[0].statement.payer,
        total=format_kr(sum(s.total for s in statements)),
        municipalities=[
            from_row(MunicipalityTotalOut, s.statement, line_count=len(s.lines)) for s in statements
        ],
        totals_by_type=_totals(all_lines, "treatment_type"),
        totals_by_tier=_totals(all_lines, "tier"),
        totals_by_hospital=_totals(all_lines, "hospital_code"),
        staircase=staircase,
        registered_not_settled=registered_not_settled,
        chain=_chain_of(issue),
    )


def _chain_of(issue: SettlementIssue | None) -> ChainOut | None:
    """The issue's place in the issue chain (None: a draft, or an unchained issue)."""
    if issue is None or not issue.previous_sha256 or not issue.chain_sha256:
        return None
    return ChainOut(previous=issue.previous_sha256, issue=issue.chain_sha256)
