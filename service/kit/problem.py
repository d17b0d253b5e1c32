"""The one builder of a problem+json body (RFC 9457), for the error handlers
(service/errors.py) and for the middlewares that answer before the app is reached (a body
too large, a retry given up).

A body never carries submitted values: callers pass an `instance` with CPR-shaped text
already masked (service/kit/requestctx.py, scrub_cpr).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.types import Send

PROBLEM_JSON = "application/problem+json"
RESERVED_FIELDS = frozenset(
    {"type", "title", "status", "code", "detail", "instance", "request_id", "violations"}
)
"""The fields every problem has (and `violations` of a 422): extra fields may not reuse them."""


def problem_body(
    status: int,
    code: str,
    title: str,
    detail: str,
    request_id: str | None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The problem as JSON-ready data; `instance` is left out when None (a request refused
    before routing names no path)."""
    body: dict[str, Any] = {
        "type": f"urn:ivsettle:problem:{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    body["request_id"] = request_id
    body.update(extra)
    return body


async def send_problem(
    send: Send,
    body: dict[str, Any],
    headers: Sequence[tuple[bytes, bytes]] = (),
    with_length: bool = False,
) -> None:
    """Answer a problem from ASGI middleware (outside FastAPI's handlers): the content type,
    then `headers` as given, then (`with_length`) the Content-Length."""
    content = json.dumps(body).encode()
    length = [(b"content-length", str(len(content)).encode())] if with_length else []
    await send(
        {
            "type": "http.response.start",
            "status": body["status"],
            "headers": [(b"content-type", PROBLEM_JSON.encode()), *headers, *length],
        }
    )
    await send({"type": "http.response.body", "body": content})
