"""The outbox of events for finance systems, the webhook endpoints an admin registers, and
each endpoint's delivery of each event.

`events` is append-only (write-once on PostgreSQL: the service may only SELECT and INSERT
it): an event is written in the transaction of what it announces, so it exists exactly
when that was committed. Its id is the pull API's cursor. Endpoints and deliveries change
(deactivated; attempted, delivered, dead).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from service.domain.vocabulary import DeliveryStatus, EventType
from service.models.base import Base, SerialPk, UtcDateTime, UuidPk


class Event(Base):
    """Something finance systems are told of: its type, when, and its data (ids, codes,
    amounts, hashes and the API paths to fetch the rest; never a CPR number or free
    text). `municipality_code`: the municipality it concerns, if one (who may pull it)."""

    __tablename__ = "events"

    id: Mapped[SerialPk]
    type: Mapped[EventType] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    municipality_code: Mapped[str | None] = mapped_column(
        ForeignKey("municipalities.code"), index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class WebhookEndpoint(Base):
    """A URL that receives the events of `event_types` (those of `municipality_code` only,
    when set), signed with `secret` (Standard Webhooks, `whsec_…`). Deactivated, never
    deleted: its deliveries stay readable."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        # One active endpoint per URL: a retried registration cannot make a second one
        # with another secret.
        Index(
            "uq_webhook_endpoints_active_url",
            "url",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[UuidPk]
    url: Mapped[str] = mapped_column(String(2000))
    # Kept as given to the admin once: the service signs with it (HMAC is symmetric).
    secret: Mapped[str] = mapped_column(String(100))
    event_types: Mapped[list[EventType]] = mapped_column(JSON)
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipalities.code"))
    description: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    deactivated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deactivated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_clients.id"))


class WebhookDelivery(Base):
    """One endpoint's delivery of one event: made with the event, for the endpoints
    subscribed to it then. `next_attempt_at` is when a worker may next try it; a worker
    that takes it moves it on by a lease first, so another worker leaves it alone while it
    is being sent, and a delivery whose sender died is taken again when the lease ends."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[SerialPk]
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    status: Mapped[DeliveryStatus] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    """Attempts started (one killed half-way counts)."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    first_failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
