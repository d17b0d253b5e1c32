"""Crashes while issuing: an issue is all or nothing.

1. In process: the issue request fails at its k-th database event (each SQL statement,
   and each COMMIT), for every k, by an exception and by the connection dying under it.
   After every failure the answer is a 5xx problem, the database holds exactly what it
   held before (or, when the failure came after the issue was stored, the whole issue),
   nothing stays locked, and issuing then succeeds with 29 gapless numbers and the totals
   of the draft. The events after the issue is stored are failed one by one as well.
2. A real server process killed (SIGKILL) while its issue is half-way written: after a
   restart the period is not issued, no number is used, and issuing succeeds.

Both run on SQLite and PostgreSQL. They look only at the HTTP contract and the tables,
not at how the issue path is built, so they hold whatever transaction or connection the
issue runs in.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection

from service.access.clients import create_client
from service.domain.money import parse_kr
from service.kit.settings import Settings
from tests.support.api import Api, MakeApi
from tests.support.cli import free_port
from tests.support.config import service_env
from tests.support.databases import owner_engine
from tests.support.factories import CPR_A, CPR_B, CPR_C, completed_course, make_course, visit

CPR_D = "1010104000"
PROBLEM_JSON = "application/problem+json"
REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


class InjectedCrash(Exception):
    """The failure the tests inject: a connection or process that stops mid-way."""


# --- in process: fail at the k-th database event -----------------------------------------


@dataclass
class Injector:
    """Counts the statements and commits the engine runs while armed and fails one of them:
    the `fail_at`-th (1-based), or the `after_stored`-th after the issue was stored (the
    first COMMIT after the first INSERT). It fails by raising, or by killing the connection
    first (then nothing more of the transaction reaches the database)."""

    fail_at: int | None = None
    after_stored: int | None = None
    kill_connection: bool = False
    armed: bool = False
    seen: list[str] = field(default_factory=list)
    stored_at: int | None = None
    fired: str | None = None

    def install(self, app: FastAPI) -> None:
        engine = app.state.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def remove(self, app: FastAPI) -> None:
        engine = app.state.engine.sync_engine
        event.remove(engine, "before_cursor_execute", self._statement)
        event.remove(engine, "commit", self._commit)

    @contextlib.contextmanager
    def arm(
        self,
        fail_at: int | None = None,
        after_stored: int | None = None,
        kill_connection: bool = False,
    ) -> Iterator[None]:
        self.fail_at, self.after_stored, self.kill_connection = (
            fail_at,
            after_stored,
            kill_connection,
        )
        self.seen, self.stored_at, self.fired, self.armed = [], None, None, True
        try:
            yield
        finally:
            self.armed = False

    def _statement(
        self, conn: Connection, _cur: Any, statement: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        self._event(conn, " ".join(statement.split())[:90])

    def _commit(self, conn: Connection) -> None:
        self._event(conn, "COMMIT")

    def _event(self, conn: Connection, what: str) -> None:
        if not self.armed:
            return
        self.seen.append(what)
        n = len(self.seen)
        hit = n == self.fail_at or (
            self.stored_at is not None and n - self.stored_at == self.after_stored
        )
        if what == "COMMIT" and self.stored_at is None and any(_writes(e) for e in self.seen):
            self.stored_at = n
        if hit and self.fired is None:
            self.fired = what
            if self.kill_connection:
                conn.invalidate()  # closes the DBAPI connection under the transaction
            raise InjectedCrash(f"event {n}: {what}")


def _writes(statement: str) -> bool:
    return statement.startswith("INSERT ")


@pytest.fixture
def injector(app: FastAPI) -> Iterator[Injector]:
    injector = Injector()
    injector.install(app)
    yield injector
    injector.remove(app)


async def fingerprint(app: FastAPI) -> dict[str, str]:
    """Every table's content, hashed: what "the old state" means, whatever tables the
    issue path writes (a failed issue must leave no row anywhere, audit included)."""
    found: dict[str, str] = {}
    async with app.state.sessionmaker() as session:
        conn = await session.connection()
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        for name in sorted(names):
            rows = (await conn.execute(text(f'SELECT * FROM "{name}"'))).all()
            digest = hashlib.sha256(repr(sorted(repr(tuple(r)) for r in rows)).encode())
            found[name] = f"{len(rows)}:{digest.hexdigest()[:16]}"
    return found


async def scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    async with app.state.sessionmaker() as session:
        return (await session.execute(text(sql), params)).scalar()


async def assert_nothing_left_held(app: FastAPI) -> None:
    """A failed request leaves no lock and no open transaction behind: else the next issue
    is refused (409 issue_in_progress) or waits, for as long as the process lives."""
    if app.state.settings.is_sqlite:
        path = app.state.settings.database_url.split("///", 1)[1]
        assert await asyncio.to_thread(_sqlite_writable_now, path), "a writer is left open"
        return
    async with app.state.engine.connect() as conn:
        held = (
            await conn.execute(
                text(
                    "SELECT l.pid, l.objid, a.state FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND a.datname = current_database()"
                )
            )
        ).all()
        assert held == [], f"advisory lock(s) left held after the request: {held}"
        open_ = (
            await conn.execute(
                text(
                    "SELECT pid, state, query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state LIKE 'idle in transaction%'"
                )
            )
        ).all()
        assert open_ == [], f"transaction(s) left open after the request: {open_}"


def _sqlite_writable_now(path: str) -> bool:
    db = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        db.close()


@dataclass(frozen=True)
class Draft:
    """What the period's draft says, to compare the issue with."""

    period: str
    totals: dict[str, int]  # municipality code → total in øre
    lines: dict[str, int]  # municipality code → line count
    first_number: int  # the number the issue must start at
    positioned: frozenset[str]  # courses on the staircase before the issue


async def draft_of(app: FastAPI, region: Api, period: str) -> Draft:
    r = await region.get(f"/api/v1/settlements/{period}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "draft"
    top = await scalar(app, "SELECT max(number) FROM statements WHERE number_year = :y",
                       y=int(period[:4]))  # fmt: skip
    async with app.state.sessionmaker() as session:
        placed = (await session.execute(text("SELECT course_id FROM course_positions"))).scalars()
        positioned = frozenset(str(c) for c in placed)
    return Draft(
        period=period,
        totals={m["municipality_code"]: parse_kr(m["total"]) for m in body["municipalities"]},
        lines={m["municipality_code"]: m["line_count"] for m in body["municipalities"]},
        first_number=int(top or 0) + 1,
        positioned=positioned,
    )


async def assert_not_issued(app: FastAPI, draft: Draft) -> None:
    """The old state, said in the agreement's words (the fingerprint checks all the rest)."""
    sql = (
        "SELECT (SELECT count(*) FROM settlement_issues WHERE period = :p), "
        "(SELECT count(*) FROM statements WHERE period = :p), "
        "(SELECT max(number) FROM statements WHERE number_year = :y), "
        "(SELECT count(*) FROM course_positions)"
    )
    async with app.state.sessionmaker() as session:
        found = await session.execute(text(sql), {"p": draft.period, "y": int(draft.period[:4])})
        issues, statements, top, positions = found.one()
    assert (issues, statements) == (0, 0), "the period is (partly) issued"
    assert int(top or 0) + 1 == draft.first_number, "a statement number was used"
    assert positions == len(draft.positioned), "a course was placed on the staircase"


async def assert_issued(app: FastAPI, draft: Draft) -> None:
    """The new state: one issue, 29 statements numbered on from the last without a gap,
    each with the draft's total and lines, and the newly billed courses on the staircase."""
    p = draft.period
    async with app.state.sessionmaker() as session:
        issues = (
            await session.execute(
                text("SELECT id FROM settlement_issues WHERE period = :p"), {"p": p}
            )
        ).all()
        assert len(issues) == 1, issues
        issue_id = issues[0][0]
        rows = (
            await session.execute(
                text(
                    "SELECT s.municipality_code, s.number, s.total_ore, "
                    "(SELECT count(*) FROM statement_lines l WHERE l.statement_id = s.id) "
                    "FROM statements s WHERE s.period = :p ORDER BY s.number"
                ),
                {"p": p},
            )
        ).all()
        placed = (
            await session.execute(
                text("SELECT course_id FROM course_positions WHERE issue_id = :i"), {"i": issue_id}
            )
        ).scalars()
        new_positions = {str(c) for c in placed}
        billed = (
            await session.execute(
                text(
                    "SELECT DISTINCT l.course_id FROM statement_lines l "
                    "JOIN statements s ON s.id = l.statement_id WHERE s.period = :p"
                ),
                {"p": p},
            )
        ).scalars()
        billed_courses = {str(c) for c in billed}
    assert len(rows) == 29
    assert [n for _, n, _, _ in rows] == list(range(draft.first_number, draft.first_number + 29))
    assert {code: total for code, _, total, _ in rows} == draft.totals
    assert {code: lines for code, _, _, lines in rows} == draft.lines
    assert new_positions == billed_courses - draft.positioned


def assert_problem_5xx(response: httpx.Response, context: str) -> None:
    assert 500 <= response.status_code < 600, f"{context}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON), context
    assert response.json()["status"] == response.status_code


async def issue_again(app: FastAPI, region: Api, draft: Draft, expected: int) -> None:
    """Issue unarmed: `expected` 201 (made now) or 200 (made before), the whole issue."""
    r = await region.post(f"/api/v1/settlements/{draft.period}/issue")
    assert r.status_code == expected, r.text
    numbers = [m["number"] for m in r.json()["municipalities"]]
    assert sorted(numbers) == list(range(draft.first_number, draft.first_number + 29))
    await assert_issued(app, draft)


@dataclass
class CrashRun:
    events: list[str]  # the events of the last attempt (the issue that succeeded, or not)
    failed_at: list[str]  # the event each failed attempt was stopped at
    stored_by_failure: bool  # whether the last failure came after the issue was stored


async def crash_at_every_event(
    app: FastAPI, injector: Injector, region: Api, period: str, kill_connection: bool
) -> CrashRun:
    """Fail the issue at event 1, 2, … on one database until an attempt runs to its end.
    A failure leaves the old state, so the next k needs no new setup; or, if it came after
    the issue was stored, the whole issue, which the next request returns (200)."""
    draft = await draft_of(app, region, period)
    before = await fingerprint(app)
    failed_at: list[str] = []
    for k in range(1, 1000):
        with injector.arm(fail_at=k, kill_connection=kill_connection):
            r = await region.post(f"/api/v1/settlements/{period}/issue")
        if injector.fired is None:  # fewer than k events: the issue ran to its end
            assert r.status_code == 201, r.text
            await assert_issued(app, draft)
            return CrashRun(injector.seen, failed_at, stored_by_failure=False)
        failed_at.append(injector.fired)
        context = f"{period}, failed at event {k} ({injector.fired})"
        assert_problem_5xx(r, context)
        await assert_nothing_left_held(app)
        if await fingerprint(app) != before:
            await assert_issued(app, draft)
            await issue_again(app, region, draft, expected=200)
            return CrashRun(injector.seen, failed_at, stored_by_failure=True)
        await assert_not_issued(app, draft)
    raise AssertionError("the issue never ran to its end")


@pytest.fixture
async def parties(api: MakeApi) -> tuple[Api, Api, Api, Api]:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    copenhagen = await api("municipality", "101")
    return hospital, gentofte, copenhagen, await api("region")


async def some_courses(hospital: Api, gentofte: Api, copenhagen: Api) -> dict[str, Any]:
    """A few courses in two municipalities: completed ones, one from February, one still
    running with visits into April."""
    march = await completed_course(
        hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A
    )
    await completed_course(hospital, gentofte, "2024-03-10", "2024-03-12", "fluids", CPR_B)
    await completed_course(hospital, copenhagen, "2024-02-20", "2024-03-03", "pump", CPR_C)
    running = await make_course(
        hospital, copenhagen, start_date="2024-03-20", treatment_type="fluids", patient_cpr=CPR_D
    )
    for day in ("2024-03-20", "2024-03-21", "2024-04-02"):
        r = await copenhagen.post(
            f"/api/v1/courses/{running['id']}/visits", json=visit(f"{day}T09:00:00+01:00")
        )
        assert r.status_code == 201, r.text
    return dict(march)


RAISE = pytest.param(False, id="raise")
DIES = pytest.param(True, id="connection-dies")
DIES_SLOW = pytest.param(True, id="connection-dies", marks=pytest.mark.slow)


@pytest.mark.parametrize("kill_connection", [RAISE, DIES_SLOW])
async def test_an_issue_failing_at_any_statement_or_commit_is_all_or_nothing(
    app: FastAPI, injector: Injector, parties: tuple[Api, Api, Api, Api], kill_connection: bool
) -> None:
    """Every k, for a first issue (2024-03) and one after it with a correction (2024-04): a
    failed issue is a 5xx that leaves the old state (or the whole issue, if it failed after
    storing it) and no lock; then the issue is made, numbered on without a gap."""
    hospital, gentofte, copenhagen, region = parties
    march_course = await some_courses(hospital, gentofte, copenhagen)

    march = await crash_at_every_event(app, injector, region, "2024-03", kill_connection)
    r = await gentofte.post(
        f"/api/v1/courses/{march_course['id']}/corrections",
        json={"end_date": "2024-04-03", "reason": "the last two days were not given"},
    )
    assert r.status_code == 200, r.text
    april = await crash_at_every_event(app, injector, region, "2024-04", kill_connection)

    for run in (march, april):
        assert len(run.events) >= 10, run.events  # the listener saw the issue path
        assert "COMMIT" in run.failed_at
        if not run.stored_by_failure:  # every event of the issue that was made was failed once
            assert len(run.failed_at) >= len(run.events)
        # Failures came after the issue had written its statements (at least at its commit).
        assert any(e.startswith("INSERT INTO statements ") for e in run.events[:-1]), run.events
    assert await scalar(app, "SELECT max(number) FROM statements") == 58  # 1–29, then 30–58


@pytest.mark.parametrize("kill_connection", [RAISE, DIES])
async def test_a_failure_after_the_issue_is_stored_keeps_it_whole(
    app: FastAPI, injector: Injector, parties: tuple[Api, Api, Api, Api], kill_connection: bool
) -> None:
    """The events after the commit that stores the issue (releasing a lock, reading the
    summary, the request's own commit) fail one by one, each on a fresh month: the answer
    is a 5xx, the issue stands whole, nothing stays locked, and asking again gives it."""
    hospital, gentofte, copenhagen, region = parties
    await some_courses(hospital, gentofte, copenhagen)
    year, month = 2024, 3
    for t in range(1, 100):
        period = f"{year}-{month:02d}"
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        app.state.clock.pinned = datetime.fromisoformat(f"{year}-{month:02d}-02T10:00:00+01:00")
        draft = await draft_of(app, region, period)
        with injector.arm(after_stored=t, kill_connection=kill_connection):
            r = await region.post(f"/api/v1/settlements/{period}/issue")
        assert injector.stored_at is not None, injector.seen
        if injector.fired is None:  # nothing more after the t-1 events: the tail is covered
            assert r.status_code == 201, r.text
            await assert_issued(app, draft)
            return
        assert_problem_5xx(r, f"{period}: failed at event {t} after the issue was stored")
        await assert_nothing_left_held(app)
        await assert_issued(app, draft)
        await issue_again(app, region, draft, expected=200)
    raise AssertionError("the issue never ran to its end")


# --- a real server, killed mid-issue -----------------------------------------------------


@dataclass
class Server:
    """An `ivsettle serve` subprocess; always killed at the end of the test."""

    env: dict[str, str]
    cwd: Path
    log: Path
    command: list[str]
    port: int = 0
    proc: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, key: str, seconds: float = 60.0) -> None:
        self.port = free_port()
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self.command, "serve", "--port", str(self.port),
                env=self.env, cwd=self.cwd, stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as client:
            while True:
                assert self.proc.returncode is None, f"the server exited:\n{self.tail()}"
                assert time.monotonic() < deadline, f"the server did not start:\n{self.tail()}"
                with contextlib.suppress(httpx.TransportError):
                    r = await client.get(f"{self.base}/api/v1/municipalities", timeout=2)
                    if r.status_code == 200:
                        return
                await asyncio.sleep(0.1)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()  # SIGKILL: no shutdown, no rollback from the process
            await asyncio.wait_for(self.proc.wait(), 10)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def client_on(
    server: Server, key: str, role: str, org: str | None, opened: list[httpx.AsyncClient]
) -> Api:
    """An `Api` that calls `server` with `key`; its client is added to `opened` (to close)."""
    client = httpx.AsyncClient(
        base_url=server.base, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    opened.append(client)
    return Api(client, role, org, uuid.uuid4())


@pytest.fixture
async def servers() -> AsyncIterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        await server.kill()


def server_env(settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVSETTLE_")}
    return env | service_env(
        settings.database_url, IVSETTLE_KEY_FILE=str(tmp_path / "keys.json"), **extra
    )


IVSETTLE = [str(Path(sys.executable).with_name("ivsettle"))]
PAUSING_IVSETTLE = [sys.executable, "-m", "tests.support.crash"]


async def poll(what: str, seconds: float, check: Callable[[], Awaitable[T | None]]) -> T:
    """Await `check()` until it returns something truthy, at most `seconds` long."""
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_server_killed_mid_issue_leaves_the_period_unissued(
    app: FastAPI, settings: Settings, servers: list[Server], tmp_path: Path
) -> None:
    """SIGKILL while the issue has written its issue row and statements but not committed:
    after a restart the period is a draft, no number is used, and issuing works.

    PostgreSQL: the real `ivsettle serve`, stopped half-way by a SHARE lock the test holds on
    statement_lines (reads pass, the issue's insert of lines waits); pg_stat_activity and
    pg_locks prove it waits there with statements already inserted. SQLite: no outside lock
    can stop a writer half-way, so `tests.support.crash` holds the process before that same insert.
    """
    postgres = not settings.is_sqlite
    keys = {
        name: await create_client(settings, f"crash test {name}", role, org)
        for name, role, org in (
            ("hospital", "hospital", "HGH"),
            ("gentofte", "municipality", "157"),
            ("copenhagen", "municipality", "101"),
            ("region", "region", None),
        )
    }
    pause_file = tmp_path / "paused.json"
    pausing = {
        "IVSETTLE_TEST_PAUSE_BEFORE": "INSERT INTO statement_lines",
        "IVSETTLE_TEST_PAUSE_FILE": str(pause_file),
        "PYTHONPATH": str(REPO),
    }
    first = Server(
        server_env(settings, tmp_path, **({} if postgres else pausing)),
        tmp_path, tmp_path / "server-1.log", IVSETTLE if postgres else PAUSING_IVSETTLE,
    )  # fmt: skip
    servers.append(first)
    await first.start(keys["region"])

    clients: list[httpx.AsyncClient] = []

    def client_for(server: Server, name: str, role: str, org: str | None) -> Api:
        return client_on(server, keys[name], role, org, clients)

    try:
        hospital = client_for(first, "hospital", "hospital", "HGH")
        gentofte = client_for(first, "gentofte", "municipality", "157")
        copenhagen = client_for(first, "copenhagen", "municipality", "101")
        region = client_for(first, "region", "region", None)
        await some_courses(hospital, gentofte, copenhagen)
        draft = await draft_of(app, region, "2024-03")
        assert sum(draft.lines.values()) >= 4
        before = await fingerprint(app)

        async with contextlib.AsyncExitStack() as stack:
            if postgres:  # as the owner: the service role may not lock a write-once table
                owner = await stack.enter_async_context(owner_engine(app))
                lock = await stack.enter_async_context(owner.connect())
                await lock.begin()
                await lock.execute(text("LOCK TABLE statement_lines IN SHARE MODE"))
            issuing = asyncio.create_task(region.post("/api/v1/settlements/2024-03/issue"))
            try:
                pid = await half_written(app, first, pause_file)
                assert not issuing.done()
                await first.kill()
            finally:
                await first.kill()  # (already done, unless something above failed)
                await asyncio.wait([issuing], timeout=10)
            assert issuing.done() and issuing.exception() is not None, "a killed server answered"
            if postgres:
                await lock.rollback()  # the insert goes on, then finds its client gone
                await poll("the killed server's backend to end", 30,
                           lambda: backend_gone(app, pid))  # fmt: skip

        assert await fingerprint(app) == before
        await assert_not_issued(app, draft)
        await assert_nothing_left_held(app)

        second = Server(server_env(settings, tmp_path), tmp_path, tmp_path / "server-2.log",
                        IVSETTLE)  # fmt: skip
        servers.append(second)
        await second.start(keys["region"])
        region = client_for(second, "region", "region", None)
        assert await draft_of(app, region, "2024-03") == draft
        r = await region.post("/api/v1/settlements/2024-03/issue")
        assert r.status_code == 201, r.text
        assert [m["number"] for m in r.json()["municipalities"]] == list(range(1, 30))
        await assert_issued(app, draft)
    finally:
        for client in clients:
            await client.aclose()


async def half_written(app: FastAPI, server: Server, pause_file: Path) -> int:
    """Wait until the server's issue has inserted its issue row and statements and waits
    (PostgreSQL: on the test's lock) or stands still (SQLite: in `tests.support.crash`) before its
    insert of lines; return the waiting backend's pid (PostgreSQL) or the server's pid."""
    if app.state.settings.is_sqlite:
        await poll("the issue to reach its insert of lines", 30,
                   lambda: asyncio.to_thread(pause_file.exists))  # fmt: skip
        paused = json.loads(await asyncio.to_thread(pause_file.read_text))
        assert server.proc is not None and paused["pid"] == server.proc.pid
        assert {"settlement_issues", "statements"} <= set(paused["inserted"]), paused
        return int(paused["pid"])
    pid, xid, written = await poll("the issue to wait on its insert of lines", 30,
                                   lambda: waiting_backend(app))  # fmt: skip
    assert xid is not None, "the waiting issue has not written yet"
    assert {"settlement_issues", "statements"} <= written, written
    return pid


async def waiting_backend(app: FastAPI) -> tuple[int, Any, set[str]] | None:
    """The backend that waits on a lock to insert statement lines: its pid, its transaction
    id (assigned only once a transaction writes), and the tables it holds write locks on."""
    async with app.state.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT pid, backend_xid::text FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                    "AND query ILIKE 'INSERT INTO statement_lines%'"
                )
            )
        ).first()
        if row is None:
            return None
        written = (
            await conn.execute(
                text(
                    "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE l.pid = :pid AND l.granted AND l.mode = 'RowExclusiveLock'"
                ),
                {"pid": row[0]},
            )
        ).scalars()
        return int(row[0]), row[1], set(written)


async def backend_gone(app: FastAPI, pid: int) -> bool:
    async with app.state.engine.connect() as conn:
        found = await conn.execute(
            text("SELECT 1 FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
        )
        return found.first() is None
