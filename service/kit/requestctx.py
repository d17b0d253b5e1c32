"""The request id, carried in a context variable so logs and audit rows can name it; and
what of a request may be repeated back or logged (a CPR number put where it does not
belong must not come back out).

- X-Request-ID: a client's id is kept only when it is 1-64 characters of `A-Za-z0-9._-`
  with no run of six digits (a UUID usually is; `cpr0101501234` is not); anything else is
  replaced by a new id, which is echoed, logged and written into the audit rows.
- The access log (`ivsettle.access`, `AccessLogMiddleware`) names the route template and
  a redacted query, never the raw path or query (percent-encoding defeats any mask).
- X-Forwarded-For and X-Forwarded-Proto are believed only from the configured proxies
  (`trusted_proxies`, default none): `trusted_proxy_list`.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.kit.problem import problem_body, send_problem

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
REQUEST_ID_SCOPE_KEY = "ivsettle.request_id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A CPR number in free text: 6 digits, an optional hyphen, 4 digits, not inside a longer
# word or number (so UUIDs, amounts and timestamps do not match).
# Six digits in a row: what a CPR number or a birth date brings into a field name or a
# search criterion that should be a plain code (such text is masked or hashed, not kept).
SIX_DIGITS = re.compile(r"[0-9]{6}")
CPR_SHAPED = re.compile(r"(?<![0-9A-Za-z])[0-9]{6}-?[0-9]{4}(?![0-9A-Za-z])")


def safe_request_id(given: str) -> bool:
    """A client's X-Request-ID is kept only when it is a plain token without six digits
    in a row (what a CPR number or a birth date would bring into the audit rows)."""
    return bool(_SAFE_ID.match(given)) and not SIX_DIGITS.search(given)


def new_request_id() -> str:
    """A fresh id, in the shape a client's must have (no run of six digits either)."""
    while True:
        made = uuid.uuid4().hex
        if not SIX_DIGITS.search(made):
            return made


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _plain_segment(segment: str) -> bool:
    if _CONTROL.search(segment):  # a NUL or a newline is never echoed, not even escaped
        return False
    return _UUID.match(segment) is not None or not SIX_DIGITS.search(segment)


def mask_path(path: str) -> str:
    """A (decoded) path with every segment that could hold a CPR number (six digits in a
    row, anywhere in it, except in a UUID) or a control character replaced by `*`: for a
    problem's `instance` and what the web pages send back (a redirect's target)."""
    return "/".join(s if _plain_segment(s) else "*" for s in path.split("/"))


_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9._:-]{0,64}$")


def redacted_query(query_string: bytes | str) -> str:
    """The query as the access log may keep it: names and values decoded, each kept when
    it is a plain short code without six digits in a row, else `*`."""
    text = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    if not text:
        return ""
    pairs = parse_qsl(text, keep_blank_values=True)
    shown = [f"{_plain(name)}={_plain(value)}" for name, value in pairs]
    return "&".join(shown) if shown else "*"


def _plain(text: str) -> str:
    return text if _PLAIN_VALUE.match(text) and not SIX_DIGITS.search(text) else "*"


def trusted_proxy_list(setting: str) -> list[str]:
    """`trusted_proxies` ("10.0.0.1, 10.0.1.0/24") as the list uvicorn's
    ProxyHeadersMiddleware takes; empty: no proxy is trusted."""
    return [item.strip() for item in setting.split(",") if item.strip()]


def current_request_id() -> str | None:
    return _request_id.get()


def request_id_of(scope: Scope) -> str | None:
    """The request's id, also where the context variable is gone (the 500 handler runs
    outside RequestIdMiddleware's context; the id is kept in the scope for it)."""
    given = current_request_id() or scope.get(REQUEST_ID_SCOPE_KEY)
    return given if isinstance(given, str) else None


def scrub_cpr(text: str) -> str:
    """Client text with anything CPR-shaped masked, for the places that repeat part of a
    request back (a problem's `instance`, a violation's message)."""
    return CPR_SHAPED.sub("**********", text)


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (`/api/v1/courses/{course_id}`): logs and audit
    rows name it rather than the raw path, which is client input."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


class RequestIdMiddleware:
    """Takes the client's X-Request-ID when it is safe (`safe_request_id`), else makes one;
    echoes it. An unsafe id would be echoed, logged and written into append-only rows."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if safe_request_id(given) else new_request_id()
        token = _request_id.set(request_id)
        # Also in the scope: the 500 handler runs outside this middleware's context.
        scope[REQUEST_ID_SCOPE_KEY] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)


class BodySizeLimitMiddleware:
    """Refuses request bodies over a limit with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _too_large(scope, send, self.max_bytes)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await _too_large(scope, send, self.max_bytes)


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every API answer: they carry CPR numbers (to the
    treating municipality) and finance data, which no proxy or browser cache may keep."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"cache-control"]
                message["headers"] = [*headers, (b"cache-control", b"no-store")]
            await send(message)

        await self.app(scope, receive, send_no_store)


class _BodyTooLarge(Exception):
    pass


async def _too_large(scope: Scope, send: Send, max_bytes: int) -> None:
    body = problem_body(
        413,
        "request_too_large",
        "Request too large",
        f"request bodies are limited to {max_bytes} bytes",
        current_request_id(),
        # Every problem names its path (the contract requires `instance`), masked.
        instance=mask_path(str(scope.get("path", ""))),
    )
    await send_problem(send, body)


access_log = logging.getLogger("ivsettle.access")
_ROUTE_NOTE = "ivsettle.route_note"


class RouteNoteMiddleware:
    """Innermost: notes the matched route's template where AccessLogMiddleware (outermost)
    finds it. The retry middleware between them routes a fresh copy of the scope for each
    attempt; the note is one dict that every copy shares."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            note = scope.get(_ROUTE_NOTE)
            if isinstance(note, dict):
                note["template"] = route_template(scope)


class AccessLogMiddleware:
    """One access-log line per request: client address, method, the route template (or
    "(no route)") and the redacted query, status, duration and request id. Never the raw
    path or query: they are client input, and a percent-encoded character before a CPR
    number would slip past any mask. (The server's own access log is switched off.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless an answer starts
        note: dict[str, str | None] = {}
        scope[_ROUTE_NOTE] = note

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            query = redacted_query(scope.get("query_string", b""))
            client = scope.get("client")
            access_log.info(
                '%s - "%s %s%s" %d %.1fms',
                client[0] if client else "-",
                scope.get("method", "-"),
                note.get("template") or route_template(scope) or "(no route)",
                f"?{query}" if query else "",
                status,
                (time.perf_counter() - started) * 1000,
                extra={"request_id": request_id_of(scope)},
            )


class CprScrubbingFilter(logging.Filter):
    """Masks CPR-shaped text in a log record's message arguments: the server's access log
    writes each request's URL, which is client input (a CPR put in a query string, say)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                scrub_cpr(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def scrub_access_log() -> None:
    """Install the filter on uvicorn's access log once (idempotent)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, CprScrubbingFilter) for f in access.filters):
        access.addFilter(CprScrubbingFilter())
