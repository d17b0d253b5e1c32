"""Re-running a request whose transaction lost a race on PostgreSQL.

A request is one transaction (service/deps.py commits it before the response starts), so
when PostgreSQL aborts it with a serialization failure (40001) or as a deadlock victim
(40P01) nothing of it was stored, and running the whole request again is both safe and the
answer PostgreSQL asks for. This middleware does that: it buffers the request body (already
capped by BodySizeLimitMiddleware, which sits outside it), replays it to the app up to
`attempts` times with a short jittered backoff, and gives up with 503 + Retry-After.

Only errors raised before the response started are retried: after that, the client has
already seen part of an answer. SQLite's "database is locked" is not retried: every SQLite
transaction starts with BEGIN IMMEDIATE and waits up to busy_timeout, so a lock error
there means that wait was already spent.
"""

from __future__ import annotations

import asyncio
import logging
import random

from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.kit.problem import problem_body, send_problem
from service.kit.requestctx import current_request_id, request_id_of, route_template, scrub_cpr

log = logging.getLogger("ivsettle")

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
"""serialization_failure, deadlock_detected: the transaction was rolled back as a whole."""


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE behind a SQLAlchemy DB error, or None.

    With asyncpg, SQLAlchemy's adapter copies it onto `exc.orig.sqlstate` (and `pgcode`);
    the asyncpg exception itself is `exc.orig.__cause__`. psycopg puts it on `orig.sqlstate`
    too; sqlite3 has none (so nothing from SQLite is ever retryable here).
    """
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def is_retryable(exc: BaseException) -> bool:
    """Whether the error means "this transaction lost a race; run it again"."""
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        return is_retryable(exc.exceptions[0])
    return sqlstate_of(exc) in RETRYABLE_SQLSTATES


class TransactionRetryMiddleware:
    """Runs the app again when its transaction is aborted by a serialization failure or a
    deadlock, before any response has started."""

    def __init__(
        self,
        app: ASGIApp,
        attempts: int = 3,
        base_delay: float = 0.02,
        retry_after_seconds: int = 1,
    ) -> None:
        self.app = app
        self.attempts = attempts
        self.base_delay = base_delay
        self.retry_after_seconds = retry_after_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client left before sending its body: nothing to answer
            return
        for attempt in range(1, self.attempts + 1):
            started = False

            async def tracking_send(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                await send(message)

            attempt_scope = dict(scope)
            try:
                # A fresh copy of the scope: routing writes into it, and a replay starts clean.
                await self.app(attempt_scope, _replay(body, receive), tracking_send)
                return
            except Exception as exc:
                if started or not is_retryable(exc):
                    raise
                log.warning(
                    "transaction aborted (sqlstate %s) on %s %s, attempt %d of %d",
                    sqlstate_of(exc) or "?",
                    scope.get("method"),
                    route_template(attempt_scope) or "(no route)",  # the raw path is client input
                    attempt,
                    self.attempts,
                    extra={"request_id": current_request_id()},
                )
            if attempt < self.attempts:
                # Jitter, so the requests that collided do not collide again in step.
                await asyncio.sleep(random.uniform(0, self.base_delay * 2**attempt))
        await self._give_up(scope, send)

    async def _give_up(self, scope: Scope, send: Send) -> None:
        """503 problem+json: nothing was stored, and sending it again is expected to work.
        It names no SQL and no parameter, only what the client should do."""
        body = problem_body(
            503,
            "retry_exhausted",
            "Service unavailable",
            f"the request collided with concurrent requests {self.attempts} times "
            "and nothing was stored; send it again",
            request_id_of(scope),
            instance=scrub_cpr(str(scope.get("path", ""))),
        )
        retry_after = (b"retry-after", str(self.retry_after_seconds).encode())
        await send_problem(send, body, [retry_after], with_length=True)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client disconnected before sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the buffered body once, then listens to the client again (for
    a disconnect)."""
    given = False

    async def replay_receive() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay_receive
