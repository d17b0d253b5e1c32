"""`ivsettle verify`: recompute every issued statement from the recorded history and check
its hash.

Each issue recorded the revision of every course it read (settlement_inputs), the tariff
versions (by document hash) and price indices it used. Course versions are append-only and
each visit carries the course revision its insert made, so the courses an issue read can be
rebuilt exactly as they stood; with the lines and staircase places issued before it, the
same arithmetic (`service.settlement.run.settle`) must give the same statements, byte
for byte in their canonical JSON (RFC 8785). A second check rebuilds each statement from its
stored lines: a hash that no longer matches means a stored row was changed behind the
service's back (the write-once triggers make that take deliberate work). Each stored file
is checked against its recorded SHA-256 and against the SHA-256 its downloads' audit rows
(in the audit chain) recorded.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.chain import GENESIS, audit_link, issue_link
from service.domain.settlement import Period
from service.domain.tariff import MissingPriceIndex, OutsideAgreement
from service.models import SettlementIssue, Statement
from service.settlement import repository
from service.settlement.downloads import export_object
from service.settlement.presentation import (
    content_hash,
    draft_statements,
    issued_copy,
    stored_statements,
    trace_of,
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
    previous = {issue.id: GENESIS for issue in issues}
    for before, after in itertools.pairwise(issues):
        previous[after.id] = before.chain_sha256 or ""
    if period is not None:
        issues = [issue for issue in issues if issue.period == str(period)]
    checks = []
    for issue in issues:
        check = await _verify_issue(session, issue)
        check.problems.extend(await _chain_problems(session, issue, previous[issue.id]))
        checks.append(check)
    return checks


async def _chain_problems(
    session: AsyncSession, issue: SettlementIssue, previous: str
) -> list[str]:
    """The issue's link of the issue chain, its statements' totals and stored files."""
    problems: list[str] = []
    stored = await repository.stored_issue(session, issue)
    if issue.previous_sha256 != previous:
        problems.append(
            "settlement_issues: the issue before it in the chain is missing or changed "
            "(previous_sha256 does not match)"
        )
    audit_head = (
        (int(issue.audit_seq), issue.audit_sha256)
        if issue.audit_seq is not None and issue.audit_sha256 is not None
        else None
    )
    recomputed = issue_link(
        issue.previous_sha256 or "",
        issue.period,
        [
            (s.municipality_code, s.number_year, s.number, s.content_sha256)
            for s in stored.statements
        ],
        audit_head,
    )
    if recomputed != issue.chain_sha256:
        problems.append(
            "settlement_issues: its chain hash no longer matches its statements' hashes"
        )
    for s in stored.statements:
        lines = sum(line.amount_ore for line in stored.lines[s.id])
        if s.total_ore != lines:
            problems.append(
                f"statements: {s.municipality_code} no. {s.number} has total_ore {s.total_ore} "
                f"but its lines sum to {lines}"
            )
    problems.extend(await _file_problems(session, issue, stored.statements))
    return problems


async def _file_problems(
    session: AsyncSession, issue: SettlementIssue, statements: Sequence[Statement]
) -> list[str]:
    """Each stored file against its recorded SHA-256 and against the SHA-256 the audit
    chain recorded when it was served (a stored file is not in the issue chain: it is
    stored at its first download). Every file of a chained issue was stored by a download
    that audited its hash, so a file without one was put there behind the service's back."""
    problems: list[str] = []
    codes = {s.id: s.municipality_code for s in statements}
    served = await repository.served_file_hashes(
        session, [export_object(issue.period, code) for code in codes.values()]
    )
    for statement_id, fmt, content, sha in await repository.stored_files_of(session, list(codes)):
        code = codes[statement_id]
        actual = hashlib.sha256(content).hexdigest()
        if actual != sha:
            problems.append(
                f"statement_files: the stored {fmt} file of {code} no longer "
                "has its recorded SHA-256"
            )
        attested = served.get((export_object(issue.period, code), fmt), set())
        if attested and attested != {sha, actual}:
            problems.append(
                f"statement_files: the stored {fmt} file of {code} is not the one served "
                "(its bytes or recorded SHA-256 differ from the SHA-256 in the audit log)"
            )
        elif not attested and issue.chain_sha256:
            problems.append(
                f"statement_files: the stored {fmt} file of {code} has no download in the "
                "audit log that recorded its SHA-256 (stored behind the service's back?)"
            )
    return problems


async def verify_audit_chain(session: AsyncSession) -> list[str]:
    """Walk the audit chain: every row in place, each link recomputed, the head reached."""
    problems: list[str] = []
    seq, sha = 0, GENESIS
    async for row in repository.audit_rows(session):
        if row.chain_seq is None or row.chain_sha256 is None:
            problems.append(f"audit_events: row {row.id} is not in the audit chain")
            continue
        if row.chain_seq != seq + 1:
            problems.append(
                f"audit_events: rows {seq + 1}..{row.chain_seq - 1} of the chain are missing"
            )
            sha = row.chain_sha256  # go on from here, to find every break
        elif audit_link(sha, row.chain_seq, vars(row)) != row.chain_sha256:
            problems.append(f"audit_events: row {row.id} (chain no. {row.chain_seq}) was changed")
            sha = row.chain_sha256
        else:
            sha = row.chain_sha256
        seq = row.chain_seq
    head = await repository.audit_head(session)
    if head is None:
        problems.append("audit_chain_head: the head row is missing")
    elif head != (seq, sha):
        problems.append(
            f"audit_events: the chain ends at no. {seq} but its head says no. {head[0]} "
            "(rows removed or the head changed)"
        )
    return problems


async def verify_expected_head(session: AsyncSession, expected: str) -> list[str]:
    """That an issue has chain hash `expected` (the rest of the chain is checked by
    `verify`: anything before it changed breaks a link)."""
    if await repository.issue_with_chain_hash(session, expected) is None:
        return [
            f"settlement_issues: the expected head {expected} is not found: no issue has "
            "that chain hash (removed or changed)"
        ]
    return []


async def _verify_issue(session: AsyncSession, issue: SettlementIssue) -> IssueCheck:
    period = Period.parse(issue.period)
    stored_issue = await repository.stored_issue(session, issue)
    stored = [p.statement for p in stored_statements(stored_issue)]
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
    # The lines' traces are descriptive, not computed: check 1 holds them to the hash, and
    # the recomputed lines take them from the stored ones of their course.
    run.traces = {
        str(line.course_id): trace
        for lines in stored_issue.lines.values()
        for line in lines
        if (trace := trace_of(line)) is not None
    }
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
