"""Writes to the append-only audit log, in the same transaction as the work it records:
if the audit row cannot be written, the request fails."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth import Principal
from service.models import AuditEvent
from service.requestctx import current_request_id


async def record(
    session: AsyncSession,
    principal: Principal | None,
    at: datetime,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str | None = None,
    patient_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await record_many(
        session, principal, at, action, object_type, [(object_id, patient_id)], detail
    )


async def record_many(
    session: AsyncSession,
    principal: Principal | None,
    at: datetime,
    action: str,
    object_type: str,
    objects: list[tuple[uuid.UUID | str | None, uuid.UUID | None]],
    detail: dict[str, Any] | None = None,
) -> None:
    """One audit row per (object, patient) touched, in one INSERT."""
    if not objects:
        return
    base = {
        "at": at,
        "client_id": principal.client_id if principal else None,
        "client_name": principal.name if principal else None,
        "role": principal.role if principal else None,
        "org_code": principal.org_code if principal else None,
        "action": action,
        "object_type": object_type,
        "request_id": current_request_id(),
        "detail": detail,
    }
    rows = [
        base | {"object_id": str(obj) if obj is not None else None, "patient_id": patient}
        for obj, patient in objects
    ]
    await session.execute(insert(AuditEvent), rows)
