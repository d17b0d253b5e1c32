"""The databases the tests run on: SQLite always; PostgreSQL where it is reachable (always
in CI), in a test database of its own role, emptied and reloaded before each test."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text

from service.kit.db import create_engine
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
    engine = create_engine(settings)
    async with engine.begin() as conn:
        tables = (
            (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables "
                        "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
        await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    await engine.dispose()
    await load_reference(settings)


def _backends() -> list[str]:
    if pg_reachable():
        return ["sqlite", "postgresql"]
    if IN_CI:
        raise RuntimeError(f"CI=true but PostgreSQL is not reachable at {PG_ADMIN_URL}")
    return ["sqlite"]


BACKENDS = _backends()
"""The `database_url` fixture's parameters, probed once per run."""
