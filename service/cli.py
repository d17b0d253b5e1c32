"""The `ivsettle` command: serve, migrate, clients, settle, export, verify, audit, openapi."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service import audit
from service.auth import ROLES, Principal, key_digest, new_api_key
from service.clock import Clock
from service.crypto import load_vault
from service.db import create_engine, create_sessionmaker, insert_ignoring_conflicts
from service.deps import Ctx
from service.errors import ServiceError
from service.models import ApiClient, Hospital, Municipality
from service.settings import Settings, get_settings
from service.settlement.schemas import RegionSummaryOut

T = TypeVar("T")

# No local variables in tracebacks: they would print a CPR number or an API key.
app = typer.Typer(
    help="ivsettle: settlement of municipal IV treatment.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
clients_app = typer.Typer(help="API clients (keys bound to a role and an organisation).")
app.add_typer(clients_app, name="clients")


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo/--no-demo",
            help="Fill an empty embedded database with a simulated, settled region and "
            "print demo API keys (SQLite only)",
        ),
    ] = False,
) -> None:
    """Migrate the database to head, load reference data, and serve the API."""
    import uvicorn

    from service.main import create_app
    from service.migrate import prepare_database

    _logging()
    settings = get_settings()
    prepare_database(settings)
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    base = f"http://{shown_host}:{port}"
    if demo:
        if not settings.is_sqlite:
            raise typer.BadParameter("the demo fills the embedded SQLite database only")
        from service.demo import prepare_demo

        last, keys = prepare_demo(settings, typer.echo)
        typer.echo("Demo API keys (also in ivsettle-demo-keys.json):")
        for name, key in keys.items():
            typer.echo(f"  {name}: {key}")
        region_key = next(iter(keys.values()))
        typer.echo(
            f"Try: curl -H 'Authorization: Bearer {region_key}' {base}/api/v1/settlements/{last}"
        )
        typer.echo(
            f"     curl -OJ -H 'Authorization: Bearer {region_key}' "
            f"{base}/api/v1/settlements/{last}/statements/157.pdf"
        )
    typer.echo(f"ivsettle on {_describe(settings)}")
    typer.echo(f"Web pages (sign in with a key): {base}/")
    typer.echo(f"Interactive API docs: {base}/docs")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@app.command()
def migrate() -> None:
    """Migrate the database to head and load the reference data (both idempotent)."""
    from service.migrate import prepare_database

    _logging()
    settings = get_settings()
    prepare_database(settings)
    typer.echo(f"database at head: {_describe(settings)}")


def _describe(settings: Settings) -> str:
    url = settings.database_url
    if "@" in url:  # never print a password
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Who the client is, e.g. 'Gentofte Omsorgssystem'")],
    role: Annotated[str, typer.Option(help="hospital | municipality | region | admin")],
    org: Annotated[
        str | None, typer.Option(help="Hospital code (hospital) or kommunekode (municipality)")
    ] = None,
) -> None:
    """Create an API client; its key is printed once, on the last line."""
    from service.migrate import prepare_database

    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    if role in ("hospital", "municipality") and not org:
        raise typer.BadParameter(f"a {role} client needs --org", param_hint="--org")
    settings = get_settings()
    prepare_database(settings)
    key = asyncio.run(create_client(settings, name, role, org))
    typer.echo(
        f"created {role} client '{name}'{f' for {org}' if org else ''}; the key is shown only now:"
    )
    typer.echo(key)


async def create_client(settings: Settings, name: str, role: str, org: str | None) -> str:
    """Store a new client and return its key (only the hash is kept)."""
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            if role == "hospital" and await session.get(Hospital, org) is None:
                codes = (await session.scalars(select(Hospital.code))).all()
                raise typer.BadParameter(
                    f"unknown hospital code; one of {', '.join(codes)}", param_hint="--org"
                )
            if role == "municipality" and await session.get(Municipality, org) is None:
                raise typer.BadParameter(
                    "unknown kommunekode (3 digits, one of the 29)", param_hint="--org"
                )
            key = new_api_key()
            session.add(
                ApiClient(
                    id=uuid.uuid4(),
                    name=name,
                    role=role,
                    org_code=org if role in ("hospital", "municipality") else None,
                    key_sha256=key_digest(key),
                    key_prefix=key[:12],
                    created_at=Clock(settings.now).now(),
                )
            )
            await session.commit()
            return key
    finally:
        await engine.dispose()


CLI_CLIENT_ID = uuid.UUID("00000000-0000-4000-8000-00000000c11e")


async def _cli_principal(session: AsyncSession, settings: Settings) -> Principal:
    """The operator at the command line acts as a built-in region client (no usable key),
    so issues and exports made here are attributed and audited like any other."""
    await insert_ignoring_conflicts(
        session,
        ApiClient,
        [
            {
                "id": CLI_CLIENT_ID,
                "name": "ivsettle command line",
                "role": "region",
                "org_code": None,
                "key_sha256": key_digest(f"no key: {uuid.uuid4()}"),
                "key_prefix": "-",
                "created_at": Clock(settings.now).now(),
            }
        ],
        ["id"],
    )
    return Principal(CLI_CLIENT_ID, "ivsettle command line", "region", None)


async def _with_ctx(settings: Settings, work: Callable[[Ctx], Awaitable[T]]) -> T:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            principal = await _cli_principal(session, settings)
            ctx = Ctx(session, principal, Clock(settings.now), load_vault(settings))
            result = await work(ctx)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def _fail(exc: ServiceError) -> NoReturn:
    typer.echo(f"error: {exc.code}: {exc.detail}", err=True)
    raise typer.Exit(code=1)


@clients_app.command("list")
def clients_list() -> None:
    """List the API clients: id, role, organisation, key prefix, created, revoked."""
    from service.migrate import prepare_database

    settings = get_settings()
    prepare_database(settings)

    async def rows() -> list[ApiClient]:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                stmt = select(ApiClient).order_by(ApiClient.created_at, ApiClient.name)
                return list((await session.scalars(stmt)).all())
        finally:
            await engine.dispose()

    for client in asyncio.run(rows()):
        state = f"revoked {client.revoked_at:%Y-%m-%d %H:%M}" if client.revoked_at else "active"
        typer.echo(
            f"{client.id}  {client.role:<12} {client.org_code or '-':<4} {client.key_prefix:<12} "
            f"{client.created_at:%Y-%m-%d}  {state:<22} {client.name}"
        )


async def revoke_client(settings: Settings, client_id: uuid.UUID) -> ApiClient:
    """Revoke a client's key at once (every request looks the key up); idempotent."""
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            client = await session.get(ApiClient, client_id, with_for_update=True)
            if client is None:
                raise typer.BadParameter("no API client with this id", param_hint="CLIENT_ID")
            if client.revoked_at is None:
                client.revoked_at = Clock(settings.now).now()
                await audit.record(
                    session, None, client.revoked_at, "client.revoke", "api_client", client.id
                )
            await session.commit()
            return client
    finally:
        await engine.dispose()


@clients_app.command("revoke")
def clients_revoke(
    client_id: Annotated[uuid.UUID, typer.Argument(help="The client's id (see `clients list`)")],
) -> None:
    """Revoke a client's key; it is refused from the next request on."""
    client = asyncio.run(revoke_client(get_settings(), client_id))
    typer.echo(f"revoked {client.role} client '{client.name}' ({client.id})")


@clients_app.command("rotate")
def clients_rotate(
    client_id: Annotated[uuid.UUID, typer.Argument(help="The client's id (see `clients list`)")],
) -> None:
    """Replace a client's key: the old key is revoked and a new client with the same name,
    role and organisation is created; its key is printed once, on the last line."""
    settings = get_settings()
    old = asyncio.run(revoke_client(settings, client_id))
    key = asyncio.run(create_client(settings, old.name, old.role, old.org_code))
    typer.echo(f"revoked the old key of '{old.name}'; the new key is shown only now:")
    typer.echo(key)


@app.command()
def settle(
    period: Annotated[str, typer.Argument(help="The period, YYYY-MM")],
    issue: Annotated[bool, typer.Option("--issue", help="Issue it (else: show the draft)")] = False,
) -> None:
    """Show the settlement of a period for all 29 municipalities, or issue it."""
    from service.migrate import prepare_database
    from service.settlement import service as settlement

    settings = get_settings()
    prepare_database(settings)

    async def work(ctx: Ctx) -> tuple[RegionSummaryOut, bool]:
        if issue:
            return await settlement.issue_period(ctx, period)
        return await settlement.region_summary(ctx, period), False

    try:
        summary, created = asyncio.run(_with_ctx(settings, work))
    except ServiceError as exc:
        _fail(exc)
    state = summary.state if not issue else ("issued now" if created else "already issued")
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
    format: Annotated[str, typer.Option(help="csv | xlsx | pdf")] = "pdf",
    output: Annotated[
        Path | None, typer.Option(help="File to write (default: a descriptive name)")
    ] = None,
) -> None:
    """Write a municipality's statement for a period as CSV, XLSX or PDF."""
    from service.migrate import prepare_database
    from service.settlement import downloads

    if format not in ("csv", "xlsx", "pdf"):
        raise typer.BadParameter("one of csv, xlsx, pdf", param_hint="--format")
    settings = get_settings()
    prepare_database(settings)

    async def work(ctx: Ctx) -> downloads.File:
        return await downloads.statement_file(ctx, period, municipality, format)

    try:
        file = asyncio.run(_with_ctx(settings, work))
    except ServiceError as exc:
        _fail(exc)
    target = output or Path(file.filename)
    target.write_bytes(file.content)
    typer.echo(f"wrote {target}")


async def verify_settlements(settings: Settings, period: str | None) -> list[Any]:
    """Run `verify` in one read-only snapshot (REPEATABLE READ on PostgreSQL), so an issue
    made meanwhile is either wholly seen or not at all."""
    from service.settlement.service import parse_period
    from service.settlement.verify import verify

    wanted = parse_period(period) if period is not None else None
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                await conn.execution_options(isolation_level="REPEATABLE READ")
            async with AsyncSession(bind=conn) as session:
                return await verify(session, wanted)
    finally:
        await engine.dispose()


@app.command("verify")
def verify_command(
    period: Annotated[
        str | None, typer.Argument(help="Only this period (YYYY-MM); default: every issue")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Recompute every issued statement from the recorded history and check its hash.

    Exit code 0 when every statement checks out, 1 when any does not (run it on a schedule:
    a silent change of data or code shows up as a failed run)."""
    from service.migrate import prepare_database

    settings = get_settings()
    prepare_database(settings)
    try:
        checks = asyncio.run(verify_settlements(settings, period))
    except ServiceError as exc:
        _fail(exc)
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
    failed = [c.period for c in checks if not c.ok]
    if failed:
        typer.echo(f"verification failed for {', '.join(failed)}", err=True)
        raise typer.Exit(code=1)


@app.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write it")] = Path(
        "contracts/openapi.json"
    ),
) -> None:
    """Export the OpenAPI document of the running code (the contract clients are written to)."""
    output.write_text(openapi_text() + "\n", encoding="utf-8")
    typer.echo(f"wrote {output}")


def openapi_text() -> str:
    from service.main import create_app

    settings = Settings(
        database_url="sqlite+aiosqlite:///:memory:", cpr_key=_ZERO_KEY, cpr_hash_key=_ZERO_KEY
    )
    return json.dumps(create_app(settings).openapi(), indent=2, ensure_ascii=False, sort_keys=True)


_ZERO_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


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
    from service.domain.settlement import InvalidPeriod, Period
    from service.migrate import prepare_database
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
    settings = get_settings()
    prepare_database(settings)
    typer.echo(
        f"simulating {months} month(s) from {first}, about {options.course_count} courses, "
        f"seed {seed}, on {_describe(settings)}"
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


@app.command("audit")
def audit_command(
    patient: Annotated[
        str, typer.Option(help="The patient's CPR number (DDMMYY-SSSS); it is never printed")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table")] = False,
) -> None:
    """Who looked at a patient's data: time, client, role, organisation, action, object and
    request id of every audit event about the patient. The reading is audited too."""
    from service.audit_report import UnknownPatient, render_table, run
    from service.domain.cpr import InvalidCpr
    from service.migrate import prepare_database

    settings = get_settings()
    prepare_database(settings)
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


def main() -> None:
    app()
