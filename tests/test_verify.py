"""Reproducible statements: every issue recomputed from the recorded history gives the
statements that were issued, hash for hash; a silent change of the history or of a stored
line is found. On both databases, and through the `ivsettle verify` command."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import rfc8785
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.settlement import Period
from service.kit.settings import Settings
from service.main import create_app
from service.settlement.verify import IssueCheck, verify
from tests.support.api import Api, MakeApi, new_api
from tests.support.cli import run_cli
from tests.support.config import NOW, service_env
from tests.support.databases import owner_sessions
from tests.support.factories import CPR_A, CPR_B, CPR_C, at, issue, make_course, visit


async def _checks(app: FastAPI, period: str | None = None) -> list[IssueCheck]:
    async with app.state.sessionmaker() as session:
        return await verify(session, Period.parse(period) if period else None)


async def _history(app: FastAPI, api: MakeApi) -> dict[str, Any]:
    """Three issued months with what makes settlement hard: running courses, late visits,
    a correction, a cancellation, and a visit written after its month was issued."""
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    region = await api("region")
    at(app, "2024-01-20T12:00:00+01:00")
    running = await make_course(hospital, gentofte, start_date="2024-01-10", patient_cpr=CPR_A)
    short = await make_course(
        hospital, gentofte, start_date="2024-01-12", patient_cpr=CPR_B, treatment_type="fluids"
    )
    doomed = await make_course(hospital, gentofte, start_date="2024-01-15", patient_cpr=CPR_C)
    for day in range(10, 20):
        await gentofte.post(
            f"/api/v1/courses/{running['id']}/visits",
            json=visit(f"2024-01-{day:02d}T08:00:00+01:00"),
        )
    await gentofte.post(
        f"/api/v1/courses/{doomed['id']}/visits", json=visit("2024-01-15T09:00:00+01:00")
    )
    at(app, "2024-02-03T12:00:00+01:00")
    r = await gentofte.post(
        f"/api/v1/courses/{short['id']}/complete",
        json={"end_date": "2024-01-16", "reason": "completed"},
    )
    assert r.status_code == 200, r.text
    await issue(region, "2024-01")
    # After January was issued: a late January visit, a correction, a cancellation.
    await gentofte.post(
        f"/api/v1/courses/{running['id']}/visits", json=visit("2024-01-20T08:00:00+01:00")
    )
    r = await gentofte.post(
        f"/api/v1/courses/{short['id']}/corrections",
        json={"end_date": "2024-01-25", "reason": "the nurse found more visit days"},
    )
    assert r.status_code == 200, r.text
    r = await gentofte.post(
        f"/api/v1/courses/{doomed['id']}/cancel", json={"reason": "registered twice"}
    )
    assert r.status_code == 200, r.text
    for day in range(1, 3):
        await gentofte.post(
            f"/api/v1/courses/{running['id']}/visits",
            json=visit(f"2024-02-{day:02d}T08:00:00+01:00"),
        )
    at(app, "2024-03-02T12:00:00+01:00")
    await issue(region, "2024-02")
    r = await gentofte.post(
        f"/api/v1/courses/{running['id']}/complete",
        json={"end_date": "2024-02-20", "reason": "completed"},
    )
    assert r.status_code == 200, r.text
    at(app, "2024-04-02T12:00:00+01:00")
    march = await issue(region, "2024-03")
    return {"running": running, "short": short, "doomed": doomed, "march": march}


async def test_every_issue_recomputes_from_the_history(app: FastAPI, api: MakeApi) -> None:
    await _history(app, api)
    checks = await _checks(app)
    assert [c.period for c in checks] == ["2024-01", "2024-02", "2024-03"]
    for check in checks:
        assert check.ok, (check.period, check.problems, [s.problems for s in check.statements])
        assert len(check.statements) == 29
        assert all(s.recomputed_hash == s.stored_hash for s in check.statements)
    # February had something to say (the late visit, correction, cancellation).
    assert checks[1].courses_read == 3


async def test_verify_does_not_read_the_live_tables(app: FastAPI, api: MakeApi) -> None:
    """Changing a course behind the service's back (no revision, no history) does not
    change what any issue is recomputed from."""
    made = await _history(app, api)
    async with app.state.sessionmaker() as session:
        await session.execute(
            text("UPDATE courses SET start_date = '2024-01-01' WHERE id = :id"),
            {"id": made["short"]["id"].replace("-", "")}
            if app.state.engine.dialect.name == "sqlite"
            else {"id": made["short"]["id"]},
        )
        await session.commit()
    assert all(c.ok for c in await _checks(app))


async def test_a_changed_history_is_found(app: FastAPI, api: MakeApi) -> None:
    made = await _history(app, api)
    sqlite = app.state.engine.dialect.name == "sqlite"
    course_id = made["short"]["id"].replace("-", "") if sqlite else made["short"]["id"]
    async with owner_sessions(app) as sessions, sessions() as session:
        await _update_behind_the_guard(
            session,
            "course_versions",
            "UPDATE course_versions SET end_date = '2024-01-31' "
            "WHERE course_id = :id AND change = 'corrected'",
            {"id": course_id},
        )
        await session.commit()
    checks = {c.period: c for c in await _checks(app)}
    assert checks["2024-01"].ok  # January read the course before the correction
    failed = [s for s in checks["2024-02"].statements if s.problems]
    assert [s.municipality_code for s in failed] == ["157"]
    assert "differs from what was issued" in failed[0].problems[0]


async def _update_behind_the_guard(
    session: AsyncSession, table: str, sql: str, params: dict[str, Any] | None = None
) -> None:
    """Deliberate work: the table's triggers refuse UPDATE, so lift them for this one
    statement. On PostgreSQL they are enabled again in the same transaction (the test
    database outlives this test); SQLite's file is this test's own copy."""
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        await session.execute(text(f"DROP TRIGGER {table}_no_update"))
        await session.execute(text(sql), params or {})
        return
    append_only = ("course_versions", "audit_events", "visits")
    guard = f"{table}_append_only" if table in append_only else f"{table}_write_once"
    await session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {guard}"))
    await session.execute(text(sql), params or {})
    await session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {guard}"))


async def _change_a_statement_line(session: AsyncSession) -> None:
    await _update_behind_the_guard(
        session,
        "statement_lines",
        "UPDATE statement_lines SET amount_ore = amount_ore + 100 WHERE id = "
        "(SELECT min(id) FROM statement_lines)",
    )


async def test_a_changed_statement_line_is_found(app: FastAPI, api: MakeApi) -> None:
    await _history(app, api)
    async with owner_sessions(app) as sessions, sessions() as session:
        await _change_a_statement_line(session)
        await session.commit()
    (january,) = await _checks(app, "2024-01")
    assert not january.ok
    problems = [p for s in january.statements for p in s.problems]
    assert "its stored lines no longer give the hash it was issued with" in problems


async def test_the_hash_is_rfc8785_of_the_served_json(api: MakeApi, app: FastAPI) -> None:
    """Anyone can check a statement: SHA-256 of the JCS form of the JSON the API serves,
    without its `hash` field."""
    made = await _history(app, api)
    region: Api = await api("region")
    r = await region.get("/api/v1/settlements/2024-03/statements/157")
    assert r.status_code == 200, r.text
    served = r.json()
    claimed = served.pop("hash")
    chain = served.pop("chain")
    assert hashlib.sha256(rfc8785.dumps(served)).hexdigest() == claimed
    # The issue chain: March extends February's chain hash.
    february = (await region.get("/api/v1/settlements/2024-02/statements/157")).json()
    assert chain["previous"] == february["chain"]["issue"] != chain["issue"]
    assert made["march"]["municipalities"][0]["hash"]


def test_verify_command_reports_and_fails_on_a_change(settings: Settings, tmp_path: Path) -> None:
    async def fill() -> None:
        app = create_app(settings)
        opened: list[Api] = []

        async def make(role: str, org: str | None = None) -> Api:
            opened.append(await new_api(app, f"cli {role}", role, org, NOW))
            return opened[-1]

        await _history(app, make)
        for party in opened:
            await party.client.aclose()
        await app.state.engine.dispose()

    asyncio.run(fill())
    env = os.environ | service_env(settings.database_url)
    ok = run_cli(env, tmp_path, "verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("29 statements") == 3 and ok.stdout.count("verified") == 3
    february = run_cli(env, tmp_path, "verify", "2024-02", "--json")
    assert february.returncode == 0, february.stderr
    assert [(c["period"], c["ok"]) for c in json.loads(february.stdout)] == [("2024-02", True)]

    async def tamper() -> None:
        app = create_app(settings)
        async with owner_sessions(app) as sessions, sessions() as session:
            await _change_a_statement_line(session)
            await session.commit()
        await app.state.engine.dispose()

    asyncio.run(tamper())
    failed = run_cli(env, tmp_path, "verify")
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout and "verification failed for 2024-01" in failed.stderr
