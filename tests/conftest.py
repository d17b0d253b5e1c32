"""Test fixtures: every API test runs against a real SQLite file and, where reachable
(always in CI), a real PostgreSQL database, through HTTP (httpx + ASGITransport).

Isolation: SQLite tests each get a copy of a migrated template file; PostgreSQL tests
truncate every table and reload the reference data before each test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from service.auth import key_digest, new_api_key
from service.crypto import new_key_text
from service.main import create_app
from service.migrate import load_reference, upgrade_to_head
from service.models import ApiClient
from service.settings import Settings
from tests.pg import PG_ADMIN_URL, drop_test_database, ensure_test_database, pg_reachable

NOW = datetime.fromisoformat("2024-06-15T10:00:00+02:00")
CPR_KEY = new_key_text()
CPR_HASH_KEY = new_key_text()
IN_CI = os.environ.get("CI", "").lower() == "true"


def _backends() -> list[str]:
    if pg_reachable():
        return ["sqlite", "postgresql"]
    if IN_CI:
        raise RuntimeError(f"CI=true but PostgreSQL is not reachable at {PG_ADMIN_URL}")
    return ["sqlite"]


BACKENDS = _backends()


def settings_for(url: str, tmp: Path) -> Settings:
    return Settings(
        database_url=url,
        now=NOW,
        cpr_key=CPR_KEY,
        cpr_hash_key=CPR_HASH_KEY,
        key_file=tmp / "keys.json",
    )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    settings = settings_for(f"sqlite+aiosqlite:///{path}", path.parent)
    upgrade_to_head(settings)
    asyncio.run(load_reference(settings))
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    # One database per test process, so two runs on one machine never meet.
    name = f"ivsettle_test_{os.getpid()}"
    url = ensure_test_database(name)
    upgrade_to_head(Settings(database_url=url))
    yield url
    drop_test_database(name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "ivsettle.db"
        shutil.copy(template, target)
        yield f"sqlite+aiosqlite:///{target}"
    else:
        url: str = request.getfixturevalue("pg_url")
        asyncio.run(_reset_postgres(url, tmp_path))
        yield url


async def _reset_postgres(url: str, tmp: Path) -> None:
    settings = settings_for(url, tmp)
    from service.db import create_engine

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


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


@dataclass
class Api:
    """An HTTP client for one API key."""

    client: httpx.AsyncClient
    role: str
    org: str | None
    client_id: uuid.UUID

    async def get(self, url: str, **kw: object) -> httpx.Response:
        return await self.client.get(url, **kw)  # type: ignore[arg-type]

    async def post(self, url: str, **kw: object) -> httpx.Response:
        return await self.client.post(url, **kw)  # type: ignore[arg-type]

    async def put(self, url: str, **kw: object) -> httpx.Response:
        return await self.client.put(url, **kw)  # type: ignore[arg-type]

    async def patch(self, url: str, **kw: object) -> httpx.Response:
        return await self.client.patch(url, **kw)  # type: ignore[arg-type]


MakeApi = Callable[..., Awaitable[Api]]


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[MakeApi]:
    """`await api("municipality", "157")` → a client with a fresh key of that role and org."""
    opened: list[httpx.AsyncClient] = []

    async def make(role: str, org: str | None = None, key: str | None = None) -> Api:
        client_id = uuid.uuid4()
        if key is None:
            key = new_api_key()
            async with app.state.sessionmaker() as session:
                session.add(
                    ApiClient(
                        id=client_id,
                        name=f"test {role} {org or ''}".strip(),
                        role=role,
                        org_code=org,
                        key_sha256=key_digest(key),
                        key_prefix=key[:12],
                        created_at=NOW,
                    )
                )
                await session.commit()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://ivsettle.test",
            headers={"Authorization": f"Bearer {key}"},
        )
        opened.append(client)
        return Api(client, role, org, client_id)

    yield make
    for client in opened:
        await client.aclose()
