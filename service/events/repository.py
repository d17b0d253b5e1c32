"""SQL of the outbox, the webhook endpoints and their deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.vocabulary import DeliveryStatus
from service.kit.db import dialect_insert
from service.models import Event, WebhookDelivery, WebhookEndpoint

# One key for "an event is being written" (PostgreSQL advisory lock, transaction-level).
EVENT_ORDER_LOCK_KEY = 7301202102


async def lock_event_order(session: AsyncSession) -> None:
    """Make events commit in the order of their ids, so a reader that has seen event n
    never later finds one below it (the pull API's cursor skips nothing).

    PostgreSQL gives a serial id at the insert, not at the commit: two writers could
    commit ids 11 then 10, and a reader between the two commits would move past 10. So a
    writer takes this transaction-level lock before its insert and keeps it until it
    commits; writers of events queue for their last few milliseconds. It is taken at the
    end of a use case, after its row locks, and only the audit chain head (locked in the
    commit itself) comes after it, so it closes no cycle. SQLite: one writer at a time
    already (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_ORDER_LOCK_KEY}
        )


async def insert_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert events (column → value); their ids, in the order of `rows`."""
    result = await session.execute(
        insert(Event).returning(Event.id, sort_by_parameter_order=True), list(rows)
    )
    return list(result.scalars())


async def active_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
    return list((await session.scalars(stmt)).all())


async def insert_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(WebhookDelivery), list(rows))


async def events_after(
    session: AsyncSession, after: int, limit: int, municipality_code: str | None
) -> list[Event]:
    """Events with an id above `after`, oldest first; with `municipality_code`, only that
    municipality's."""
    stmt = select(Event).where(Event.id > after)
    if municipality_code is not None:
        stmt = stmt.where(Event.municipality_code == municipality_code)
    stmt = stmt.order_by(Event.id).limit(limit)
    return list((await session.scalars(stmt)).all())


async def add_endpoint(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Insert an endpoint unless an active one has its URL; whether it was inserted."""
    stmt = (
        dialect_insert(session, WebhookEndpoint)
        .values(row)
        .on_conflict_do_nothing(index_elements=["url"], index_where=text("active"))
        .returning(WebhookEndpoint.id)
    )
    return (await session.execute(stmt)).first() is not None


async def active_endpoint_with_url(session: AsyncSession, url: str) -> WebhookEndpoint | None:
    stmt = select(WebhookEndpoint).where(
        WebhookEndpoint.url == url, WebhookEndpoint.active.is_(True)
    )
    return (await session.scalars(stmt)).first()


async def endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    """Every endpoint, active or not, oldest first."""
    stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    return list((await session.scalars(stmt)).all())


async def endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, for_update: bool = False
) -> WebhookEndpoint | None:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def deliveries_of(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    status: DeliveryStatus | None,
    limit: int,
    offset: int,
) -> list[tuple[WebhookDelivery, Event]]:
    """An endpoint's deliveries with their events, newest event first."""
    stmt = (
        select(WebhookDelivery, Event)
        .join(Event, Event.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
    )
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    stmt = stmt.order_by(WebhookDelivery.event_id.desc()).limit(limit).offset(offset)
    return [(d, e) for d, e in (await session.execute(stmt)).all()]


# --- the delivery worker --------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker has taken, with what it needs to send it."""

    delivery_id: int
    attempts: int
    """Including the one this worker now makes."""
    first_failed_at: datetime | None
    event: Event
    endpoint_id: uuid.UUID
    url: str
    secret: str


async def claim_due(
    session: AsyncSession, now: datetime, lease_until: datetime, limit: int
) -> list[Claimed]:
    """Take up to `limit` pending deliveries due at `now` to active endpoints, oldest due
    first: each is counted as attempted and moved on to `lease_until`, so no other worker
    takes it while this one sends it (or until the lease ends, should this one die).
    PostgreSQL: rows another worker is taking right now are skipped, not waited for
    (FOR UPDATE SKIP LOCKED); SQLite: one writer at a time."""
    due = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.active.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(
            attempts=WebhookDelivery.attempts + 1, last_attempt_at=now, next_attempt_at=lease_until
        )
    )
    rows = await session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.attempts,
            WebhookDelivery.first_failed_at,
            Event,
            WebhookEndpoint.id,
            WebhookEndpoint.url,
            WebhookEndpoint.secret,
        )
        .join(Event, Event.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.id)
    )
    return [Claimed(*row) for row in rows.all()]


async def mark_delivered(session: AsyncSession, delivery_id: int, at: datetime) -> None:
    """Delivered (unless another worker, whose lease had ended, settled it first)."""
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending")
        .values(status="delivered", delivered_at=at, last_error=None)
    )


async def mark_failed(
    session: AsyncSession,
    delivery_id: int,
    error: str,
    first_failed_at: datetime,
    next_attempt_at: datetime | None,
) -> None:
    """Failed: tried again at `next_attempt_at`, or dead (None)."""
    values: dict[str, Any] = {"last_error": error, "first_failed_at": first_failed_at}
    if next_attempt_at is None:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = next_attempt_at
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending")
        .values(values)
    )
