"""`ivsettle audit --patient`: who looked at a patient's data."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from service.access.audit_report import UnknownPatient, render_table, run
from service.cli.app import app, prepared_settings
from service.domain.cpr import InvalidCpr


@app.command("audit")
def audit_command(
    patient: Annotated[
        str, typer.Option(help="The patient's CPR number (DDMMYY-SSSS); it is never printed")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """Who looked at a patient's data: time, client, role, organisation, action, object and
    request id of every audit event about the patient. The reading is audited too."""
    settings = prepared_settings()
    try:
        report = asyncio.run(run(settings, patient))
    except InvalidCpr as exc:
        raise typer.BadParameter(str(exc), param_hint="--patient") from None
    except UnknownPatient as exc:
        typer.echo(f"error: unknown_patient: {exc}", err=True)
        raise typer.Exit(code=1) from None
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        typer.echo(render_table(report))
