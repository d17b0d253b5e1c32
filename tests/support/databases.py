"""The databases the tests run on: SQLite always; PostgreSQL where it is reachable (always
in CI), in a test database of its own role, emptied and reloaded before each test."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from service.kit.db import create_engine
from service.kit.migrate import upgrade_to_head
from service.kit.settings import Settings
from service.reference.loader import load_reference
from tests.support.config import OWNER_ROLE, SERVICE_ROLE, as_role, settings_for

PG_HOST = os.environ.get("IVSETTLE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("IVSETTLE_TEST_PG_PORT", "5432"))
PG_ADMIN_USER = os.environ.get("IVSETTLE_TEST_PG_ADMIN", "postgres")
PG_ADMIN_URL = f"postgresql://{PG_ADMIN_USER}@{PG_HOST}:{PG_PORT}/postgres"
IN_CI = os.environ.get("CI", "").lower() == "true"


def pg_reachable() -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


def ensure_test_database(name: str) -> str:
    """(Re)create the test database, owned by the owner role (the service role exists
    too, owning nothing); return the owner's SQLAlchemy URL."""

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            for role in (OWNER_ROLE, SERVICE_ROLE):
                if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                    # Another test run may make it meanwhile.
                    with contextlib.suppress(asyncpg.DuplicateObjectError):
                        await conn.execute(f'CREATE ROLE "{role}" LOGIN')
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}" OWNER "{OWNER_ROLE}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return f"postgresql+asyncpg://{OWNER_ROLE}@{PG_HOST}:{PG_PORT}/{name}"


def service_database(name: str) -> str:
    """A new test database migrated to head by its owner, the service role granted its
    privileges; returns the service role's URL (what the service connects with)."""
    owner = ensure_test_database(name)
    service = as_role(owner, SERVICE_ROLE)
    upgrade_to_head(Settings(database_url=service, migration_database_url=owner))
    return service


@asynccontextmanager
async def owner_engine(app: FastAPI) -> AsyncIterator[AsyncEngine]:
    """An engine as the tables' owner, for a test's deliberate work past the service role's
    privileges (lifting a trigger, a table lock); SQLite has one role: the app's own."""
    owner = app.state.settings.migration_database_url
    if owner is None:
        yield app.state.engine
        return
    engine = create_engine(Settings(database_url=owner))
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def owner_sessions(app: FastAPI) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on `owner_engine`."""
    async with owner_engine(app) as engine:
        yield async_sessionmaker(engine, expire_on_commit=False)


def drop_test_database(name: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def migrated_sqlite(path: Path) -> Settings:
    """A SQLite file at `path` migrated to head, with the reference data loaded; returns the
    tests' settings for it (the key file next to it)."""
    settings = settings_for(f"sqlite+aiosqlite:///{path}", path.parent)
    upgrade_to_head(settings)
    asyncio.run(load_reference(settings))
    return settings


async def reset_postgres(url: str, tmp: Path) -> None:
    """Empty every table but Alembic's and load the reference data again: a fresh database
    for one test, much faster than migrating a new one."""
    settings = settings_for(url, tmp)
    # As the superuser, with triggers off (session_replication_role = replica): the
    # write-once tables' BEFORE TRUNCATE guards refuse everyone else, as they should.
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(f"postgresql://{PG_ADMIN_USER}@{PG_HOST}:{PG_PORT}/{name}")
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                f"TRUNCATE {', '.join(t['tablename'] for t in tables)} RESTART IDENTITY CASCADE"
            )
            # The audit chain starts again (the migration's first head).
            await conn.execute(
                "INSERT INTO audit_chain_head (id, seq, sha256) VALUES (1, 0, $1)", "0" * 64
            )
    finally:
        await conn.close()
    await load_reference(settings)


def _backends() -> list[str]:
    if pg_reachable():
        return ["sqlite", "postgresql"]
    if IN_CI:
        raise RuntimeError(f"CI=true but PostgreSQL is not reachable at {PG_ADMIN_URL}")
    return ["sqlite"]


BACKENDS = _backends()
"""The `database_url` fixture's parameters, probed once per run."""
