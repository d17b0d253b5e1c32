"""Least privilege on PostgreSQL, the second wall behind the write-once triggers: the
service connects as a role that owns nothing and may only SELECT and INSERT the write-once
tables; the migrations run as the owner and grant it that (service/kit/privileges.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.kit.migrate import upgrade_to_head
from service.kit.privileges import (
    PrivilegeError,
    grant_service_role,
    least_privilege_problems,
    service_role_problems,
)
from service.kit.settings import Settings
from tests.support.api import MakeApi
from tests.support.cli import run_cli
from tests.support.config import OWNER_ROLE, SERVICE_ROLE, service_env
from tests.support.databases import owner_engine, owner_sessions
from tests.test_verify import _history

WRITE_ONCE = {
    "audit_events",
    "course_hold_releases",
    "course_positions",
    "course_versions",
    "events",
    "settlement_approvals",
    "settlement_inputs",
    "settlement_issues",
    "statement_files",
    "statement_lines",
    "statements",
    "visits",
}

# What only an owner (or a superuser) may do: each must be refused to the service role.
OWNERS_WORK = (
    "TRUNCATE audit_events",
    "TRUNCATE settlement_issues CASCADE",
    "ALTER TABLE visits DISABLE TRIGGER visits_append_only",
    "ALTER TABLE statements DISABLE TRIGGER ALL",
    "DROP TRIGGER statements_write_once ON statements",
    "ALTER TABLE statements ADD COLUMN forged integer",
    "DROP TABLE statement_files",
    "CREATE TABLE shadow (id integer)",
    "UPDATE statements SET total_ore = 0",
    "DELETE FROM settlement_issues",
    "UPDATE audit_events SET action = 'forged'",
    "DELETE FROM visits",
    "UPDATE alembic_version SET version_num = 'forged'",
    "SET session_replication_role = replica",
)


@pytest.fixture
def pg(app: FastAPI) -> FastAPI:
    if app.state.engine.dialect.name != "postgresql":
        pytest.skip("roles and grants are PostgreSQL's")
    return app


async def _refusal(app: FastAPI, sql: str) -> str:
    async with app.state.sessionmaker() as session:
        with pytest.raises(DBAPIError) as refused:
            await session.execute(text(sql))
        await session.rollback()
    return str(refused.value.orig)


async def test_the_service_role_may_do_none_of_an_owners_work(pg: FastAPI, api: MakeApi) -> None:
    await _history(pg, api)  # issued periods, files, audit rows: something to attack
    for sql in OWNERS_WORK:
        refusal = await _refusal(pg, sql)
        assert "permission denied" in refusal or "must be owner" in refusal, (sql, refusal)
    async with pg.state.sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM settlement_issues")) == 3


async def test_the_service_connects_with_least_privilege(pg: FastAPI) -> None:
    async with pg.state.engine.connect() as conn:
        assert await conn.scalar(text("SELECT current_user")) == SERVICE_ROLE
        assert await least_privilege_problems(conn) == []
    async with owner_engine(pg) as owner, owner.connect() as conn:
        as_owner = await least_privilege_problems(conn)
    assert {p.removeprefix(f"{OWNER_ROLE} owns ") for p in as_owner} >= WRITE_ONCE


async def test_the_grants_follow_the_write_once_guards(pg: FastAPI, settings: Settings) -> None:
    async with pg.state.sessionmaker() as session:
        privileges = {
            row.table_name: set(row.privileges)
            for row in await session.execute(
                text(
                    "SELECT table_name, array_agg(privilege_type::text) AS privileges "
                    "FROM information_schema.role_table_grants "
                    "WHERE grantee = current_user GROUP BY table_name"
                )
            )
        }
    assert {t for t, p in privileges.items() if p == {"SELECT", "INSERT"}} == WRITE_ONCE
    assert privileges["alembic_version"] == {"SELECT"}
    assert privileges["courses"] == {"SELECT", "INSERT", "UPDATE", "DELETE"}


@pytest.fixture
async def owner_made_tables(pg: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """Drops what the test made in the test run's database, and grants afresh."""
    yield
    async with owner_sessions(pg) as sessions, sessions() as session:
        await session.execute(text("DROP TABLE IF EXISTS later_ledger, later_notes"))
        await session.execute(text("DROP FUNCTION IF EXISTS refuse_later_truncate()"))
        await session.commit()
    await grant_service_role(settings)


async def test_each_migration_grants_again_and_takes_back_the_extra(
    pg: FastAPI, settings: Settings, owner_made_tables: None
) -> None:
    """A later migration's table gets its grants (write-once by its truncate guard), and a
    privilege granted by hand beyond the service's is taken back."""
    async with owner_sessions(pg) as sessions, sessions() as session:
        for sql in (
            "CREATE TABLE later_ledger (id integer)",
            "CREATE TABLE later_notes (id integer)",
            "CREATE FUNCTION refuse_later_truncate() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'no'; END; $$ LANGUAGE plpgsql",
            "CREATE TRIGGER later_ledger_no_truncate BEFORE TRUNCATE ON later_ledger "
            "FOR EACH STATEMENT EXECUTE FUNCTION refuse_later_truncate()",
            f"GRANT UPDATE, DELETE ON statements TO {SERVICE_ROLE}",
        ):
            await session.execute(text(sql))
        await session.commit()
    async with pg.state.engine.connect() as conn:
        assert await least_privilege_problems(conn) == [
            f"{SERVICE_ROLE} may UPDATE, DELETE write-once statements"
        ]
    await asyncio.to_thread(upgrade_to_head, settings)
    async with pg.state.engine.connect() as conn:
        assert await least_privilege_problems(conn) == []
        await conn.execute(text("INSERT INTO later_ledger VALUES (1)"))
        await conn.execute(text("UPDATE later_notes SET id = 2"))
        await conn.rollback()
    assert "permission denied" in await _refusal(pg, "UPDATE later_ledger SET id = 2")


async def test_misconfigured_roles_are_refused_or_reported(pg: FastAPI, settings: Settings) -> None:
    owner = settings.owner_database_url
    with pytest.raises(PrivilegeError, match="the migrations' own role"):
        await grant_service_role(Settings(database_url=owner, migration_database_url=owner))
    with pytest.raises(PrivilegeError, match="names no user"):
        await grant_service_role(
            Settings(database_url="postgresql+asyncpg:///x", migration_database_url=owner)
        )
    with pytest.raises(ValidationError, match="PostgreSQL only"):
        Settings(migration_database_url="sqlite+aiosqlite:///x.db")
    assert any(
        "owns statements" in p for p in await service_role_problems(Settings(database_url=owner))
    )


def test_migrate_reports_the_service_roles_privileges(
    pg: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    env = os.environ | service_env(settings.database_url)
    ok = run_cli(env, tmp_path, "migrate")
    assert ok.returncode == 0, ok.stderr
    assert f"service role {SERVICE_ROLE}: SELECT, INSERT on 12 write-once tables" in ok.stdout, (
        ok.stdout
    )
    assert "owns nothing" in ok.stdout and "warning" not in ok.stderr
    # One role for both (no IVSETTLE_MIGRATION_DATABASE_URL): it works, and says what is lost.
    one_role = os.environ | service_env(settings.database_url)
    one_role["IVSETTLE_DATABASE_URL"] = settings.owner_database_url
    del one_role["IVSETTLE_MIGRATION_DATABASE_URL"]
    warned = run_cli(one_role, tmp_path, "migrate")
    assert warned.returncode == 0, warned.stderr
    assert f"warning: least privilege does not hold: {OWNER_ROLE} owns statements" in warned.stderr
