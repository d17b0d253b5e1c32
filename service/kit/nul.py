"""NUL characters (U+0000) in a request's path, query string or headers: refused with the
standard 422 `invalid_request` problem before they reach anything that stores or looks up.

PostgreSQL's `text` cannot hold a NUL: a path segment or a query parameter that reached a
query (`?municipality_code=1%0057`, `/municipalities/1%0057`) failed in the driver, a 500
with a traceback; SQLite took it. Two doors, one rule (`nul_location`):

- every API route admits its caller through `service.deps.require`, which refuses a NUL
  once the key is known (so a request without a valid key is still a 401, as the contract
  says of every operation);
- everything outside `/api/` (the web pages, their static files, the sign-in page) is
  answered here, by `NulRefusalMiddleware`, before routing.

Bodies are the models' part (service/kit/text.py). The problem names where the NUL was
(`query.municipality_code`, `path`, `header.x-request-id`), never the value.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from service.kit.problem import problem_body, send_problem
from service.kit.requestctx import SIX_DIGITS, current_request_id, scrub_cpr
from service.kit.text import NUL, NUL_MESSAGE

# A parameter or header name that may be repeated back in the problem (as errors.py names
# a field): a plain word; anything else is the client's text.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def _named(prefix: str, name: str) -> str:
    plain = _PLAIN_NAME.fullmatch(name) and not SIX_DIGITS.search(name)
    return f"{prefix}.{name}" if plain else prefix


def nul_location(scope: Scope) -> str | None:
    """Where the request carries a NUL (`path`, `query.<name>`, `header.<name>`), or None."""
    if NUL in str(scope.get("path", "")):
        return "path"
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    if "%00" in query or NUL in query:
        for name, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1"):
            if NUL in name or NUL in value:
                return _named("query", name if NUL not in name else "")
        if NUL in query:
            return "query"
    for name, value in scope.get("headers", []):
        if b"\x00" in name or b"\x00" in value:
            return _named("header", name.decode("latin-1") if b"\x00" not in name else "")
    return None


class NulRefusalMiddleware:
    """Answers 422 `invalid_request` to a request outside `/api/` with a NUL outside its
    body (the API's routes refuse it in `require`, after authentication)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        outside_api = scope["type"] == "http" and not str(scope["path"]).startswith("/api/")
        where = nul_location(scope) if outside_api else None
        if where is None:
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", "")).replace(NUL, "%00")
        body = problem_body(
            422,
            "invalid_request",
            "Unprocessable request",
            "the request does not match the contract",
            current_request_id(),
            instance=scrub_cpr(path),
            violations=[{"code": "nul_character", "field": where, "message": NUL_MESSAGE}],
        )
        await send_problem(send, body)
