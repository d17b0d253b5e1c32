"""Routes of events: the pull API, and the admin's webhook endpoints and their deliveries."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from service.deps import Ctx, require
from service.domain.vocabulary import DeliveryStatus
from service.events import service
from service.events.schemas import (
    DeliveryOut,
    EventPageOut,
    EventQuery,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
)
from service.kit.openapi_responses import problems

router = APIRouter(prefix="/api/v1", tags=["events"])


@router.get("/events", response_model=EventPageOut)
async def list_events(
    ctx: Annotated[Ctx, Depends(require("region", "admin", "municipality"))],
    query: Annotated[EventQuery, Query()],
) -> EventPageOut:
    """Events after the cursor `after`, oldest first, for systems that cannot receive
    webhooks: the same JSON as the webhooks' bodies. A municipality gets its own only."""
    return await service.list_events(ctx, query.after, query.limit)


@router.post(
    "/webhooks",
    response_model=WebhookCreatedOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems("webhook_exists", "invalid_webhook_url", "unknown_municipality"),
)
async def create_webhook(
    body: WebhookIn, ctx: Annotated[Ctx, Depends(require("admin"))]
) -> WebhookCreatedOut:
    """Register a webhook endpoint; the answer holds its signing secret, this once."""
    return await service.create_webhook(ctx, body)


@router.get("/webhooks", response_model=list[WebhookOut])
async def list_webhooks(ctx: Annotated[Ctx, Depends(require("admin"))]) -> list[WebhookOut]:
    """Every webhook endpoint, deactivated ones too (never a secret)."""
    return await service.list_webhooks(ctx)


@router.delete(
    "/webhooks/{webhook_id}",
    response_model=WebhookOut,
    responses=problems("webhook_not_found"),
)
async def deactivate_webhook(
    webhook_id: uuid.UUID, ctx: Annotated[Ctx, Depends(require("admin"))]
) -> WebhookOut:
    """Deactivate an endpoint: nothing more is sent to it; its deliveries stay readable."""
    return await service.deactivate_webhook(ctx, webhook_id)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=problems("webhook_not_found"),
)
async def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    ctx: Annotated[Ctx, Depends(require("admin"))],
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[DeliveryOut]:
    """The endpoint's deliveries, newest event first: delivered, pending (with the next
    attempt) or dead, with the last error."""
    return await service.list_deliveries(ctx, webhook_id, status, limit, offset)
