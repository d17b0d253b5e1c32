"""Statement and region-summary files (CSV, XLSX, PDF).

An issued statement's file is rendered once and stored (write-once); every later download
serves the stored bytes, so a file finance has filed never changes, whatever happens to the
rendering libraries. Drafts are rendered on each request and say so on every page.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from service.access import audit
from service.deps import Ctx
from service.kit.db import insert_ignoring_conflicts
from service.models import Statement, StatementFile
from service.report import region_summary_xlsx
from service.report.files import MEDIA_TYPES, render_statement, statement_filename
from service.settlement.service import get_statement, region_summary


@dataclass(frozen=True)
class File:
    content: bytes
    filename: str
    media_type: str


async def statement_file(ctx: Ctx, period: str, municipality_code: str, fmt: str) -> File:
    statement = await get_statement(ctx, period, municipality_code)
    filename = statement_filename(statement, fmt)
    if statement.state == "issued":
        content = await _stored_or_rendered(ctx, statement.period, municipality_code, fmt)
    else:
        content = render_statement(statement, fmt)
    await audit.record(
        ctx.session, ctx.principal, ctx.now, "statement.export", "statement",
        f"{statement.period}/{municipality_code}", detail={"format": fmt, "state": statement.state},
    )  # fmt: skip
    return File(content, filename, MEDIA_TYPES[fmt])


async def _stored_or_rendered(ctx: Ctx, period: str, municipality_code: str, fmt: str) -> bytes:
    session = ctx.session
    statement_id = (
        await session.scalars(
            select(Statement.id).where(
                Statement.period == period, Statement.municipality_code == municipality_code
            )
        )
    ).one()
    stored = await _stored(ctx, statement_id, fmt)
    if stored is not None:
        return stored
    statement = await get_statement(ctx, period, municipality_code)
    content = render_statement(statement, fmt)
    # Two first downloads at once: the first insert wins and both serve its bytes.
    await insert_ignoring_conflicts(
        session,
        StatementFile,
        [
            {
                "id": uuid.uuid4(),
                "statement_id": statement_id,
                "format": fmt,
                "content": content,
                "sha256": hashlib.sha256(content).hexdigest(),
                "rendered_at": ctx.now,
            }
        ],
        ["statement_id", "format"],
    )
    stored = await _stored(ctx, statement_id, fmt)
    assert stored is not None
    return stored


async def _stored(ctx: Ctx, statement_id: uuid.UUID, fmt: str) -> bytes | None:
    return (
        await ctx.session.scalars(
            select(StatementFile.content).where(
                StatementFile.statement_id == statement_id, StatementFile.format == fmt
            )
        )
    ).first()


async def region_summary_file(ctx: Ctx, period: str) -> File:
    summary = await region_summary(ctx, period)
    await audit.record(
        ctx.session, ctx.principal, ctx.now, "settlement.export", "settlement", summary.period,
        detail={"format": "xlsx", "state": summary.state},
    )  # fmt: skip
    suffix = "" if summary.state == "issued" else "-kladde"
    return File(
        region_summary_xlsx(summary),
        f"afregning-{summary.period}-region{suffix}.xlsx",
        MEDIA_TYPES["xlsx"],
    )
