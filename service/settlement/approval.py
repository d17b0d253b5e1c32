"""Four eyes: one region client approves a period's draft, another issues it.

An approval records the SHA-256 of every statement of the draft as computed at that moment
(the canonical content of the draft itself, without who asks or when) and who approved.
An issue recomputes the draft in its own snapshot and goes ahead only when the period's
latest approval is by another client and hashes exactly the same (`check_approved`);
otherwise 409 `approval_required`, `approval_by_same_client` or
`draft_changed_since_approval` (naming the municipalities whose statements changed).
Approving takes the issue's lock, so an approval and an issue never interleave.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.access import audit
from service.deps import Ctx
from service.domain.chain import draft_digest
from service.domain.settlement import Period, check_issuable
from service.errors import Conflict, NotFound
from service.models import Municipality, SettlementApproval
from service.settlement import presentation, repository
from service.settlement.issuing import IssueInProgress, IssueTransaction, issuing
from service.settlement.presentation import Presented
from service.settlement.run import Run, compute
from service.settlement.schemas import ApprovalOut, ApprovedHoldOut, ApprovedStatementOut


def statement_hashes(statements: Sequence[Presented]) -> dict[str, str]:
    """Municipality code → SHA-256 of its draft statement (drafts computed without an
    `issued_by`: the hash is of the content, not of who looks)."""
    return {
        p.statement.municipality_code: presentation.content_hash(p.statement) for p in statements
    }


def draft_hashes(run: Run, municipalities: Sequence[Municipality]) -> dict[str, str]:
    return statement_hashes(presentation.draft_statements(run, municipalities))


async def approve_period(ctx: Ctx, period: Period) -> tuple[ApprovalOut, bool]:
    """Approve the period's draft as computed now; a retry by the same client of the same
    draft yields the approval already made (created False)."""
    try:
        async with issuing(ctx.session) as transaction:
            approval, created = await _approve(ctx, transaction, period)
    except IssueInProgress:
        raise Conflict(
            "issue_in_progress", "an issue is being made right now; ask again in a moment"
        ) from None
    return await approval_out(ctx, approval), created


async def _approve(
    ctx: Ctx, transaction: IssueTransaction, period: Period
) -> tuple[SettlementApproval, bool]:
    session = transaction.session
    if await repository.issue_of(session, period) is not None:
        raise Conflict("period_already_issued", f"{period} is issued: there is no draft to approve")
    last = await repository.last_issue(session)
    # Only a draft that could be issued is worth approving: ended, and next in sequence.
    check_issuable(
        period,
        last_issued=Period.parse(last.period) if last is not None else None,
        today=ctx.clock.today(),
    )
    run = await compute(session, period, ctx.hold_rules)
    hashes = draft_hashes(run, await repository.municipalities(session))
    digest = draft_digest(str(period), hashes)
    latest = await repository.latest_approval(session, period)
    if latest is not None and (latest.approved_by, latest.draft_sha256) == (
        ctx.principal.client_id,
        digest,
    ):
        return latest, False
    await transaction.start_writing()
    approval = SettlementApproval(
        period=str(period),
        approved_at=ctx.now,
        approved_by=ctx.principal.client_id,
        statement_hashes=hashes,
        draft_sha256=digest,
        held_courses={h.course_id: list(h.rules) for h in run.held},
    )
    await repository.add_approval(session, approval)
    await audit.record(
        session, ctx.principal, ctx.now, "settlement.approve", "settlement_approval",
        str(approval.id), detail={"period": str(period), "draft_hash": digest},
    )  # fmt: skip
    return approval, True


async def check_approved(
    ctx: Ctx, transaction: IssueTransaction, period: Period, hashes: dict[str, str]
) -> SettlementApproval | None:
    """The approval an issue of `hashes` goes ahead on (None when approval is off), or the
    409 that says why it may not."""
    if not ctx.require_approval:
        return None
    session = transaction.session
    approval = await repository.latest_approval(session, period)
    if approval is None:
        raise Conflict(
            "approval_required",
            f"{period} is not approved: a region client approves its draft "
            f"(POST /api/v1/settlements/{period}/approval), another issues it",
        )
    if approval.approved_by == ctx.principal.client_id:
        raise Conflict(
            "approval_by_same_client",
            "the client that approved the draft may not issue it: another region client issues",
            approved_by=await repository.client_name(session, approval.approved_by),
        )
    approved: dict[str, str] = approval.statement_hashes
    changed = sorted(c for c in approved.keys() | hashes.keys() if approved.get(c) != hashes.get(c))
    if changed:
        raise Conflict(
            "draft_changed_since_approval",
            f"the draft of {period} changed since it was approved (late data or a correction): "
            "approve it again",
            municipalities=changed,
        )
    return approval


async def latest_approval(ctx: Ctx, period: Period) -> ApprovalOut:
    """The period's latest approval, or 404 approval_not_found."""
    approval = await repository.latest_approval(ctx.session, period)
    if approval is None:
        raise NotFound("approval_not_found", f"{period} has no approval")
    return await approval_out(ctx, approval)


async def approval_out(
    ctx: Ctx, approval: SettlementApproval, current: dict[str, str] | None = None
) -> ApprovalOut:
    """The approval as served; with `current` (a draft's hashes now), whether they match."""
    return ApprovalOut(
        id=approval.id,
        period=approval.period,
        approved_at=approval.approved_at,
        approved_by=await repository.client_name(ctx.session, approval.approved_by) or "",
        approved_by_client_id=approval.approved_by,
        draft_hash=approval.draft_sha256,
        statements=[
            ApprovedStatementOut(municipality_code=code, hash=sha)
            for code, sha in sorted(approval.statement_hashes.items())
        ],
        matches_draft=None if current is None else current == approval.statement_hashes,
        held=[
            ApprovedHoldOut(course_id=course_id, rules=rules)
            for course_id, rules in sorted((approval.held_courses or {}).items())
        ],
    )
