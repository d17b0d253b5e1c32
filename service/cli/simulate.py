"""`ivsettle simulate`: realistic activity for the region, through the service's use cases."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from service.cli.app import app, describe, prepared_settings
from service.domain.settlement import InvalidPeriod, Period


@app.command()
def simulate(
    start: Annotated[str, typer.Option(help="First simulated month, YYYY-MM")] = "2024-01",
    months: Annotated[int, typer.Option(min=1, help="How many months")] = 12,
    courses_per_year: Annotated[
        int, typer.Option(min=0, help="Courses a year (the agreement's estimate, §3.1)")
    ] = 5700,
    scale: Annotated[float, typer.Option(help="Multiplies courses a year, e.g. 0.1")] = 1.0,
    seed: Annotated[int, typer.Option(help="The same seed gives the same activity")] = 1,
    issue: Annotated[bool, typer.Option("--issue/--no-issue", help="Issue each month")] = True,
) -> None:
    """Fill a fresh database with realistic activity for the region, through the service's
    own use cases (referrals, visitation, visits, completions, corrections, issues)."""
    from service.simulation.plan import SimulationOptions
    from service.simulation.run import SimulationRefused
    from service.simulation.run import simulate as run_simulation

    try:
        first = Period.parse(start)
    except InvalidPeriod:
        raise typer.BadParameter("a month is written YYYY-MM", param_hint="--start") from None
    if not scale > 0:
        raise typer.BadParameter("the scale must be above 0", param_hint="--scale")
    options = SimulationOptions(first, months, courses_per_year, scale, seed, issue)
    settings = prepared_settings()
    typer.echo(
        f"simulating {months} month(s) from {first}, about {options.course_count} courses, "
        f"seed {seed}, on {describe(settings)}"
    )
    try:
        summary = asyncio.run(run_simulation(settings, options, progress=typer.echo))
    except SimulationRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    for line in summary.lines():
        typer.echo(line)
    for error in summary.errors[:10]:
        typer.echo(f"  {error}", err=True)
    if summary.errors:
        raise typer.Exit(code=1)
