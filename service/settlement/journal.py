"""The booking journal of an issued period as a file: the region's (its expense for every
municipality's statement) or one municipality's (its income), by treatment type, with the
account strings of the configuration (service.domain.journal).

Rendered at each download, not stored: it is what the issued statements (which never
change) book under the account strings configured now. Audited as `settlement.journal`.
"""

from __future__ import annotations

from collections import defaultdict

from service.deps import Ctx
from service.domain.journal import AccountsMissing, BookedStatement, Counterpart, journal
from service.domain.settlement import Period
from service.errors import Conflict, NotFound
from service.reference import repository as reference_repository
from service.report.files import MEDIA_TYPES, File
from service.report.journal import journal_csv, journal_xlsx
from service.report.labels import TREATMENT_LABELS, local_date, statement_number
from service.settlement import repository
from service.settlement.presentation import stored_statements

REGION = "region"


async def journal_file(ctx: Ctx, period: Period, side: str, fmt: str) -> File:
    """The journal of `side` ("region", or a municipality's code) for an issued period."""
    principal = ctx.principal
    if principal.role == "municipality" and side != principal.org_code:
        raise NotFound("statement_not_found", "no such journal for this client")
    session = ctx.session
    issue = await repository.issue_of(session, period)
    if issue is None:
        raise Conflict(
            "period_not_issued", f"{period} is not issued: a journal books issued statements"
        )
    only = None if side == REGION else side
    stored = await repository.stored_issue(session, issue, only)
    if not stored.statements:
        raise NotFound("statement_not_found", "no such municipality")
    booked = []
    for presented in stored_statements(stored):
        s = presented.statement
        by_type: dict[str, int] = defaultdict(int)
        for line in presented.lines:
            by_type[line.out.treatment_type] += line.amount
        assert s.issued_at is not None
        booked.append(
            BookedStatement(
                number=statement_number(s),
                period=s.period,
                municipality_code=s.municipality_code,
                municipality_name=s.municipality_name,
                payer_key=s.payer.cvr,
                payer_name=s.payer.name,
                issued_on=local_date(s.issued_at),
                by_type=dict(by_type),
            )
        )
    counterparts = {m.code: Counterpart(m.cvr, m.gln) for m in stored.municipalities.values()}
    for cvr in {b.payer_key for b in booked}:
        payer = await reference_repository.payer(session, cvr)
        counterparts[cvr] = Counterpart(cvr, payer.gln if payer is not None else None)
    try:
        entries = journal(booked, side, ctx.accounts, counterparts, TREATMENT_LABELS)
    except AccountsMissing as exc:
        raise Conflict(
            "account_string_missing",
            "the journal needs account strings that are not configured "
            '(IVSETTLE_ACCOUNTS_FILE: organisation → treatment type or "default")',
            missing=exc.missing,
        ) from None
    await ctx.audit(
        "settlement.journal", "settlement", f"{period}/{side}",
        detail={"format": fmt, "entries": len(entries)},
    )  # fmt: skip
    name = f"posteringer-{period}-{side}.{fmt}"
    if fmt == "csv":
        return File(journal_csv(entries), name, MEDIA_TYPES["csv"])
    return File(
        journal_xlsx(entries, f"Posteringer {period} {side}", issue.issued_at),
        name,
        MEDIA_TYPES["xlsx"],
    )
