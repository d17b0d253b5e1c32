"""Every problem the suite sees the API answer, checked against the document (a plugin).

The in-process clients (tests/support/api.py, `asgi_client`) send their requests through
`recording(app)`, which notes each problem+json answer as (operation, status, code). At the
end of the run, each one must be listed by the document for that operation and status (its
`x-problem-codes`, service/kit/openapi_responses.py): a code that a route answers but does
not declare fails the run, with the list (the hooks are in tests/conftest.py). So the
per-operation codes stay true to what the service does, as far as the suite reaches.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.kit.problem import PROBLEM_JSON


@dataclass(frozen=True, order=True)
class Answered:
    method: str
    path: str  # the route's template, as the document names it
    status: int
    code: str


SEEN: set[Answered] = set()


def recording(app: FastAPI) -> ASGIApp:
    """`app`, noting the problem answers of its API routes in `SEEN`."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/api/"):
            await app(scope, receive, send)
            return
        answer: dict[str, Any] = {"body": b""}

        async def noting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                headers = dict(message.get("headers", []))
                answer["problem"] = headers.get(b"content-type", b"") == PROBLEM_JSON.encode()
            elif message["type"] == "http.response.body" and answer.get("problem"):
                answer["body"] += message.get("body", b"")
            await send(message)

        await app(scope, receive, noting_send)
        if answer.get("problem"):
            template = _route_template(app, scope)
            if template is not None:
                code = json.loads(answer["body"]).get("code", "")
                SEEN.add(Answered(scope["method"].lower(), template, answer["status"], code))

    return asgi


def _route_template(app: FastAPI, scope: Scope) -> str | None:
    """The document's path template that the request's path matches, the most literal one
    first (as the routes are registered: `/settlements/{period}.xlsx` before
    `/settlements/{period}`); None for a path no operation has."""
    path, method = str(scope["path"]), str(scope["method"]).lower()
    matching = [
        template
        for template, item in app.openapi()["paths"].items()
        if method in item and _pattern(template).fullmatch(path)
    ]
    return max(matching, key=lambda t: len(re.sub(r"\{[^}]+\}", "", t)), default=None)


@functools.cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def undocumented(seen: Iterable[Answered], document: dict[str, Any]) -> list[Answered]:
    """The answers that the document does not list for their operation and status."""
    missing = []
    for answered in sorted(seen):
        operation = document["paths"].get(answered.path, {}).get(answered.method)
        if operation is None:
            continue  # a route outside the document (none under /api/ today)
        response = operation["responses"].get(str(answered.status), {})
        if answered.code not in response.get("x-problem-codes", []):
            missing.append(answered)
    return missing
