"""The outbox: an event is written in the transaction of what it announces (an issue, an
objection), so it exists exactly when that is committed, and never for work rolled back.

Its deliveries are written with it, one per active endpoint subscribed to its type (and
municipality) at that moment, rather than found later by the worker: the set of
receivers is fixed in the same transaction, a worker only has to pick due rows (no
per-endpoint cursor to keep), and an endpoint registered later is not flooded with the
past (that is what the pull API is for).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.vocabulary import EventType
from service.events import repository
from service.models import WebhookEndpoint


@dataclass(frozen=True)
class NewEvent:
    type: EventType
    data: dict[str, Any]
    municipality_code: str | None = None
    """The municipality it concerns, if one: it may pull the event, and an endpoint bound to
    it receives it."""


async def emit(session: AsyncSession, at: datetime, events: Sequence[NewEvent]) -> list[int]:
    """Write `events` (in this order) and their deliveries in the caller's transaction; the
    caller commits. Call it as the last write of a use case (see
    repository.lock_event_order). Returns the events' ids."""
    if not events:
        return []
    await repository.lock_event_order(session)
    ids = await repository.insert_events(
        session,
        [
            {
                "type": e.type,
                "occurred_at": at,
                "municipality_code": e.municipality_code,
                "data": e.data,
            }
            for e in events
        ],
    )
    endpoints = await repository.active_endpoints(session)
    await repository.insert_deliveries(
        session,
        [
            {
                "endpoint_id": endpoint.id,
                "event_id": event_id,
                "status": "pending",
                "attempts": 0,
                "created_at": at,
                "next_attempt_at": at,
            }
            for event_id, e in zip(ids, events, strict=True)
            for endpoint in endpoints
            if subscribed(endpoint, e)
        ],
    )
    return ids


def subscribed(endpoint: WebhookEndpoint, event: NewEvent) -> bool:
    """Whether `endpoint` receives `event`: one of its types, and, for an endpoint bound to
    a municipality, an event of that municipality."""
    if event.type not in endpoint.event_types:
        return False
    return endpoint.municipality_code in (None, event.municipality_code)
