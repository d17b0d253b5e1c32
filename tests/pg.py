"""PostgreSQL for the tests: reachable or not, and the test database with its role."""

from __future__ import annotations

import asyncio
import os

import asyncpg

PG_HOST = os.environ.get("IVSETTLE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("IVSETTLE_TEST_PG_PORT", "5432"))
PG_ADMIN_USER = os.environ.get("IVSETTLE_TEST_PG_ADMIN", "postgres")
PG_ADMIN_URL = f"postgresql://{PG_ADMIN_USER}@{PG_HOST}:{PG_PORT}/postgres"
TEST_ROLE = "ivsettle"


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
