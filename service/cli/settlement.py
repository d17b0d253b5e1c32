"""`ivsettle settle`, `export` and `verify`: a period's settlement at the command line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from service.cli.app import app, fail, prepared_settings, with_ctx
from service.deps import Ctx
from service.domain.settlement import Period
from service.domain.tariff import DomainError
from service.errors import ServiceError
from service.kit.db import standalone_session
from service.kit.settings import Settings
from service.report.files import File
from service.settlement import downloads, service
from service.settlement.approval import approve_period
from service.settlement.issue import issue_period
from service.settlement.schemas import RegionSummaryOut
from service.settlement.verify import (
    IssueCheck,
    verify,
    verify_audit_chain,
    verify_expected_head,
)


@app.command()
def settle(
    period: Annotated[str, typer.Argument(help="The period, YYYY-MM")],
    issue: Annotated[bool, typer.Option("--issue", help="Issue it (else: show the draft)")] = False,
    approve: Annotated[
        bool,
        typer.Option(
            "--approve",
            help="Approve the draft as it is now (four eyes: an API region client issues it)",
        ),
    ] = False,
) -> None:
    """Show the settlement of a period for all 29 municipalities, approve it, or issue it."""
    if issue and approve:
        raise typer.BadParameter("--approve and --issue: four eyes means two clients")
    settings = prepared_settings()

    async def work(ctx: Ctx) -> tuple[RegionSummaryOut, bool]:
        month = Period.parse(period)
        if issue:
            return await issue_period(ctx, month)
        if approve:
            _, created = await approve_period(ctx, month)
            return await service.region_summary(ctx, month), created
        return await service.region_summary(ctx, month), False

    try:
        summary, created = asyncio.run(with_ctx(settings, work))
    except (ServiceError, DomainError) as exc:
        fail(exc)
    if issue:
        state = "issued now" if created else "already issued"
    elif approve:
        state = "draft approved now" if created else "draft already approved by this client"
    else:
        state = summary.state
    typer.echo(f"Period {summary.period}: {state}; payer {summary.payer.name}")
    typer.echo(f"{'kode':<5} {'kommune':<18} {'nr.':>5} {'linjer':>6} {'i alt (kr.)':>14}")
    for m in summary.municipalities:
        number = "" if m.number is None else str(m.number)
        typer.echo(
            f"{m.municipality_code:<5} {m.municipality_name:<18} {number:>5} "
            f"{m.line_count:>6} {m.total:>14}"
        )
    typer.echo(f"{'':<5} {'I alt':<18} {'':>5} {'':>6} {summary.total:>14}")


@app.command()
def export(
    period: Annotated[str, typer.Argument(help="The period, YYYY-MM")],
    municipality: Annotated[str, typer.Option(help="Kommunekode, e.g. 157")],
    format: Annotated[
        str, typer.Option(help="csv | xlsx | pdf | oioubl (the e-invoice, XML)")
    ] = "pdf",
    output: Annotated[
        Path | None, typer.Option(help="File to write (default: a descriptive name)")
    ] = None,
) -> None:
    """Write a municipality's statement for a period as CSV, XLSX or PDF, or an issued
    statement as its OIOUBL 2.1 e-invoice (`--format oioubl`)."""
    if format not in ("csv", "xlsx", "pdf", "oioubl", "xml"):
        raise typer.BadParameter("one of csv, xlsx, pdf, oioubl", param_hint="--format")
    fmt = "xml" if format == "oioubl" else format
    settings = prepared_settings()

    async def work(ctx: Ctx) -> File:
        return await downloads.statement_file(ctx, Period.parse(period), municipality, fmt)

    try:
        file = asyncio.run(with_ctx(settings, work))
    except (ServiceError, DomainError) as exc:
        fail(exc)
    target = output or Path(file.filename)
    target.write_bytes(file.content)
    typer.echo(f"wrote {target}")


async def verify_settlements(
    settings: Settings, period: str | None, expect_head: str | None = None
) -> tuple[list[IssueCheck], list[str]]:
    """Run `verify` in one read-only snapshot (REPEATABLE READ on PostgreSQL), so an issue
    made meanwhile is either wholly seen or not at all; with the audit chain's problems
    (and the expected head's) besides."""
    wanted = Period.parse(period) if period is not None else None
    async with standalone_session(settings) as session:
        if session.get_bind().dialect.name == "postgresql":
            # Before the first statement: the transaction it begins is the snapshot.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        checks = await verify(session, wanted)
        other = await verify_audit_chain(session)
        if expect_head is not None:
            other.extend(await verify_expected_head(session, expect_head))
        return checks, other


@app.command("verify")
def verify_command(
    period: Annotated[
        str | None, typer.Argument(help="Only this period (YYYY-MM); default: every issue")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="An issue chain hash printed on a statement: fail unless an issue has it "
            "(and, as always, unless every link before it is intact)",
        ),
    ] = None,
) -> None:
    """Recompute every issued statement from the recorded history and check its hash.

    Exit code 0 when every statement checks out, 1 when any does not (run it on a schedule:
    a silent change of data or code shows up as a failed run)."""
    settings = prepared_settings()
    try:
        checks, other = asyncio.run(verify_settlements(settings, period, expect_head))
    except (ServiceError, DomainError) as exc:
        fail(exc)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "period": c.period,
                        "ok": c.ok,
                        "courses_read": c.courses_read,
                        "problems": c.problems,
                        "statements": [vars(s) for s in c.statements],
                    }
                    for c in checks
                ],
                indent=2,
            )
        )
    else:
        for c in checks:
            verdict = "verified" if c.ok else "FAILED"
            typer.echo(
                f"{c.period}  {len(c.statements)} statements  {c.courses_read} courses read  "
                f"{verdict}"
            )
            for problem in c.problems:
                typer.echo(f"  {c.period}: {problem}")
            for s in c.statements:
                for problem in s.problems:
                    typer.echo(f"  {c.period} {s.municipality_code} no. {s.number}: {problem}")
        if not checks:
            typer.echo("no issued periods to verify")
    for problem in other:
        typer.echo(f"FAILED {problem}", err=as_json)
    failed = [c.period for c in checks if not c.ok]
    if failed:
        typer.echo(f"verification failed for {', '.join(failed)}", err=True)
    if other:
        typer.echo("verification failed: " + "; ".join(other), err=True)
    if failed or other:
        raise typer.Exit(code=1)
