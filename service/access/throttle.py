"""Failed authentication, throttled per client address; refusals of outsiders, counted.

The throttle: an address may fail to authenticate (no key, an unknown or revoked key, a web
cookie this service did not seal or that was signed out, a wrong key at the web sign-in)
`auth_failures_per_minute` times in a moving minute. Past that, every request of that
address that needs a key or a session is answered `429 too_many_attempts` with
`Retry-After`, before its key is looked at (a blocked address learns nothing, and costs no
key look-up), until the oldest failure leaves the window. A client that authenticates does
not count. The address is the peer's, or the one X-Forwarded-For names when the peer is a
configured proxy (`trusted_proxies`, service.kit.requestctx).

The counts live in the memory of each process (the `limits` library's moving window): with
several workers each keeps its own, so an address gets up to `workers ×` the limit before
every worker refuses it. That is the price of needing no shared store; for a hard limit,
run one worker or put the limit in the proxy in front.

Refusals of outsiders (no known client) are not audit rows but counted aggregates
(`denied_attempts`: address, minute, code, count): an outsider cannot grow a table that can
never be pruned. Rows older than `denied_attempts_retention_days` are pruned, at most once a
minute per process, in the same short transaction as a new count.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from service.kit.db import dialect_insert, insert_ignoring_conflicts
from service.models import DeniedAttempt, SignedOutSession

UNKNOWN_ADDRESS = "unknown"
PRUNE_EVERY_SECONDS = 60


class Throttle:
    """Failed authentications per address in a moving minute (in this process's memory)."""

    def __init__(self, per_minute: int, retention: timedelta) -> None:
        self._item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.retention = retention
        self._pruned_at = 0.0

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again; None when it may now."""
        if self._limiter.test(self._item, address):
            return None
        reset = self._limiter.get_window_stats(self._item, address).reset_time
        return max(1, math.ceil(reset - time.time()))

    def failed(self, address: str) -> None:
        """One failed authentication of `address`."""
        self._limiter.hit(self._item, address)

    def prune_due(self) -> bool:
        """True once a minute (per process): time to prune the aggregates."""
        now = time.monotonic()
        if now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return False
        self._pruned_at = now
        return True


def throttle_of(request: Request) -> Throttle:
    """One per app, from its settings."""
    state = request.app.state
    existing = getattr(state, "throttle", None)
    if isinstance(existing, Throttle):
        return existing
    settings = state.settings
    created = Throttle(
        settings.auth_failures_per_minute,
        timedelta(days=settings.denied_attempts_retention_days),
    )
    state.throttle = created
    return created


def client_address(request: Request) -> str:
    """The client's address: the peer's (rewritten from X-Forwarded-For only when the peer
    is a trusted proxy)."""
    client = request.client
    return client.host[:64] if client is not None and client.host else UNKNOWN_ADDRESS


async def count_denied(
    session: AsyncSession, address: str, code: str, status: int, at: datetime
) -> None:
    """One more refusal of `address` with `code` in the minute of `at` (an upsert)."""
    minute = at.replace(second=0, microsecond=0)
    stmt = dialect_insert(session, DeniedAttempt).values(
        minute=minute, address=address, code=code, status=status, count=1
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["minute", "address", "code"],
            set_={"count": DeniedAttempt.count + 1},
        )
    )


async def prune_denied(session: AsyncSession, now: datetime, retention: timedelta) -> None:
    """Forget counts older than the retention."""
    await session.execute(delete(DeniedAttempt).where(DeniedAttempt.minute < now - retention))


async def record_outsider(request: Request, status: int, code: str) -> None:
    """A refusal of a request without a known client: counted, in a transaction of its own
    (the request's was rolled back)."""
    throttle = throttle_of(request)
    now: datetime = request.app.state.clock.now()
    async with request.app.state.sessionmaker() as session:
        await count_denied(session, client_address(request), code, status, now)
        if throttle.prune_due():
            await prune_denied(session, now, throttle.retention)
        await session.commit()


# --- signed-out web sessions -------------------------------------------------------------


async def is_signed_out(session: AsyncSession, session_id: str) -> bool:
    found = await session.get(SignedOutSession, session_id)
    return found is not None


async def sign_out(
    session: AsyncSession, session_id: str, expires_at: datetime, now: datetime
) -> None:
    """Refuse the session from now until it would have expired; forget expired ones."""
    await insert_ignoring_conflicts(
        session,
        SignedOutSession,
        [{"session_id": session_id, "expires_at": expires_at}],
        ["session_id"],
    )
    await session.execute(delete(SignedOutSession).where(SignedOutSession.expires_at < now))
