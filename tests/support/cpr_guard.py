"""The CPR guard, a pytest plugin (tests/conftest.py loads it): across the whole run it
registers every CPR number the tests give the service (request bodies, and everything the
CPR vault encrypts, hashes or decrypts: simulations and the CLI too), scans the text that
must never hold one (every log record; every response header; the body of every error and
of every response to a role that may not see CPR numbers), and fails the run on a match,
naming where, never the whole number.

API clients opt in with `event_hooks=CPR_GUARD.hooks(role)`; the log handler and the vault
are wired for the whole session by the autouse `cpr_guard` fixture.
"""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from service.access.vault import CprVault

ROLES_WITHOUT_CPR = frozenset({"region", "admin"})
"""service.access.patients.may_see_cpr: only the referring hospital and the treating municipality
see CPR numbers (README "Patient data"); the region settles without them, admin has no
patient data at all."""

_CPR_TOKEN = re.compile(r"(?<![0-9])[0-9]{6}-?[0-9]{4}(?![0-9])")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# The tests' own HTTP client logs the URLs the tests chose (some put a CPR there on purpose).
_TEST_CLIENT_LOGGERS = frozenset({"httpx", "httpcore"})
# Loggers whose hits are reported at the end instead of failing the run (none now: aiosqlite's
# parameter trace is capped by service/kit/db.py, shown by test_the_sqlite_driver_never_traces_...).
_KNOWN_GAP_LOGGERS: frozenset[str] = frozenset()
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


def mask_cpr(cpr: str) -> str:
    """Enough of a CPR number to find it in the test data, not enough to be one."""
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
        """Remember `value` if it is a CPR number (with or without its hyphen)."""
        if isinstance(value, str):
            digits = value.strip().replace("-", "", 1)
            if len(digits) == 10 and digits.isdigit():
                self.cprs.add(digits)

    def scan(self, text: str, where: str, known_gap: bool = False) -> None:
        """Note every CPR-shaped token in `text` as seen at `where` (in the running test)."""
        self.scanned += 1
        seen = self.gaps if known_gap else self.seen
        for match in _CPR_TOKEN.finditer(text):
            places = seen.setdefault(match.group().replace("-", ""), set())
            if len(places) < 20:
                places.add(f"{self.test}: {where}")

    def problems(self, known_gaps: bool = False) -> list[str]:
        """Registered CPR numbers seen where none may be, and CPR fields set for roles
        without CPR; masked. `known_gaps`: the hits of the known gaps instead."""
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
        """Register the CPR numbers a request gives: query parameters and JSON fields
        whose name says `cpr`."""
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
        """Scan what `role` may not be shown: headers always, the body of an error or of
        any response to a role without CPR; and no CPR field set for such a role."""
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
        """A handler that scans every log record it is given."""
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
    """Hits are reported with the test that was running."""
    CPR_GUARD.test = nodeid


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List the hits in known gaps (they do not fail the run)."""
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
