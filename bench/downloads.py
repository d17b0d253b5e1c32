"""Downloads: the XLSX and PDF of the largest municipality-month, through the same use
case the API serves (first download renders and stores the file; later ones serve it).

    .venv/bin/python -m bench.downloads [--scale 1]

Uses the SQLite database that `bench.settlement --scale N --backend sqlite|both` left in
bench/ (run that first).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench._common import ROOT, bench_settings, machine, write_results
from bench.settlement import REGION
from service.access.auth import Principal
from service.access.vault import load_vault
from service.deps import Ctx
from service.domain.settlement import Period
from service.kit.clock import Clock
from service.kit.db import standalone_session
from service.kit.settings import Settings
from service.models import Statement, StatementLine
from service.settlement import downloads


async def run(scale: float) -> list[str]:
    path = ROOT / "bench" / f".settlement-{scale}.db"
    if not path.exists():
        raise SystemExit(
            f"run `python -m bench.settlement --scale {scale:g}` first ({path} is missing)"
        )
    settings = bench_settings(f"sqlite+aiosqlite:///{path}", now="2025-02-01T12:00:00+01:00")
    async with standalone_session(settings) as session:
        return await _run(session, settings, scale)


async def _run(session: AsyncSession, settings: Settings, scale: float) -> list[str]:
    period, code, count = (
        await session.execute(
            select(Statement.period, Statement.municipality_code, func.count(StatementLine.id))
            .join(StatementLine, StatementLine.statement_id == Statement.id)
            .group_by(Statement.id, Statement.period, Statement.municipality_code)
            .order_by(func.count(StatementLine.id).desc())
            .limit(1)
        )
    ).one()
    await session.rollback()
    lines = [f"largest statement at scale {scale:g}: {code} {period}, {count} lines"]
    ctx_args = (
        Principal(REGION, "bench region", "region", None),
        Clock(settings.now),
        load_vault(settings),
    )
    for fmt in ("xlsx", "pdf", "csv"):
        timings = []
        for _ in range(2):
            ctx = Ctx(session, *ctx_args)
            t0 = time.perf_counter()
            file = await downloads.statement_file(ctx, Period.parse(period), code, fmt)
            await session.commit()
            timings.append(time.perf_counter() - t0)
            session.expunge_all()  # the next download reads afresh, as a new request would
        lines.append(
            f"{fmt}: first download (render and store) {timings[0]:.2f} s, "
            f"again (stored) {timings[1]:.2f} s, {len(file.content):,} bytes (target ≤ 2 s)"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1)
    args = parser.parse_args()
    lines = asyncio.run(run(args.scale))
    print("\n".join(lines))
    write_results(
        f"downloads-{args.scale:g}",
        f"## Downloads at scale {args.scale:g} (SQLite)\n\n"
        f"Command: `.venv/bin/python -m bench.downloads --scale {args.scale:g}` (after "
        f"`bench.settlement --scale {args.scale:g}`)  \nMachine: {machine()}  \n"
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        + "\n".join(f"- {line}" for line in lines),
    )


if __name__ == "__main__":
    main()
