"""Statement and region-summary files (CSV, XLSX, PDF, and an issued statement's OIOUBL
e-invoice as XML).

An issued statement's file is rendered once and stored (write-once); every later download
serves the stored bytes, so a file finance has filed never changes, whatever happens to the
rendering libraries. Drafts are rendered on each request and say so on every page.
Every download of an issued statement's file records the SHA-256 of the bytes served in
its audit row (`statement.export`, detail `sha256`); the audit rows are hash-chained, so
`ivsettle verify` can tell a stored file that was changed later, with its recorded
SHA-256, from the one that was served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from service.access import audit
from service.deps import Ctx
from service.domain.settlement import Period
from service.report import region_summary_xlsx
from service.report.files import MEDIA_TYPES, File, render_statement, statement_filename
from service.settlement import einvoice, repository
from service.settlement.schemas import StatementOut
from service.settlement.service import get_statement, region_summary


async def statement_file(ctx: Ctx, period: Period, municipality_code: str, fmt: str) -> File:
    """A statement as a file (audited as `statement.read` and `statement.export`)."""
    statement = await get_statement(ctx, period, municipality_code)
    filename = statement_filename(statement, fmt)
    detail: dict[str, str] = {"format": fmt, "state": statement.state}

    async def render() -> bytes:
        if fmt == "xml":  # refused for a draft, or while master data is missing
            return await einvoice.statement_document(ctx.session, statement)
        return render_statement(statement, fmt)

    if statement.state == "issued":
        content = await _stored_or_rendered(ctx, statement, period, fmt, render)
        # The stored file is not in the issue chain (it is stored later): the audit row,
        # which is in the audit chain, records what was served (`verify` compares).
        detail["sha256"] = hashlib.sha256(content).hexdigest()
    else:
        content = await render()
    await audit.record(
        ctx.session, ctx.principal, ctx.now, "statement.export", "statement",
        export_object(statement.period, municipality_code), detail=detail,
    )  # fmt: skip
    return File(content, filename, MEDIA_TYPES[fmt])


def export_object(period: str, municipality_code: str) -> str:
    """The object id of a statement's `statement.export` audit rows ("2024-01/157")."""
    return f"{period}/{municipality_code}"


async def _stored_or_rendered(
    ctx: Ctx,
    statement: StatementOut,
    period: Period,
    fmt: str,
    render: Callable[[], Awaitable[bytes]],
) -> bytes:
    """The issued statement's stored file, rendered from `statement` (as read) and stored
    by its first download."""
    session = ctx.session
    statement_id = await repository.statement_id(session, period, statement.municipality_code)
    stored = await repository.stored_file(session, statement_id, fmt)
    if stored is not None:
        return stored
    content = await render()
    await repository.store_file(
        session, statement_id, fmt, content, hashlib.sha256(content).hexdigest(), ctx.now
    )
    # Two first downloads at once: the first insert wins and both serve its bytes.
    stored = await repository.stored_file(session, statement_id, fmt)
    assert stored is not None
    return stored


async def region_summary_file(ctx: Ctx, period: Period) -> File:
    """The region summary as XLSX (audited as `settlement.export`)."""
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
