"""Writes to the append-only audit log.

Work is audited in the same transaction as the work itself: if the audit row cannot be
written, the request fails. A refused request (401, 403, 404) is audited in a short
transaction of its own, since the request's transaction is rolled back. Search criteria and
path values are kept only when they are plain codes; anything else (a CPR number typed into
a filter, say) is kept as its keyed hash.

The rows form a hash chain (service.domain.chain.audit_link): `record_many` only queues
them on the session, and they are chained and inserted just before the session commits
(`_chain_pending`), after the one chain-head row is locked. That lock is the last one any
transaction takes: every other row it locks (courses first, in id order) it already
holds, and after it there is nothing to wait for (audit rows reference nothing), so it can
close no deadlock cycle, and it is held only for the commit itself. It does serialise
commits that audit; a commit is a few milliseconds.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.requests import Request

from service.access.auth import Principal
from service.access.throttle import record_outsider
from service.access.vault import CprVault
from service.domain.chain import GENESIS, audit_link
from service.domain.cpr import InvalidCpr, normalize_cpr
from service.kit.requestctx import SIX_DIGITS, current_request_id, route_template
from service.models import AuditChainHead, AuditEvent, Course, Referral

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
    """One audit row per (object, patient) touched, in one INSERT when the session
    commits (chained: see the module's doc); rolled back with the session's work."""
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
    session.sync_session.info.setdefault(_PENDING, []).extend(rows)


_PENDING = "ivsettle.audit_pending"
HEAD_ID = 1


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    """Chain and insert the rows `record_many` queued: lock the chain head (see the
    module's doc for why this is the last lock), link each row to the one before it."""
    rows: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not rows:
        return
    head_query = select(AuditChainHead.seq, AuditChainHead.sha256).where(
        AuditChainHead.id == HEAD_ID
    )
    if session.get_bind().dialect.name == "postgresql":
        head_query = head_query.with_for_update()
    head = session.execute(head_query).one_or_none()
    if head is None:
        # Only a database the migration did not make lacks the head: the first link.
        seq, sha = 0, GENESIS
        session.execute(insert(AuditChainHead).values(id=HEAD_ID, seq=0, sha256=GENESIS))
    else:
        seq, sha = head
    for row in rows:
        seq += 1
        sha = audit_link(sha, seq, row)
        row["chain_seq"], row["chain_sha256"] = seq, sha
    session.execute(insert(AuditEvent), rows)
    session.execute(
        update(AuditChainHead).where(AuditChainHead.id == HEAD_ID).values(seq=seq, sha256=sha)
    )


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


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


@dataclass(frozen=True)
class Disclosure:
    """What a refusal revealed of a patient (e.g. that a course is active): an audited
    read, written on the refusal's way out (service.errors)."""

    action: str
    object_type: str
    object_id: uuid.UUID
    patient_id: uuid.UUID
    detail: dict[str, Any]


async def record_disclosure(request: Request, disclosure: Disclosure) -> None:
    """The audit row of a refusal that revealed patient data, in a transaction of its own
    (the request's was rolled back); if it cannot be written, the refusal fails too."""
    principal: Principal | None = getattr(request.state, "principal", None)
    async with request.app.state.sessionmaker() as session:
        await record(
            session,
            principal,
            request.app.state.clock.now(),
            disclosure.action,
            disclosure.object_type,
            disclosure.object_id,
            disclosure.patient_id,
            disclosure.detail,
        )
        await session.commit()


async def record_denied(request: Request, status: int, code: str) -> None:
    """A refused request: who (if the key was known), the route template, the status and
    problem code, the object and its patient when the path names one. Never the body.
    Without a known client (no key, an unknown one, a bad web session, a throttled
    address) it is no audit row but a count per address and minute (`record_outsider`):
    an outsider must not grow the append-only log."""
    state = request.state
    principal: Principal | None = getattr(state, "principal", None)
    revoked: Principal | None = getattr(state, "revoked_client", None)
    if principal is None and revoked is None:
        await record_outsider(request, status, code)
        return
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
