"""Test fixtures: every API test runs against a real SQLite file and, where reachable
(always in CI), a real PostgreSQL database, through HTTP (httpx + ASGITransport).

Isolation: SQLite tests each get a copy of a migrated template file; PostgreSQL tests
truncate every table and reload the reference data before each test.

Across the whole run the CPR guard (tests/support/cpr_guard.py, loaded here as a plugin)
scans every log record, and every response to a role that may not see CPR numbers, for the
CPR numbers the tests gave the service; one found fails the run. The helpers the fixtures
use live in tests/support/.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI

from service.kit.settings import Settings
from service.main import create_app
from tests.support.api import Api, MakeApi, add_key, asgi_client
from tests.support.config import NOW, settings_for
from tests.support.databases import (
    BACKENDS,
    drop_test_database,
    migrated_sqlite,
    reset_postgres,
    service_database,
)
from tests.support.problem_record import SEEN, Answered, undocumented

if TYPE_CHECKING:
    # Only for the annotation: importing the plugin before pytest loads it would keep
    # pytest from rewriting its asserts (the `cpr_guard` fixture hands it over instead).
    from tests.support.cpr_guard import CprGuard

pytest_plugins = ["tests.support.cpr_guard"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file with the reference data, copied for every test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrated_sqlite(path)
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The PostgreSQL test database, migrated once; one per test process, so two runs on
    one machine never meet."""
    name = f"ivsettle_test_{os.getpid()}"
    url = service_database(name)
    yield url
    drop_test_database(name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each backend: a copy of the template, or PostgreSQL reset."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "ivsettle.db"
        shutil.copy(template, target)
        yield f"sqlite+aiosqlite:///{target}"
    else:
        url: str = request.getfixturevalue("pg_url")
        asyncio.run(reset_postgres(url, tmp_path))
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The service's settings for this test's database."""
    return settings_for(database_url, tmp_path)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app for this test's database; its engine disposed afterwards."""
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def api(app: FastAPI, cpr_guard: CprGuard) -> AsyncIterator[MakeApi]:
    """`await api("municipality", "157")` → a client with a fresh key of that role and org."""
    opened: list[httpx.AsyncClient] = []

    async def make(role: str, org: str | None = None, key: str | None = None) -> Api:
        client_id = uuid.uuid4()  # a key given as is belongs to no stored client
        if key is None:
            # Unchecked: some tests give the organisation of a client that should not exist.
            name = f"test {role} {org or ''}".strip()
            new = await add_key(app, name, role, org, NOW, check_org=False)
            key, client_id = new.key, new.client.id
        client = asgi_client(
            app, key, event_hooks=cpr_guard.hooks(role), raise_app_exceptions=False
        )
        opened.append(client)
        return Api(client, role, org, client_id)

    yield make
    for client in opened:
        await client.aclose()


# --- every problem answered is documented (tests/support/problem_record.py) --------------

_UNDOCUMENTED = pytest.StashKey[list[Answered]]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from service.cli import openapi_text

    missing = undocumented(SEEN, json.loads(openapi_text()))
    session.config.stash[_UNDOCUMENTED] = missing
    if missing and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    missing = terminalreporter.config.stash.get(_UNDOCUMENTED, [])
    if missing:
        terminalreporter.section("problem codes the OpenAPI document does not list", red=True)
        for a in missing:
            terminalreporter.line(f"{a.method.upper()} {a.path}: {a.status} {a.code}")
        terminalreporter.line(
            "declare them on the route with responses=problems(...) "
            "(service/kit/openapi_responses.py)"
        )
