"""The databases the tests run on: SQLite always; PostgreSQL where it is reachable (always
in CI), in a test database of its own role, emptied and reloaded before each test."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from service.kit.migrate import upgrade_to_head
from service.kit.settings import Settings
from service.reference.loader import load_reference
from tests.support.config import settings_for

PG_HOST = os.environ.get("IVSETTLE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("IVSETTLE_TEST_PG_PORT", "5432"))
PG_ADMIN_USER = os.environ.get("IVSETTLE_TEST_PG_ADMIN", "postgres")
PG_ADMIN_URL = f"postgresql://{PG_ADMIN_USER}@{PG_HOST}:{PG_PORT}/postgres"
TEST_ROLE = "ivsettle"
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
    """(Re)create the test database, owned by its own role; return its SQLAlchemy URL."""

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", TEST_ROLE):
                await conn.execute(f'CREATE ROLE "{TEST_ROLE}" LOGIN')
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}" OWNER "{TEST_ROLE}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return f"postgresql+asyncpg://{TEST_ROLE}@{PG_HOST}:{PG_PORT}/{name}"


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
