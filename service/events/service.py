"""Use cases of events and webhooks: an admin registers, lists and deactivates webhook
endpoints and reads their deliveries; finance systems pull events.

Who pulls what: the region and the admin read every event; a municipality reads the
events of its own municipality only (its statements' `statement.issued`, objections to
its courses); `period.issued` concerns the whole region, so it is not among them.
"""

from __future__ import annotations

import base64
import secrets
import uuid

from service.deps import Ctx
from service.domain.scope import Violation
from service.domain.vocabulary import DeliveryStatus
from service.domain.webhooks import url_problem
from service.errors import Conflict, Invalid, NotFound
from service.events import repository
from service.events.schemas import (
    DeliveryOut,
    EventOut,
    EventPageOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
    webhook_id,
)
from service.models import Event, WebhookEndpoint
from service.reference import repository as reference_repository

SECRET_BYTES = 32


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def event_out(event: Event) -> EventOut:
    return EventOut(
        id=webhook_id(event.id),
        seq=event.id,
        type=event.type,
        timestamp=event.occurred_at,
        data=event.data,
    )


async def list_events(ctx: Ctx, after: int, limit: int) -> EventPageOut:
    """The events after `after`, oldest first (a municipality: its own). A pull that
    returns events is audited once (what was read, by whom); an empty poll reads nothing."""
    own = None
    if ctx.principal.role == "municipality":
        own = ctx.principal.org_code
        assert own is not None  # a municipality's client is bound to its code
    found = await repository.events_after(ctx.session, after, limit, own)
    if found:
        detail = {"after": after, "last": found[-1].id, "count": len(found)}
        await ctx.audit("events.read", "event", detail=detail)
    return EventPageOut(
        events=[event_out(e) for e in found], next_after=found[-1].id if found else after
    )


async def create_webhook(ctx: Ctx, body: WebhookIn) -> WebhookCreatedOut:
    """Register an endpoint; its secret is in this answer only. One active endpoint per
    URL: registering an active URL again is `409 webhook_exists` (deactivate it first),
    so a retried registration never leaves two endpoints with two secrets."""
    problem = url_problem(body.url)
    if problem is not None:
        message = f"the webhook URL must be {problem}"
        raise Invalid(
            "invalid_webhook_url", message, [Violation("invalid_webhook_url", "url", message)]
        )
    code = body.municipality_code
    if code is not None and not await reference_repository.is_municipality(ctx.session, code):
        message = "the municipality must be one of the region's 29"
        raise Invalid(
            "unknown_municipality",
            message,
            [Violation("unknown_municipality", "municipality_code", message)],
        )
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        url=body.url,
        secret=new_secret(),
        event_types=list(dict.fromkeys(body.event_types)),
        municipality_code=code,
        description=body.description,
        active=True,
        created_at=ctx.now,
        created_by=ctx.principal.client_id,
    )
    row = {c.key: getattr(endpoint, c.key) for c in WebhookEndpoint.__table__.columns}
    if not await repository.add_endpoint(ctx.session, row):
        existing = await repository.active_endpoint_with_url(ctx.session, body.url)
        raise Conflict(
            "webhook_exists",
            "an active webhook endpoint has this URL; deactivate it to register it again",
            webhook_id=str(existing.id) if existing is not None else None,
        )
    await ctx.audit(
        "webhook.create",
        "webhook_endpoint",
        endpoint.id,
        detail={"event_types": endpoint.event_types, "municipality_code": code},
    )
    return WebhookCreatedOut.model_validate(endpoint)


async def list_webhooks(ctx: Ctx) -> list[WebhookOut]:
    """Every endpoint, deactivated ones too, oldest first; never a secret."""
    return [WebhookOut.model_validate(e) for e in await repository.endpoints(ctx.session)]


async def deactivate_webhook(ctx: Ctx, endpoint_id: uuid.UUID) -> WebhookOut:
    """Stop delivering to an endpoint (its pending deliveries are not sent); again: a
    retry, unchanged. Its deliveries stay readable."""
    endpoint = await repository.endpoint(ctx.session, endpoint_id, for_update=True)
    if endpoint is None:
        raise NotFound("webhook_not_found", "no such webhook endpoint")
    if endpoint.active:
        endpoint.active = False
        endpoint.deactivated_at = ctx.now
        endpoint.deactivated_by = ctx.principal.client_id
        await ctx.session.flush()
        await ctx.audit("webhook.deactivate", "webhook_endpoint", endpoint.id)
    return WebhookOut.model_validate(endpoint)


async def list_deliveries(
    ctx: Ctx, endpoint_id: uuid.UUID, status: DeliveryStatus | None, limit: int, offset: int
) -> list[DeliveryOut]:
    """An endpoint's deliveries, newest event first: whether each was delivered, is still
    tried (and when next) or is dead, with the last error."""
    if await repository.endpoint(ctx.session, endpoint_id) is None:
        raise NotFound("webhook_not_found", "no such webhook endpoint")
    found = await repository.deliveries_of(ctx.session, endpoint_id, status, limit, offset)
    return [
        DeliveryOut(
            event_seq=event.id,
            webhook_id=webhook_id(event.id),
            event_type=event.type,
            status=delivery.status,
            attempts=delivery.attempts,
            created_at=delivery.created_at,
            next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
            last_attempt_at=delivery.last_attempt_at,
            last_error=delivery.last_error,
            delivered_at=delivery.delivered_at,
        )
        for delivery, event in found
    ]
