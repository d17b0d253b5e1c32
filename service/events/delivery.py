"""The delivery worker: sends pending webhook deliveries to their endpoints, signed by the
Standard Webhooks spec, at least once.

A round takes the deliveries that are due (service.events.repository.claim_due: each is
counted as attempted and leased to this worker first, in a short transaction of its
own), sends them at once, each as one POST, and records each outcome in a transaction of
its own: a 2xx answer is delivered; anything else (another status, a refused connection,
no answer within `timeout`) is a failure, tried again by the retry schedule
(service.domain.webhooks) until it is dead. No database transaction is open while a
request is out.

At least once: a worker killed after sending and before recording leaves the delivery
leased; when the lease ends, a worker sends it again, with the same `webhook-id`
(`evt_<seq>`, per event), which is what a receiver dedups by. Several workers (processes)
never send one delivery at the same time: the lease keeps the others off it.

`ivsettle serve` runs one worker as a background task of the app (service.main, setting
IVSETTLE_WEBHOOKS); on shutdown it takes no more work and finishes what is out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from service import __version__
from service.domain.webhooks import RetrySchedule
from service.events import repository
from service.events.repository import Claimed
from service.events.schemas import webhook_id
from service.events.service import event_out
from service.kit.clock import Clock

log = logging.getLogger("ivsettle.webhooks")

BATCH = 20
"""Deliveries taken per round."""
PER_ENDPOINT = 4
"""Requests out to one endpoint at once (a receiver is often a small server); endpoints
are sent to in parallel."""
LEASE_MARGIN = timedelta(seconds=30)
"""A lease lasts the round's longest possible sending (BATCH / PER_ENDPOINT attempts in a
row to one endpoint, each at most the timeout) and this margin (the outcome's
transaction, a busy SQLite), so a living worker is never overtaken."""
MAX_ERROR = 300


def signed_headers(secret: str, msg_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of a body: its id, its time (Unix seconds) and the
    signature `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


class DeliveryWorker:
    """Sends due deliveries: `run_once` one round, `run` rounds until stopped. Use it as an
    async context manager (it holds the HTTP client)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        schedule: RetrySchedule,
        timeout: float,
        poll_seconds: float = 1.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        """When deliveries are due and fail: the service's clock (tests move it)."""
        self.schedule = schedule
        self.timeout = timeout
        self.poll_seconds = poll_seconds
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> DeliveryWorker:
        self._client = httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=False,  # a redirect is an answer other than 2xx: a failure
            headers={"user-agent": f"ivsettle/{__version__} (webhooks)"},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop` is set; after a round with nothing due, wait `poll_seconds`
        (or until stopped). A round that fails (the database away) is logged and the next
        one tried after the same wait: the worker outlives an outage."""
        while not stop.is_set():
            try:
                taken = await self.run_once()
            except Exception as exc:
                log.warning("webhook round failed: %s", type(exc).__name__)
                taken = 0
            if taken < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_seconds)

    async def run_once(self) -> int:
        """Send what is due now and record each outcome; how many deliveries were taken."""
        now = self.clock.now()
        waves = -(-BATCH // PER_ENDPOINT)
        lease_until = now + waves * timedelta(seconds=self.timeout) + LEASE_MARGIN
        async with self.sessionmaker() as session:
            claimed = await repository.claim_due(session, now, lease_until, BATCH)
            await session.commit()
        lanes: dict[uuid.UUID, asyncio.Semaphore] = {}
        for c in claimed:
            lanes.setdefault(c.endpoint_id, asyncio.Semaphore(PER_ENDPOINT))
        outcomes = await asyncio.gather(
            *(self._deliver(c, lanes[c.endpoint_id]) for c in claimed), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, Exception):  # not recorded: the lease brings it back
                log.warning("webhook outcome not recorded: %s", type(outcome).__name__)
            elif isinstance(outcome, BaseException):
                raise outcome
        return len(claimed)

    async def _deliver(self, claimed: Claimed, lane: asyncio.Semaphore) -> None:
        async with lane:
            error = await self._send(claimed)
        now = self.clock.now()
        msg_id = webhook_id(claimed.event.id)
        async with self.sessionmaker() as session:
            if error is None:
                await repository.mark_delivered(session, claimed.delivery_id, now)
                log.info("webhook %s delivered to endpoint %s", msg_id, claimed.endpoint_id)
            else:
                first = claimed.first_failed_at or now
                then = self.schedule.next_attempt(first, now, claimed.attempts)
                await repository.mark_failed(session, claimed.delivery_id, error, first, then)
                log.warning(
                    "webhook %s to endpoint %s failed (attempt %d: %s); %s",
                    msg_id, claimed.endpoint_id, claimed.attempts, error,
                    f"next at {then.isoformat()}" if then else "dead: no more attempts",
                )  # fmt: skip
            await session.commit()

    async def _send(self, claimed: Claimed) -> str | None:
        """POST the event; None when the endpoint answered 2xx, else why not. The answer's
        body is never read (it could be of any size)."""
        assert self._client is not None, "use the worker as `async with`"
        body = event_out(claimed.event).model_dump_json().encode()
        # The wall clock, not the service's: a receiver checks the timestamp against its
        # own clock (Standard Webhooks allows 5 minutes), whatever IVSETTLE_NOW pins.
        headers = signed_headers(
            claimed.secret, webhook_id(claimed.event.id), body, datetime.now(UTC)
        )
        try:
            async with (
                asyncio.timeout(self.timeout),
                self._client.stream("POST", claimed.url, content=body, headers=headers) as answer,
            ):
                status = answer.status_code
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except Exception as exc:
            # Whatever stopped the attempt (a refused connection, a TLS error, a URL the
            # client will not send to) is its failure, recorded and retried by the
            # schedule: no delivery can come back for ever on its lease.
            return f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        if 200 <= status < 300:
            return None
        return f"HTTP {status}"


@asynccontextmanager
async def in_background(worker: DeliveryWorker) -> AsyncIterator[None]:
    """`worker` running rounds in the background (the app's lifespan). On the way out no
    round starts; the one under way may finish its attempts (each bounded by the
    timeout), else it is cancelled and its leased deliveries are sent again once the lease
    ends."""
    stop = asyncio.Event()
    async with worker:
        task = asyncio.create_task(worker.run(stop), name="ivsettle-webhooks")
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(TimeoutError):  # wait_for cancels it then
                await asyncio.wait_for(task, worker.timeout + 5)
