"""Least privilege on PostgreSQL: the service connects as a role that owns nothing.

Two roles (README, "Database roles"):
- the **owner** owns the schema's tables; migrations run as it
  (`IVSETTLE_MIGRATION_DATABASE_URL`), then grant the service role what follows;
- the **service role** (the user of `IVSETTLE_DATABASE_URL`) may only SELECT and INSERT the
  write-once tables, SELECT, INSERT, UPDATE and DELETE the others, and read
  `alembic_version`. It cannot TRUNCATE, ALTER, DROP, create tables or lift a trigger: an
  owner's power, the second wall behind the tables' own triggers.

The write-once tables are read from the database itself: the tables with a
`<table>_no_truncate` guard (migration a1b2c3d4e5f7), so the grants always follow the
triggers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from service.kit.db import create_engine
from service.kit.settings import Settings

# Every table of the schema: whether it is write-once, whether `role` owns it (or is a
# member of its owner) and which owner's-grade privileges it holds on it.
_TABLES = text(
    "SELECT c.relname AS name, "
    "EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid "
    "        AND t.tgname = c.relname || '_no_truncate') AS write_once, "
    "pg_has_role(:role, c.relowner, 'USAGE') AS owned, "
    "array_remove(ARRAY["
    "  CASE WHEN has_table_privilege(:role, c.oid, 'UPDATE') THEN 'UPDATE' END, "
    "  CASE WHEN has_table_privilege(:role, c.oid, 'DELETE') THEN 'DELETE' END, "
    "  CASE WHEN has_table_privilege(:role, c.oid, 'TRUNCATE') THEN 'TRUNCATE' END, "
    "  CASE WHEN has_table_privilege(:role, c.oid, 'TRIGGER') THEN 'TRIGGER' END"
    "], NULL) AS beyond_insert "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
)
_READ_ONLY = frozenset({"alembic_version"})
_WRITE_ONCE_PRIVILEGES = "SELECT, INSERT"
_MUTABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


@dataclass(frozen=True)
class Grants:
    """What the grant step gave the service role."""

    role: str
    write_once: tuple[str, ...]
    mutable: tuple[str, ...]


class PrivilegeError(RuntimeError):
    """The configuration cannot give least privilege (said in the message)."""


def service_role(settings: Settings) -> str:
    """The role the service connects as: the user named in `database_url`."""
    role = make_url(settings.database_url).username
    if not role:
        raise PrivilegeError(
            "IVSETTLE_DATABASE_URL names no user: least privilege needs the service's role "
            "in it (postgresql+asyncpg://ivsettle_app@host/db)"
        )
    return role


async def grant_service_role(settings: Settings) -> Grants:
    """As the owner: take every privilege from the service role, then grant its own."""
    if settings.is_sqlite:
        raise PrivilegeError("IVSETTLE_MIGRATION_DATABASE_URL needs a PostgreSQL service URL")
    role = service_role(settings)
    owner = create_engine(Settings(database_url=settings.owner_database_url))
    try:
        async with owner.begin() as conn:
            grants = await _grant(conn, role)
    finally:
        await owner.dispose()
    return grants


async def _grant(conn: AsyncConnection, role: str) -> Grants:
    quote = conn.dialect.identifier_preparer.quote
    who = quote(role)
    if await conn.scalar(text("SELECT current_user")) == role:
        raise PrivilegeError(f"the service role {role} is the migrations' own role")
    database = await conn.scalar(text("SELECT current_database()"))
    rows = (await conn.execute(_TABLES, {"role": role})).all()
    owned = [r.name for r in rows if r.owned]
    if owned:
        raise PrivilegeError(f"the service role {role} owns {', '.join(owned)}")
    await conn.execute(text(f"GRANT CONNECT ON DATABASE {quote(database)} TO {who}"))
    await conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {who}"))
    await conn.execute(text(f"REVOKE CREATE ON SCHEMA public FROM {who}"))
    await conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}"))
    write_once, mutable = [], []
    for row in rows:
        if row.name in _READ_ONLY:
            privileges = "SELECT"
        elif row.write_once:
            privileges = _WRITE_ONCE_PRIVILEGES
            write_once.append(row.name)
        else:
            privileges = _MUTABLE_PRIVILEGES
            mutable.append(row.name)
        await conn.execute(text(f"GRANT {privileges} ON {quote(row.name)} TO {who}"))
    await conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}"))
    return Grants(role, tuple(write_once), tuple(mutable))


async def least_privilege_problems(conn: AsyncConnection) -> list[str]:
    """What keeps the connected role from least privilege, in words ([] when it holds):
    a superuser, membership of a table's owner, CREATE in the schema, or more than
    SELECT and INSERT on a write-once table. For `verify` and `migrate` to report."""
    role = await conn.scalar(text("SELECT current_user"))
    problems = []
    if await conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")):
        return [f"{role} is a superuser"]
    if await conn.scalar(text("SELECT has_schema_privilege('public', 'CREATE')")):
        problems.append(f"{role} may create tables in schema public")
    for row in (await conn.execute(_TABLES, {"role": role})).all():
        if row.owned:
            problems.append(f"{role} owns {row.name}")
        elif row.write_once and row.beyond_insert:
            problems.append(f"{role} may {', '.join(row.beyond_insert)} write-once {row.name}")
    return problems


async def service_role_problems(settings: Settings) -> list[str]:
    """`least_privilege_problems` of the service's own connection ([] on SQLite)."""
    if settings.is_sqlite:
        return []
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            return await least_privilege_problems(conn)
    finally:
        await engine.dispose()
