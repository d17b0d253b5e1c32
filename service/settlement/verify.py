"""`ivsettle verify`: recompute every issued statement from the recorded history and check
its hash.

Each issue recorded the revision of every course it read (settlement_inputs), the tariff
versions (by document hash) and price indices it used. Course versions are append-only and
each visit carries the course revision its insert made, so the courses an issue read can be
rebuilt exactly as they stood; with the lines and staircase places issued before it, the
same arithmetic (`service.settlement.run.settle`) must give the same statements, byte
for byte in their canonical JSON (RFC 8785). A second check rebuilds each statement from its
stored lines: a hash that no longer matches means a stored row was changed behind the
service's back (the write-once triggers make that take deliberate work).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.settlement import Period
from service.domain.tariff import MissingPriceIndex, OutsideAgreement
from service.models import SettlementIssue
from service.settlement import repository
from service.settlement.presentation import (
    content_hash,
    draft_statements,
    issued_copy,
    stored_statements,
)
from service.settlement.run import RunInputs, settle


@dataclass
class StatementCheck:
    municipality_code: str
    number: int
    stored_hash: str
    recomputed_hash: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class IssueCheck:
    period: str
    courses_read: int
    statements: list[StatementCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not any(s.problems for s in self.statements)


async def verify(session: AsyncSession, period: Period | None = None) -> list[IssueCheck]:
    """Check every issue (or the one of `period`), oldest first."""
    issues = await repository.issues(session)
    if period is not None:
        issues = [issue for issue in issues if issue.period == str(period)]
    return [await _verify_issue(session, issue) for issue in issues]


async def _verify_issue(session: AsyncSession, issue: SettlementIssue) -> IssueCheck:
    period = Period.parse(issue.period)
    stored = [p.statement for p in stored_statements(await repository.stored_issue(session, issue))]
    checks = {
        s.municipality_code: StatementCheck(s.municipality_code, s.number or 0, s.hash or "")
        for s in stored
    }
    # 1. The stored statement still hashes to what was issued.
    for statement in stored:
        if content_hash(statement) != statement.hash:
            checks[statement.municipality_code].problems.append(
                "its stored lines no longer give the hash it was issued with"
            )
    result = IssueCheck(issue.period, issue.courses_considered, list(checks.values()))

    # 2. Recomputed from the history, the issue gives the same statements.
    revisions = await repository.inputs_of(session, issue.id)
    if len(revisions) != issue.courses_considered:
        result.problems.append(
            f"the issue read {issue.courses_considered} courses but {len(revisions)} are "
            "recorded (issued before its inputs were kept?)"
        )
        return result
    inputs, problems = await _history_inputs(session, issue, period, revisions)
    result.problems.extend(problems)
    if inputs is None:
        return result
    try:
        run = settle(inputs)
    except (MissingPriceIndex, OutsideAgreement) as exc:
        result.problems.append(f"the recorded inputs cannot be settled: {exc}")
        return result
    if await repository.placed_by(session, issue.id) != run.new_placements:
        result.problems.append("the staircase places it gave differ from the recomputed ones")
    drafts = draft_statements(
        run,
        await repository.municipalities(session),
        await repository.client_name(session, issue.issued_by),
    )
    numbers = {s.municipality_code: s for s in stored}
    for draft in (d.statement for d in drafts):
        check = checks.get(draft.municipality_code)
        if check is None:
            result.problems.append(f"no statement was stored for {draft.municipality_code}")
            continue
        original = numbers[draft.municipality_code]
        # An issued statement has its number and time; the recomputed one takes them over.
        assert original.number is not None and original.number_year is not None
        assert original.issued_at is not None
        recomputed = issued_copy(draft, original.number, original.number_year, original.issued_at)
        check.recomputed_hash = content_hash(recomputed)
        if check.recomputed_hash != check.stored_hash:
            check.problems.append("recomputed from the history it differs from what was issued")
    return result


async def _history_inputs(
    session: AsyncSession, issue: SettlementIssue, period: Period, revisions: dict[uuid.UUID, int]
) -> tuple[RunInputs | None, list[str]]:
    problems: list[str] = []
    rows, missing = await repository.courses_as_of(session, revisions)
    if missing:
        problems.append(f"{len(missing)} course(s) lack the recorded version in their history")
        return None, problems
    recorded: dict[str, str] = dict(issue.tariff_versions)
    current = await repository.tariff_fingerprint(session)
    changed = sorted(v for v, sha in recorded.items() if current.get(v) != sha)
    if changed:
        problems.append(f"tariff version(s) {', '.join(changed)} changed since the issue")
        return None, problems
    versions = [v for v in await repository.tariff_versions(session) if str(v.id) in recorded]
    ids = list(revisions)
    return (
        RunInputs(
            period=period,
            courses=rows,
            placed=await repository.positions(session, ids, before=period),
            next_free=await repository.next_free_positions(session, before=period),
            versions=versions,
            tariff_fingerprint=recorded,
            price_indices={int(year): value for year, value in issue.price_indices.items()},
            issued=await repository.issued_lines(session, ids, before=period),
            corrected=await repository.corrected_courses(session, revisions, before=period),
        ),
        problems,
    )
