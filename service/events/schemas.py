"""The API's shapes of events, webhook endpoints and deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from service.domain.vocabulary import EVENT_TYPES, DeliveryStatus, EventType
from service.domain.webhooks import MAX_URL_LENGTH
from service.kit.text import FreeText, Text

WEBHOOK_ID_PREFIX = "evt_"


def webhook_id(event_id: int) -> str:
    """The event's id in a webhook (`webhook-id`) and in the pull API: `evt_<seq>`, the
    same at every attempt and to every endpoint, so a receiver dedups by it."""
    return f"{WEBHOOK_ID_PREFIX}{event_id}"


class EventOut(BaseModel):
    """An event: what the pull API lists, and, byte for byte, a webhook's body."""

    id: str = Field(
        description="`evt_<seq>`: the webhook's `webhook-id`; dedup by it", examples=["evt_42"]
    )
    seq: int = Field(description="Its place in the outbox: pull with `after=<seq>`")
    type: EventType
    timestamp: datetime = Field(description="When it happened (the transaction's time)")
    data: dict[str, Any] = Field(
        description="By type (docs/API.md, Events): ids, codes, amounts, hashes and the "
        "paths to fetch the rest; never a CPR number or free text"
    )


class EventQuery(BaseModel):
    """The pull API's parameters. Any other is refused (422 `invalid_request`): a misspelt
    cursor (`?afer=42`) would otherwise read everything again from the start."""

    model_config = ConfigDict(extra="forbid")

    after: int = Field(
        default=0, ge=0, le=2**62, description="The last `seq` seen; 0: from the start"
    )
    limit: int = Field(default=100, ge=1, le=1000)


class EventPageOut(BaseModel):
    events: list[EventOut]
    next_after: int = Field(
        description="The `after` of the next page: the last event's `seq`, or the `after` "
        "asked for when there is none yet"
    )


class WebhookIn(BaseModel):
    """An endpoint to receive events: a URL (http or https), the event types it wants, and
    optionally one municipality whose events only it receives."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, Text(max_length=MAX_URL_LENGTH, min_length=1)] = Field(
        examples=["https://oekonomi.example.dk/ivsettle/webhooks"]
    )
    event_types: list[EventType] = Field(
        min_length=1, max_length=len(EVENT_TYPES), json_schema_extra={"uniqueItems": True}
    )
    municipality_code: Annotated[str, Text(max_length=3, min_length=3)] | None = Field(
        default=None,
        description="Only this municipality's events (statements, objections); none: all",
    )
    description: Annotated[str, FreeText(max_length=200, min_length=1)] | None = None


class WebhookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    event_types: list[EventType]
    municipality_code: str | None
    description: str | None
    active: bool
    created_at: datetime
    created_by: uuid.UUID
    deactivated_at: datetime | None
    deactivated_by: uuid.UUID | None


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description="The signing secret (Standard Webhooks, `whsec_` + base64), shown this "
        "once: verify each webhook with it"
    )


class DeliveryOut(BaseModel):
    """An endpoint's delivery of one event."""

    event_seq: int
    webhook_id: str = Field(examples=["evt_42"])
    event_type: EventType
    status: DeliveryStatus
    attempts: int = Field(description="Attempts started")
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="Pending: when it is tried next")
    last_attempt_at: datetime | None
    last_error: str | None = Field(description="Why the last attempt failed")
    delivered_at: datetime | None
