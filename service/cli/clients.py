"""`ivsettle clients create | list | revoke | rotate`: API keys bound to a role."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer

from service.access.auth import ROLES
from service.access.clients import (
    ClientRefused,
    NewClient,
    add_client,
    list_clients,
    revoke_client,
    rotate_client,
)
from service.cli.app import app, prepared_settings
from service.kit.clock import Clock
from service.kit.db import standalone_session
from service.kit.settings import Settings
from service.models import ApiClient

clients_app = typer.Typer(help="API clients (keys bound to a role and an organisation).")
app.add_typer(clients_app, name="clients")

_PARAM_HINTS = {"role": "--role", "org": "--org", "client_id": "CLIENT_ID"}


def _refused(exc: ClientRefused) -> typer.BadParameter:
    return typer.BadParameter(str(exc), param_hint=_PARAM_HINTS[exc.field])


async def _create(settings: Settings, name: str, role: str, org: str | None) -> NewClient:
    async with standalone_session(settings) as session:
        new = await add_client(session, name, role, org, Clock(settings.now).now())
        await session.commit()
        return new


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Who the client is, e.g. 'Gentofte Omsorgssystem'")],
    role: Annotated[str, typer.Option(help="hospital | municipality | region | admin")],
    org: Annotated[
        str | None, typer.Option(help="Hospital code (hospital) or kommunekode (municipality)")
    ] = None,
) -> None:
    """Create an API client; its key is printed once, on the last line."""
    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    if role in ("hospital", "municipality") and not org:
        raise typer.BadParameter(f"a {role} client needs --org", param_hint="--org")
    settings = prepared_settings()
    try:
        key = asyncio.run(_create(settings, name, role, org)).key
    except ClientRefused as exc:
        raise _refused(exc) from None
    typer.echo(
        f"created {role} client '{name}'{f' for {org}' if org else ''}; the key is shown only now:"
    )
    typer.echo(key)


@clients_app.command("list")
def clients_list() -> None:
    """List the API clients: id, role, organisation, key prefix, created, revoked."""
    settings = prepared_settings()

    async def rows() -> list[ApiClient]:
        async with standalone_session(settings) as session:
            return await list_clients(session)

    for client in asyncio.run(rows()):
        state = f"revoked {client.revoked_at:%Y-%m-%d %H:%M}" if client.revoked_at else "active"
        typer.echo(
            f"{client.id}  {client.role:<12} {client.org_code or '-':<4} {client.key_prefix:<12} "
            f"{client.created_at:%Y-%m-%d}  {state:<22} {client.name}"
        )


async def _revoke(settings: Settings, client_id: uuid.UUID) -> ApiClient:
    async with standalone_session(settings) as session:
        client = await revoke_client(session, client_id, Clock(settings.now).now())
        await session.commit()
        return client


async def _rotate(settings: Settings, client_id: uuid.UUID) -> NewClient:
    async with standalone_session(settings) as session:
        new = await rotate_client(session, client_id, Clock(settings.now).now())
        await session.commit()
        return new


@clients_app.command("revoke")
def clients_revoke(
    client_id: Annotated[uuid.UUID, typer.Argument(help="The client's id (see `clients list`)")],
) -> None:
    """Revoke a client's key; it is refused from the next request on."""
    try:
        client = asyncio.run(_revoke(prepared_settings(), client_id))
    except ClientRefused as exc:
        raise _refused(exc) from None
    typer.echo(f"revoked {client.role} client '{client.name}' ({client.id})")


@clients_app.command("rotate")
def clients_rotate(
    client_id: Annotated[uuid.UUID, typer.Argument(help="The client's id (see `clients list`)")],
) -> None:
    """Replace a client's key: the old key is revoked and a new client with the same name,
    role and organisation is created; its key is printed once, on the last line."""
    try:
        new = asyncio.run(_rotate(prepared_settings(), client_id))
    except ClientRefused as exc:
        raise _refused(exc) from None
    typer.echo(f"revoked the old key of '{new.client.name}'; the new key is shown only now:")
    typer.echo(new.key)
