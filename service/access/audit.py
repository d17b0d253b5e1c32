"""Writes to the append-only audit log.

Work is audited in the same transaction as the work itself: if the audit row cannot be
written, the request fails. A refused request (401, 403, 404) is audited in a short
transaction of its own, since the request's transaction is rolled back. Search criteria and
path values are kept only when they are plain codes; anything else (a CPR number typed into
a filter, say) is kept as its keyed hash.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from service.access.auth import Principal
from service.access.vault import CprVault
from service.domain.cpr import InvalidCpr, normalize_cpr
from service.kit.requestctx import SIX_DIGITS, current_request_id, route_template
from service.models import AuditEvent, Course, Referral

DENIED = "access.denied"

# A value kept as it is: a short code (status, kommunekode, period, id) without SIX_DIGITS.
_PLAIN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Path parameters that name an object whose patient the audit row can point to.
_OBJECTS: dict[str, tuple[str, type[Course] | type[Referral]]] = {
    "course_id": ("course", Course),
    "referral_id": ("referral", Referral),
}


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
    """One audit row: who (None: the command line), what was done to which object, and
    the patient it concerns; in the caller's transaction."""
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


def pseudonymise(vault: CprVault, value: object) -> Any:
    """A criterion as the audit log may keep it: plain when it is a short code, else its
    keyed hash; a CPR number becomes its look-up hash (the patient's `cpr_hash`)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, date | uuid.UUID):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and not SIX_DIGITS.search(text):
        return text
    try:
        return {"cpr_hash": vault.lookup_hash(normalize_cpr(text))}
    except InvalidCpr:
        return {"keyed_hash": vault.keyed_hash(text.encode())}


def search_detail(vault: CprVault, criteria: Mapping[str, object], count: int) -> dict[str, Any]:
    """The `detail` of a search: its criteria (pseudonymised) and how many rows it found."""
    detail = {name: pseudonymise(vault, value) for name, value in criteria.items()}
    detail["count"] = count
    return detail


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def record_denied(request: Request, status: int, code: str) -> None:
    """A refused request: who (if the key was known), the route template, the status and
    problem code, the object and its patient when the path names one. Never the body."""
    state = request.state
    principal: Principal | None = getattr(state, "principal", None)
    revoked: Principal | None = getattr(state, "revoked_client", None)
    vault: CprVault = request.app.state.vault
    object_type, object_id, model = "route", None, None
    params: dict[str, Any] = {}
    for name, value in request.path_params.items():
        known = _OBJECTS.get(name)
        if known is not None and object_id is None and (parsed := _uuid(value)) is not None:
            (object_type, model), object_id = known, parsed
        else:
            params[name] = pseudonymise(vault, value)
    detail: dict[str, Any] = {
        "method": request.method,
        "path": route_template(request.scope) or "(no route)",
        "status": status,
        "code": code,
    }
    if params:
        detail["params"] = params
    if revoked is not None:
        detail["key"] = "revoked"
    async with request.app.state.sessionmaker() as session:
        patient_id = None
        if model is not None:
            patient_id = await session.scalar(select(model.patient_id).where(model.id == object_id))
        await record_many(
            session,
            principal or revoked,
            request.app.state.clock.now(),
            DENIED,
            object_type,
            [(object_id, patient_id)],
            detail,
        )
        await session.commit()
