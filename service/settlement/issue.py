"""The issue use case: settle a period for all 29 municipalities and store it, write-once.

An issue reads the run's inputs in one snapshot, computes (service.settlement.run), then
writes the issue, the inputs it read (for `ivsettle verify`), the staircase places it
gave, and one numbered statement per municipality with its lines and content hash. The
rows are built here and inserted by the repository; the boundary commits.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

from service.access import audit
from service.deps import Ctx
from service.domain.chain import GENESIS, issue_link
from service.domain.settlement import Period, check_issuable
from service.errors import Conflict
from service.events import outbox, payloads
from service.events.outbox import NewEvent
from service.settlement import approval, presentation, repository, service
from service.settlement.issuing import (
    IssueInProgress,
    IssueRows,
    IssueTransaction,
    insert_issue,
    issuing,
    next_statement_number,
)
from service.settlement.repository import LineTrace
from service.settlement.run import PricedDelta, Run, compute
from service.settlement.schemas import RegionSummaryOut


async def issue_period(ctx: Ctx, period: Period) -> tuple[RegionSummaryOut, bool]:
    """Issue a period for all 29 municipalities in one transaction. Issuing it again yields
    the one issue already made; while another issue is being made, 409 issue_in_progress.
    Only an ended period is issued, and after the first issue only the next period (the
    domain's PeriodNotEnded and PeriodOutOfSequence propagate); with four eyes on, only a
    draft another region client approved as it is (service.settlement.approval)."""
    try:
        async with issuing(ctx.session) as transaction:
            created = await _issue(ctx, transaction, period)
    except IssueInProgress:
        raise Conflict(
            "issue_in_progress",
            "another issue is being made right now; ask again in a moment",
        ) from None
    return await service.region_summary(ctx, period), created


async def _issue(ctx: Ctx, transaction: IssueTransaction, period: Period) -> bool:
    session = transaction.session
    if await repository.issue_of(session, period) is not None:
        return False
    last = await repository.last_issue(session)
    check_issuable(
        period,
        last_issued=Period.parse(last.period) if last is not None else None,
        today=ctx.clock.today(),
    )
    run = await compute(session, period, ctx.hold_rules)
    municipalities = await repository.municipalities(session)
    approved = await approval.check_approved(
        ctx, transaction, period, approval.draft_hashes(run, municipalities)
    )
    number = await next_statement_number(session, run.payer.cvr, period.year)
    await transaction.start_writing()
    issue_id = uuid.uuid4()
    now = ctx.now
    statement_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    drafts = presentation.draft_statements(run, municipalities, ctx.principal.name)
    for offset, draft in enumerate(drafts):
        issued = presentation.issued_copy(draft.statement, number + offset, period.year, now)
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
                "total_ore": draft.total,
                "issued_at": now,
                "content_sha256": presentation.content_hash(issued),
            }
        )
        line_rows.extend(
            _line_row(statement_id, d, run.traces.get(d.line.course_id))
            for d in run.lines.get(issued.municipality_code, [])
        )
    # The issue chain: after the issue before it, over its statements' hashes and the audit
    # chain's head as last committed (the issue's own audit row links after it).
    previous = last.chain_sha256 if last is not None and last.chain_sha256 else GENESIS
    audit_head = await repository.audit_head(session)
    chain = {
        "previous_sha256": previous,
        "audit_seq": audit_head[0] if audit_head else None,
        "audit_sha256": audit_head[1] if audit_head else None,
        "chain_sha256": issue_link(
            previous,
            str(period),
            [
                (r["municipality_code"], r["number_year"], r["number"], r["content_sha256"])
                for r in statement_rows
            ],
            audit_head,
        ),
    }
    await insert_issue(
        session,
        IssueRows(
            issue=_issue_row(issue_id, run, now, ctx.principal.client_id) | chain,
            inputs=[
                {"issue_id": issue_id, "course_id": uuid.UUID(course_id), "revision": revision}
                for course_id, revision in run.course_revisions.items()
            ],
            positions=[
                {
                    "course_id": uuid.UUID(course_id),
                    "year": p.year,
                    "position": p.position,
                    "tier": p.tier,
                    "issue_id": issue_id,
                }
                for course_id, p in run.new_placements.items()
            ],
            statements=statement_rows,
            lines=line_rows,
        ),
    )
    # Finance systems are told in this same transaction: the events exist if and only if
    # the issue does (service.events.outbox).
    await outbox.emit(session, now, _issue_events(str(period), issue_id, statement_rows, chain))
    await audit.record(
        session, ctx.principal, now, "settlement.issue", "settlement_issue", issue_id,
        detail={
            "period": str(period),
            "statements": len(statement_rows),
            "lines": len(line_rows),
            "approval": None if approved is None else approved.id,
        },
    )  # fmt: skip
    return True


def _issue_events(
    period: str, issue_id: uuid.UUID, statements: list[dict[str, Any]], chain: dict[str, Any]
) -> list[NewEvent]:
    """`period.issued`, then one `statement.issued` per statement, in number order."""
    issued = NewEvent(
        "period.issued",
        payloads.period_issued(
            period,
            issue_id,
            len(statements),
            sum(r["total_ore"] for r in statements),
            chain["chain_sha256"],
            chain["previous_sha256"],
        ),
    )
    return [
        issued,
        *(
            NewEvent(
                "statement.issued",
                payloads.statement_issued(
                    period,
                    r["municipality_code"],
                    r["payer_cvr"],
                    r["number_year"],
                    r["number"],
                    r["total_ore"],
                    r["content_sha256"],
                    chain["chain_sha256"],
                ),
                r["municipality_code"],
            )
            for r in sorted(statements, key=lambda r: r["number"])
        ),
    ]


def _issue_row(
    issue_id: uuid.UUID, run: Run, issued_at: datetime, issued_by: uuid.UUID
) -> dict[str, Any]:
    return {
        "id": issue_id,
        "period": str(run.period),
        "issued_at": issued_at,
        "issued_by": issued_by,
        "tariff_versions": run.tariff_fingerprint,
        "price_indices": {str(y): v for y, v in run.price_indices.items()},
        "courses_considered": run.courses_considered,
    }


def _line_row(statement_id: uuid.UUID, d: PricedDelta, trace: LineTrace | None) -> dict[str, Any]:
    line = d.line
    traced = asdict(trace) if trace is not None else presentation.NO_TRACE
    return traced | {
        "statement_id": statement_id,
        "course_id": uuid.UUID(line.course_id),
        "kind": line.kind,
        "line_period": str(line.period),
        "quantity": line.quantity,
        "unit_price_ore": line.unit_price,
        "amount_ore": line.amount,
        "tier": line.tier,
        "position": d.position,
        "treatment_type": line.treatment_type,
        "hospital_code": line.hospital_code,
        "municipality_code": line.municipality_code,
        "tariff_version_id": line.tariff_version_id,
        "adjustment": line.adjustment,
        "reason": line.reason,
    }
