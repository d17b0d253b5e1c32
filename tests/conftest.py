"""Test fixtures: every API test runs against a real SQLite file and, where reachable
(always in CI), a real PostgreSQL database, through HTTP (httpx + ASGITransport).

Isolation: SQLite tests each get a copy of a migrated template file; PostgreSQL tests
truncate every table and reload the reference data before each test.

Across the whole run a CPR guard (below) scans every log record, and every response to a
role that may not see CPR numbers, for the CPR numbers the tests gave the service; one found
fails the run.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import shutil
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from service.access.auth import key_digest, new_api_key
from service.access.vault import CprVault, new_key_text
from service.kit.migrate import upgrade_to_head
from service.kit.settings import Settings
from service.main import create_app
from service.models import ApiClient
from service.reference.loader import load_reference
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
    from service.kit.db import create_engine

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
            event_hooks=CPR_GUARD.hooks(role),
        )
        opened.append(client)
        return Api(client, role, org, client_id)

    yield make
    for client in opened:
        await client.aclose()


# --- The CPR guard -------------------------------------------------------------------------
# Registers every CPR number the tests give the service (request bodies, and everything the
# CPR vault encrypts, hashes or decrypts: simulations and the CLI too), scans the text that
# must never hold one, and fails the run on a match, naming where, never the whole number.

ROLES_WITHOUT_CPR = frozenset({"region", "admin"})
"""service.access.patients.may_see_cpr: only the referring hospital and the treating municipality
see CPR numbers (README "Patient data"); the region settles without them, admin has no
patient data at all."""

_CPR_TOKEN = re.compile(r"(?<![0-9])[0-9]{6}-?[0-9]{4}(?![0-9])")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# The tests' own HTTP client logs the URLs the tests chose (some put a CPR there on purpose).
_TEST_CLIENT_LOGGERS = frozenset({"httpx", "httpcore"})
# Loggers whose hits are reported at the end instead of failing the run (none now: aiosqlite's
# parameter trace is capped by service/db.py, shown by test_the_sqlite_driver_never_traces_...).
_KNOWN_GAP_LOGGERS: frozenset[str] = frozenset()
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


def mask_cpr(cpr: str) -> str:
    return f"{cpr[:4]}******"


class CprGuard:
    """What the tests gave the service, and every CPR-shaped token seen where none may be."""

    def __init__(self) -> None:
        self.cprs: set[str] = set()
        self.seen: dict[str, set[str]] = {}
        self.gaps: dict[str, set[str]] = {}  # the same, from known gaps (not failing the run)
        self.exposed: set[str] = set()  # responses with a CPR field set for a role without CPR
        self.test = "(outside a test)"
        self.scanned = 0

    def register(self, value: object) -> None:
        if isinstance(value, str):
            digits = value.strip().replace("-", "", 1)
            if len(digits) == 10 and digits.isdigit():
                self.cprs.add(digits)

    def scan(self, text: str, where: str, known_gap: bool = False) -> None:
        self.scanned += 1
        seen = self.gaps if known_gap else self.seen
        for match in _CPR_TOKEN.finditer(text):
            places = seen.setdefault(match.group().replace("-", ""), set())
            if len(places) < 20:
                places.add(f"{self.test}: {where}")

    def problems(self, known_gaps: bool = False) -> list[str]:
        seen = self.gaps if known_gaps else self.seen
        found = [
            f"CPR {mask_cpr(token)} in {place}"
            for token, places in sorted(seen.items())
            if token in self.cprs
            for place in sorted(places)
        ]
        return found if known_gaps else found + sorted(self.exposed)

    # -- responses ----------------------------------------------------------------------
    def hooks(self, role: str) -> dict[str, list[Callable[..., Any]]]:
        """httpx event hooks for a client of `role`."""

        async def on_request(request: httpx.Request) -> None:
            self.register_request(request)

        async def on_response(response: httpx.Response) -> None:
            await response.aread()
            self.check_response(role, response)

        return {"request": [on_request], "response": [on_response]}

    def register_request(self, request: httpx.Request) -> None:
        for name, value in request.url.params.multi_items():
            if "cpr" in name.lower():
                self.register(value)
        try:
            body = json.loads(request.content) if request.content else None
        except (httpx.RequestNotRead, ValueError):
            return
        for key, item in _json_items(body):
            if "cpr" in key.lower():
                self.register(item)

    def check_response(self, role: str, response: httpx.Response) -> None:
        request = response.request
        path = _UUID.sub("{id}", request.url.path)
        where = f"{role} {request.method} {path} -> {response.status_code}"
        # Never in a header (a Location, a file name), whoever asks.
        self.scan(str(list(response.headers.items())), f"headers of {where}")
        if role in ROLES_WITHOUT_CPR or response.status_code >= 400:
            self.scan(_body_text(response), f"body of {where}")
        if role in ROLES_WITHOUT_CPR and "json" in response.headers.get("content-type", ""):
            for key, value in _json_items(response.json()):
                if "cpr" in key.lower() and value is not None:
                    self.exposed.add(f"{self.test}: field {key!r} set in body of {where}")

    # -- logs -----------------------------------------------------------------------------
    def log_handler(self) -> logging.Handler:
        return _CprLogScanner(self)


class _CprLogScanner(logging.Handler):
    """Scans every record: message, arguments, extra fields, exception and stack text."""

    def __init__(self, guard: CprGuard) -> None:
        super().__init__(logging.DEBUG)
        self.guard = guard
        self.exceptions = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".", 1)[0] in _TEST_CLIENT_LOGGERS:
            return
        try:
            try:
                parts = [record.getMessage()]
            except Exception:  # a broken format string: scan its parts all the same
                parts = [str(record.msg)]
            parts.append(repr(record.args))
            extra = {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}
            if extra:
                parts.append(repr(extra))
            if record.exc_info:
                parts.append(self.exceptions.formatException(record.exc_info))
            if record.exc_text:
                parts.append(record.exc_text)
            if record.stack_info:
                parts.append(record.stack_info)
            self.guard.scan(
                "\n".join(parts),
                f"log {record.name} {record.levelname}",
                known_gap=record.name in _KNOWN_GAP_LOGGERS and record.levelno <= logging.DEBUG,
            )
        except Exception:
            self.handleError(record)


def _json_items(value: object) -> Iterator[tuple[str, object]]:
    """Every (key, value) of a JSON document, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), item
            yield from _json_items(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_items(item)


def _body_text(response: httpx.Response) -> str:
    """The body as text; an XLSX is unpacked (its XML is plain). A PDF's streams are
    compressed and are not read here (tests/report checks the rendered text)."""
    content_type = response.headers.get("content-type", "")
    if "spreadsheetml" in content_type:
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            return "\n".join(
                archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
            )
    if "pdf" in content_type:
        return ""
    return response.content.decode("utf-8", "replace")


CPR_GUARD = CprGuard()


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    CPR_GUARD.test = nodeid


def pytest_terminal_summary(terminalreporter: Any) -> None:
    gaps = CPR_GUARD.problems(known_gaps=True)
    if gaps:
        terminalreporter.write_sep("-", f"CPR numbers in known gaps ({len(gaps)}), not failing")
        for line in gaps[:20]:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def cpr_guard(pytestconfig: pytest.Config) -> Iterator[CprGuard]:
    """For the whole run: every log record at DEBUG (SQL echo and rows included) goes
    through the guard; the vault registers every CPR it handles. At the end, a CPR found
    where none may be fails the run."""
    root = logging.getLogger()
    handler = CPR_GUARD.log_handler()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quieted = _keep_pytest_log_capture_at_warning(pytestconfig)
    with pytest.MonkeyPatch.context() as patch:
        _register_through_the_vault(patch, CPR_GUARD)
        yield CPR_GUARD
    root.removeHandler(handler)
    root.setLevel(previous_level)
    for captured, level in quieted:
        captured.setLevel(level)
    problems = CPR_GUARD.problems()
    if problems:
        pytest.fail(
            f"CPR numbers leaked during the run ({len(problems)}):\n  " + "\n  ".join(problems),
            pytrace=False,
        )


def _keep_pytest_log_capture_at_warning(
    config: pytest.Config,
) -> list[tuple[logging.Handler, int]]:
    """The root logger now passes DEBUG on for the guard; pytest's own capture (caplog, the
    "Captured log" of a failed test) stays at WARNING as before, unless --log-level says."""
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    if plugin is None or getattr(plugin, "log_level", None) is not None:
        return []
    names = ["caplog_handler", "report_handler"]
    if getattr(plugin, "log_file_level", None) is None:
        names.append("log_file_handler")
    quieted = []
    for name in names:
        handler = getattr(plugin, name, None)
        if isinstance(handler, logging.Handler):
            quieted.append((handler, handler.level))
            handler.setLevel(logging.WARNING)
    return quieted


def _register_through_the_vault(patch: pytest.MonkeyPatch, guard: CprGuard) -> None:
    encrypt, lookup_hash, decrypt = CprVault.encrypt, CprVault.lookup_hash, CprVault.decrypt

    def registering_encrypt(self: CprVault, cpr: str) -> bytes:
        guard.register(cpr)
        return encrypt(self, cpr)

    def registering_lookup_hash(self: CprVault, cpr: str) -> str:
        guard.register(cpr)
        return lookup_hash(self, cpr)

    def registering_decrypt(self: CprVault, blob: bytes) -> str:
        cpr = decrypt(self, blob)
        guard.register(cpr)
        return cpr

    patch.setattr(CprVault, "encrypt", registering_encrypt)
    patch.setattr(CprVault, "lookup_hash", registering_lookup_hash)
    patch.setattr(CprVault, "decrypt", registering_decrypt)
