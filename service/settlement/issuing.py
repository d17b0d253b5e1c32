"""How an issue is stored: the transaction it runs in, and its write-once rows.

No two issues at once, and one snapshot to read: PostgreSQL serialises issuers with a
session-level advisory lock taken without waiting, reads the run's inputs in one
REPEATABLE READ snapshot, and writes in READ COMMITTED (see
`IssueTransaction.start_writing`); SQLite's single writer gives the same on the request's
own transaction. What the run reads is in service.settlement.repository.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from service.models import (
    CoursePosition,
    SettlementInput,
    SettlementIssue,
    Statement,
    StatementLine,
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
    """The payer's next statement number of `year` (gapless: one after the highest)."""
    top = await session.scalar(
        select(func.max(Statement.number)).where(
            Statement.payer_cvr == payer_cvr, Statement.number_year == year
        )
    )
    return int(top or 0) + 1


@dataclass(frozen=True)
class IssueRows:
    """The write-once rows of one issue (column → value)."""

    issue: dict[str, Any]
    inputs: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    statements: list[dict[str, Any]]
    lines: list[dict[str, Any]]


async def insert_issue(session: AsyncSession, rows: IssueRows) -> None:
    """Insert an issue's rows, each table after those it references."""
    for model, table_rows in (
        (SettlementIssue, [rows.issue]),
        (SettlementInput, rows.inputs),
        (CoursePosition, rows.positions),
        (Statement, rows.statements),
        (StatementLine, rows.lines),
    ):
        for start in range(0, len(table_rows), 2000):
            chunk = table_rows[start : start + 2000]
            if chunk:
                await session.execute(insert(model), chunk)
