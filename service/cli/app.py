"""The `ivsettle` Typer application and what its command groups share."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import typer

from service.access.clients import command_line_principal
from service.access.vault import load_vault
from service.deps import Ctx
from service.domain.tariff import DomainError
from service.errors import ServiceError, as_service_error
from service.kit.clock import Clock
from service.kit.db import standalone_session
from service.kit.privileges import service_role_problems
from service.kit.settings import Settings, get_settings, load_accounts
from service.reference.loader import prepare_database

T = TypeVar("T")

# No local variables in tracebacks: they would print a CPR number or an API key.
app = typer.Typer(
    help="ivsettle: settlement of municipal IV treatment.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def configure_logging() -> None:
    """Log lines with time, level and logger to stderr (the service's own log is "ivsettle")."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def prepared_settings(report: bool = False) -> Settings:
    """The settings, with the database migrated to head and the reference data loaded;
    with `report`, say which privileges the service role got and where least privilege
    does not hold (service/kit/privileges.py)."""
    settings = get_settings()
    grants = prepare_database(settings)
    if report:
        if grants is not None:
            typer.echo(
                f"service role {grants.role}: SELECT, INSERT on {len(grants.write_once)} "
                f"write-once tables; SELECT, INSERT, UPDATE, DELETE on {len(grants.mutable)} "
                "others; owns nothing"
            )
        for problem in asyncio.run(service_role_problems(settings)):
            typer.echo(f"warning: least privilege does not hold: {problem}", err=True)
    return settings


def describe(settings: Settings) -> str:
    """The database URL as a command may print it: without its password."""
    url = settings.database_url
    if "@" in url:  # never print a password
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url


async def with_ctx(settings: Settings, work: Callable[[Ctx], Awaitable[T]]) -> T:
    """Run a use case as the command-line operator, in one transaction committed here."""
    async with standalone_session(settings) as session:
        clock = Clock(settings.now)
        principal = await command_line_principal(session, clock.now())
        ctx = Ctx(
            session,
            principal,
            clock,
            load_vault(settings),
            future_date_margin_days=settings.future_date_margin_days,
            require_approval=settings.require_approval,
            hold_rules=settings.hold_rules,
            accounts=load_accounts(settings.accounts_file),
        )
        result = await work(ctx)
        await session.commit()
        return result


def fail(exc: ServiceError | DomainError) -> NoReturn:
    """Report a use case's refusal as `error: <code>: <detail>` and exit 1; a domain error
    reads as the problem the API would answer (service/errors.py, DOMAIN_PROBLEMS)."""
    error = as_service_error(exc)
    extra = "".join(f"; {k}: {v}" for k, v in error.extra.items())
    typer.echo(f"error: {error.code}: {error.detail}{extra}", err=True)
    raise typer.Exit(code=1)
