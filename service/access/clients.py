"""API clients: create, list, revoke and rotate; the one home used by the command line, the
demo, the simulation and the tests. Functions take a session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.access import audit
from service.access.auth import ROLES, Principal, Role, key_digest, new_api_key
from service.kit.clock import Clock
from service.kit.db import insert_ignoring_conflicts, standalone_session
from service.kit.settings import Settings
from service.models import ApiClient, Hospital, Municipality

# The operator at the command line acts as this built-in region client (it has no usable key).
CLI_CLIENT_ID = uuid.UUID("00000000-0000-4000-8000-00000000c11e")
CLI_CLIENT_NAME = "ivsettle command line"


class ClientRefused(ValueError):
    """The client cannot be made or found as asked; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class NewClient:
    client: ApiClient
    key: str  # shown once; only its hash is stored


async def add_client(
    session: AsyncSession,
    name: str,
    role: str,
    org: str | None,
    now: datetime,
    *,
    check_org: bool = True,
) -> NewClient:
    """Add a client bound to `role` (and for hospital and municipality, to `org`).

    `check_org` looks the organisation up among the reference data; only callers that have
    just loaded it themselves (the simulation) skip the look-up."""
    if role not in ROLES:
        raise ClientRefused("role", f"role must be one of {', '.join(ROLES)}")
    bound = role in ("hospital", "municipality")
    if bound and not org:
        raise ClientRefused("org", f"a {role} client needs an organisation")
    if check_org and role == "hospital" and await session.get(Hospital, org) is None:
        codes = (await session.scalars(select(Hospital.code))).all()
        raise ClientRefused("org", f"unknown hospital code; one of {', '.join(codes)}")
    if check_org and role == "municipality" and await session.get(Municipality, org) is None:
        raise ClientRefused("org", "unknown kommunekode (3 digits, one of the 29)")
    key = new_api_key()
    client = ApiClient(
        id=uuid.uuid4(),
        name=name,
        role=role,
        org_code=org if bound else None,
        key_sha256=key_digest(key),
        key_prefix=key[:12],
        created_at=now,
    )
    session.add(client)
    await session.flush()
    return NewClient(client, key)


async def principal_by_key(session: AsyncSession, key: str) -> tuple[Principal, bool] | None:
    """The client whose key this is and whether it is revoked; None for an unknown key.
    Only the key's hash is compared; a Core select of five columns (on every request)."""
    stmt = select(
        ApiClient.id, ApiClient.name, ApiClient.role, ApiClient.org_code, ApiClient.revoked_at
    ).where(ApiClient.key_sha256 == key_digest(key))
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return Principal(row.id, row.name, row.role, row.org_code), row.revoked_at is not None


def principal_of(client: ApiClient) -> Principal:
    role: Role = client.role  # type: ignore[assignment]  # stored only from ROLES
    return Principal(client.id, client.name, role, client.org_code)


async def client_names(
    session: AsyncSession, client_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Client id → its name (who corrected or released, as a page names them)."""
    if not client_ids:
        return {}
    rows = await session.execute(
        select(ApiClient.id, ApiClient.name).where(ApiClient.id.in_(set(client_ids)))
    )
    return {client_id: name for client_id, name in rows}


async def list_clients(session: AsyncSession) -> list[ApiClient]:
    stmt = select(ApiClient).order_by(ApiClient.created_at, ApiClient.name)
    return list((await session.scalars(stmt)).all())


async def revoke_client(session: AsyncSession, client_id: uuid.UUID, now: datetime) -> ApiClient:
    """Revoke a client's key at once (every request looks the key up); idempotent."""
    client = await session.get(ApiClient, client_id, with_for_update=True)
    if client is None:
        raise ClientRefused("client_id", "no API client with this id")
    if client.revoked_at is None:
        client.revoked_at = now
        await audit.record(session, None, now, "client.revoke", "api_client", client.id)
    return client


async def rotate_client(session: AsyncSession, client_id: uuid.UUID, now: datetime) -> NewClient:
    """Revoke a client's key and add a client with the same name, role and organisation."""
    old = await revoke_client(session, client_id, now)
    return await add_client(session, old.name, old.role, old.org_code, now, check_org=False)


async def command_line_principal(session: AsyncSession, now: datetime) -> Principal:
    """The built-in region client the operator acts as, so issues and exports made at the
    command line are attributed and audited like any other."""
    await insert_ignoring_conflicts(
        session,
        ApiClient,
        [
            {
                "id": CLI_CLIENT_ID,
                "name": CLI_CLIENT_NAME,
                "role": "region",
                "org_code": None,
                "key_sha256": key_digest(f"no key: {uuid.uuid4()}"),
                "key_prefix": "-",
                "created_at": now,
            }
        ],
        ["id"],
    )
    return Principal(CLI_CLIENT_ID, CLI_CLIENT_NAME, "region", None)


async def create_client(settings: Settings, name: str, role: str, org: str | None) -> str:
    """Store a new client in a transaction of its own and return its key: for callers
    outside a request (command line, demo, tests)."""
    async with standalone_session(settings) as session:
        new = await add_client(session, name, role, org, Clock(settings.now).now())
        await session.commit()
        return new.key
