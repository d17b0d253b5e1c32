"""Rewriting history against the real database (issue 12 item 3): refused by the
database's guards, and where someone with the owner's power gets past them, found and
named by `verify`."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.kit.settings import Settings
from service.settlement.verify import verify, verify_audit_chain
from tests.support.api import MakeApi
from tests.support.cli import run_cli
from tests.support.config import service_env
from tests.support.databases import PG_ADMIN_USER, PG_HOST, PG_PORT, owner_sessions
from tests.test_verify import _history, _update_behind_the_guard


async def _refused(app: FastAPI, sql: str, params: dict[str, Any] | None = None) -> str:
    """The error of `sql` run as the tables' owner: the guards refuse even the owner (the
    service role is refused before them, by its privileges: test_least_privilege.py)."""
    async with owner_sessions(app) as sessions, sessions() as session:
        with pytest.raises(DBAPIError) as refused:
            await session.execute(text(sql), params or {})
        await session.rollback()
    return str(refused.value)


def _pg(app: FastAPI) -> bool:
    return bool(app.state.engine.dialect.name == "postgresql")


async def test_truncate_is_refused_on_postgresql(app: FastAPI, api: MakeApi) -> None:
    if not _pg(app):
        pytest.skip("SQLite has no TRUNCATE")
    await _history(app, api)
    assert "never truncated" in await _refused(app, "TRUNCATE audit_events")
    assert "never truncated" in await _refused(app, "TRUNCATE settlement_issues CASCADE")
    assert "never truncated" in await _refused(app, "TRUNCATE visits CASCADE")


async def test_visits_are_write_once(app: FastAPI, api: MakeApi) -> None:
    await _history(app, api)
    assert "visits is append-only" in await _refused(
        app, "UPDATE visits SET duration_minutes = duration_minutes + 1"
    )
    assert "visits is append-only" in await _refused(app, "DELETE FROM visits")


async def test_insert_or_replace_cannot_rewrite_on_sqlite(app: FastAPI, api: MakeApi) -> None:
    if _pg(app):
        pytest.skip("INSERT OR REPLACE is SQLite's")
    await _history(app, api)
    region = await api("region")
    r = await region.get("/api/v1/settlements/2024-01/statements/157.csv")
    assert r.status_code == 200, r.text
    for sql in (
        "INSERT OR REPLACE INTO statement_files (id, statement_id, format, content, sha256, "
        "rendered_at) SELECT id, statement_id, format, X'00', sha256, rendered_at "
        "FROM statement_files",
        "INSERT OR REPLACE INTO statements SELECT id, issue_id, period, municipality_code, "
        "number_year, number, payer_name, payer_cvr, payer_gln, total_ore + 100, issued_at, "
        "content_sha256 FROM statements",
        "REPLACE INTO audit_events SELECT id, at, client_id, client_name, role, org_code, "
        "'forged', object_type, object_id, patient_id, request_id, detail, chain_seq, "
        "chain_sha256 FROM audit_events",
    ):
        assert "is write-once" in await _refused(app, sql) or "append-only" in await _refused(
            app, sql
        )


async def test_verify_names_what_the_owner_changed(app: FastAPI, api: MakeApi) -> None:
    await _history(app, api)
    region = await api("region")
    assert (await region.get("/api/v1/settlements/2024-01/statements/157.csv")).status_code == 200
    assert all(c.ok for c in await _checks(app)) and not await _audit(app)
    async with owner_sessions(app) as sessions, sessions() as session:
        await _update_behind_the_guard(
            session,
            "statements",
            "UPDATE statements SET total_ore = total_ore + 5000000 "
            "WHERE period = '2024-01' AND municipality_code = '157'",
        )
        await _update_behind_the_guard(
            session,
            "statement_files",
            "UPDATE statement_files SET content = :forged",
            {"forged": b"44.550,00 -> 94.550,00"},
        )
        await _update_behind_the_guard(
            session,
            "audit_events",
            "UPDATE audit_events SET action = 'forged' "
            "WHERE id = (SELECT min(id) FROM audit_events)",
        )
        await session.commit()
    (january, *_) = await _checks(app)
    problems = " | ".join(january.problems)
    assert "statements: 157 no." in problems and "total_ore" in problems
    assert "statement_files: the stored csv file of 157" in problems
    assert any("audit_events: row" in p and "was changed" in p for p in await _audit(app))


async def _checks(app: FastAPI) -> list[Any]:
    async with app.state.sessionmaker() as session:
        return await verify(session)


async def _audit(app: FastAPI) -> list[str]:
    async with app.state.sessionmaker() as session:
        return await verify_audit_chain(session)


async def test_a_file_changed_with_its_sha256_is_named(
    app: FastAPI, api: MakeApi, settings: Settings, tmp_path: Path
) -> None:
    """A stored file is not in the issue chain (it is stored at its first download), but
    the download's audit row, which is in the audit chain, recorded what was served: a file
    whose bytes and recorded SHA-256 were both rewritten is found and named."""
    await _history(app, api)
    region = await api("region")
    for fmt in ("pdf", "csv"):
        r = await region.get(f"/api/v1/settlements/2024-01/statements/157.{fmt}")
        assert r.status_code == 200, r.text
    served = (await region.get("/api/v1/settlements/2024-01/statements/157.pdf")).content
    assert all(c.ok for c in await _checks(app)) and not await _audit(app)
    forged = served.replace(b"%PDF-", b"%PDF- forged ", 1)
    async with owner_sessions(app) as sessions, sessions() as session:
        await _update_behind_the_guard(
            session,
            "statement_files",
            "UPDATE statement_files SET content = :forged, sha256 = :sha WHERE format = 'pdf'",
            {"forged": forged, "sha": hashlib.sha256(forged).hexdigest()},
        )
        await session.commit()
    (january, *later) = await _checks(app)
    assert all(c.ok for c in later) and not await _audit(app)
    assert january.problems == [
        "statement_files: the stored pdf file of 157 is not the one served (its bytes or "
        "recorded SHA-256 differ from the SHA-256 in the audit log)"
    ]
    await app.state.engine.dispose()
    failed = _cli(settings, tmp_path, "verify")
    assert failed.returncode == 1
    assert "stored pdf file of 157 is not the one served" in failed.stdout
    assert "verification failed for 2024-01" in failed.stderr


async def test_a_file_stored_without_a_download_is_named(app: FastAPI, api: MakeApi) -> None:
    """Inserting is all the write-once guards allow: a forged file put in place before
    the first download (so it would be served) has no audit row that recorded it."""
    await _history(app, api)
    forged = b"%PDF- forged"
    async with app.state.sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO statement_files (id, statement_id, format, content, sha256, "
                "rendered_at) SELECT id, id, 'pdf', :forged, :sha, issued_at FROM statements "
                "WHERE period = '2024-02' AND municipality_code = '157'"
            ),
            {"forged": forged, "sha": hashlib.sha256(forged).hexdigest()},
        )
        await session.commit()
    january, february, march = await _checks(app)
    assert january.ok and march.ok
    assert february.problems == [
        "statement_files: the stored pdf file of 157 has no download in the audit log that "
        "recorded its SHA-256 (stored behind the service's back?)"
    ]


async def test_expect_head_finds_the_current_and_an_older_head(
    app: FastAPI, api: MakeApi, settings: Settings, tmp_path: Path
) -> None:
    heads = await _heads(app, api)
    for head in (heads["2024-03"], heads["2024-01"]):
        ok = _cli(settings, tmp_path, "verify", "--expect-head", head)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert ok.stdout.count("verified") == 3
    unknown = _cli(settings, tmp_path, "verify", "--expect-head", "ab" * 32)
    assert unknown.returncode == 1
    assert f"the expected head {'ab' * 32} is not found" in unknown.stderr


async def test_removed_issues_fail_the_expected_head(
    app: FastAPI, api: MakeApi, settings: Settings, tmp_path: Path
) -> None:
    """The owner (PostgreSQL: the superuser with triggers off, TRUNCATE … CASCADE; SQLite:
    the no-delete triggers dropped) removes every issue: `verify` alone has nothing left
    to check, but the head a municipality holds from its statement is not found."""
    heads = await _heads(app, api)
    await app.state.engine.dispose()
    await _as_owner(
        app,
        pg="TRUNCATE settlement_issues CASCADE",
        sqlite=["DROP TRIGGER settlement_issues_no_delete", "DELETE FROM settlement_issues"],
    )
    failed = _cli(settings, tmp_path, "verify", "--expect-head", heads["2024-01"])
    assert failed.returncode == 1
    assert f"the expected head {heads['2024-01']} is not found" in failed.stderr


async def test_a_truncated_audit_log_is_named(
    app: FastAPI, api: MakeApi, settings: Settings, tmp_path: Path
) -> None:
    await _history(app, api)
    await app.state.engine.dispose()
    await _as_owner(
        app,
        pg="TRUNCATE audit_events",
        sqlite=["DROP TRIGGER audit_events_no_delete", "DELETE FROM audit_events"],
    )
    failed = _cli(settings, tmp_path, "verify")
    assert failed.returncode == 1
    assert "audit_events: the chain ends at no. 0 but its head says no." in failed.stdout
    assert "(rows removed or the head changed)" in failed.stderr


async def _heads(app: FastAPI, api: MakeApi) -> dict[str, str]:
    """The three months of `_history`, and the chain hash each one's statements print."""
    await _history(app, api)
    region = await api("region")
    heads = {}
    for period in ("2024-01", "2024-02", "2024-03"):
        r = await region.get(f"/api/v1/settlements/{period}/statements/157")
        assert r.status_code == 200, r.text
        heads[period] = r.json()["chain"]["issue"]
    return heads


async def _as_owner(app: FastAPI, *, pg: str, sqlite: list[str]) -> None:
    """Deliberate work past every guard: on PostgreSQL as the superuser with triggers off
    (session_replication_role = replica, which the BEFORE TRUNCATE guards obey too), on
    SQLite on the file itself with the named triggers dropped (foreign keys off)."""
    url = app.state.engine.url
    if not _pg(app):
        with sqlite3.connect(url.database, isolation_level=None) as conn:
            conn.execute("PRAGMA foreign_keys = OFF")
            for sql in sqlite:
                conn.execute(sql)
        conn.close()
        return
    conn = await asyncpg.connect(f"postgresql://{PG_ADMIN_USER}@{PG_HOST}:{PG_PORT}/{url.database}")
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(pg)
    finally:
        await conn.close()


def _cli(settings: Settings, tmp_path: Path, *args: str) -> Any:
    return run_cli(os.environ | service_env(settings.database_url), tmp_path, *args)
