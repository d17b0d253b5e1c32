"""Request dependencies: the session (committed before the response is sent), the
principal behind the API key, role checks, and the request context use cases need."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from service.access import audit
from service.access.auth import ROLES, Principal, Role
from service.access.clients import principal_by_key
from service.access.throttle import client_address, throttle_of
from service.access.vault import CprVault
from service.domain.review import HoldRules, StatementRise
from service.domain.scope import Violation
from service.errors import Forbidden, Invalid, TooManyAttempts, Unauthenticated
from service.kit.clock import Clock
from service.kit.nul import nul_location
from service.kit.reference_cache import ReferenceCache
from service.kit.text import NUL_MESSAGE

_bearer = HTTPBearer(auto_error=False, description="API key from `ivsettle clients create`")


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request. It commits after the endpoint returns and before the
    response is sent (scope="function" below), so a 201 is only ever sent for stored data;
    any error rolls the whole request back."""
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


Session = Annotated[AsyncSession, Depends(_session, scope="function")]


async def _principal(
    request: Request,
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The client behind the key. It is also left on `request.state`, so that a refused
    request (403, 404; 401 for a revoked key) is audited with who asked. An address that
    failed too often is refused before its key is looked at (service.access.throttle)."""
    refuse_if_throttled(request)
    if credentials is None or not credentials.credentials:
        failed_authentication(request)
        raise Unauthenticated(
            "missing_api_key", "send the API key as 'Authorization: Bearer <key>'"
        )
    # Looked up on every request (no cache), so a revoked key is refused at once.
    found = await principal_by_key(session, credentials.credentials)
    if found is None:
        failed_authentication(request)
        raise Unauthenticated("invalid_api_key", "the API key is unknown or revoked")
    principal, revoked = found
    if revoked:
        failed_authentication(request)
        request.state.revoked_client = principal
        raise Unauthenticated("invalid_api_key", "the API key is unknown or revoked")
    request.state.principal = principal
    return principal


def refuse_if_throttled(request: Request) -> None:
    """429 for an address past its failed authentications (before any key is looked at)."""
    wait = throttle_of(request).retry_after(client_address(request))
    if wait is not None:
        raise TooManyAttempts(wait)


def failed_authentication(request: Request) -> None:
    """One failed authentication of the request's address."""
    throttle_of(request).failed(client_address(request))


@dataclass
class Ctx:
    """What a use case needs from the request: session, who asks, when, and the CPR vault."""

    session: AsyncSession
    principal: Principal
    clock: Clock
    vault: CprVault
    reference: ReferenceCache = field(default_factory=ReferenceCache)
    future_date_margin_days: int = 7
    """How far past today a start date may lie (IVSETTLE_FUTURE_DATE_MARGIN_DAYS)."""
    require_approval: bool = True
    """Whether an issue needs another region client's approval (IVSETTLE_REQUIRE_APPROVAL)."""
    statement_rise: StatementRise = field(default_factory=StatementRise)
    """The warning rule of a statement far above its usual level (IVSETTLE_REVIEW_RISE_*)."""
    hold_rules: HoldRules = field(default_factory=HoldRules)
    """The review rules that hold lines (IVSETTLE_REVIEW_HOLDS and thresholds)."""
    accounts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """The booking journals' account strings (IVSETTLE_ACCOUNTS_FILE)."""

    @property
    def now(self) -> datetime:
        """The instant of the clock (fixed in tests and simulations)."""
        return self.clock.now()

    async def audit(
        self,
        action: str,
        object_type: str,
        object_id: uuid.UUID | str | None = None,
        patient_id: uuid.UUID | None = None,
        *,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """An audit row of this work, by this principal, in this transaction."""
        await audit.record(
            self.session, self.principal, self.now, action, object_type, object_id, patient_id,
            detail,
        )  # fmt: skip

    async def audit_many(
        self,
        action: str,
        object_type: str,
        objects: list[tuple[uuid.UUID | str | None, uuid.UUID | None]],
        detail: dict[str, Any] | None = None,
    ) -> None:
        """An audit row per (object, patient) of this work, in one INSERT."""
        await audit.record_many(
            self.session, self.principal, self.now, action, object_type, objects, detail
        )

    async def audit_search(
        self, action: str, object_type: str, criteria: Mapping[str, object], count: int
    ) -> None:
        """A search, with its criteria pseudonymised (a filter is free text: a CPR number
        could be typed into it) and how many rows it found."""
        detail = audit.search_detail(self.vault, criteria, count)
        await self.audit(action, object_type, detail=detail)


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Ctx]]:
    """A dependency that admits only the given roles (403 for the others)."""

    async def dependency(
        request: Request,
        session: Session,
        principal: Annotated[Principal, Depends(_principal)],
    ) -> Ctx:
        if principal.role not in roles:
            raise Forbidden(
                "role_not_allowed",
                f"this operation is for the role(s) {', '.join(roles)}",
            )
        # A NUL in the path, query or headers would reach the database (a 500 on PostgreSQL);
        # checked here, once the key is known, so a request without one is still a 401.
        if (where := nul_location(request.scope)) is not None:
            problem = Violation("nul_character", where, NUL_MESSAGE)
            raise Invalid("invalid_request", "the request does not match the contract", [problem])
        return Ctx(
            session,
            principal,
            request.app.state.clock,
            request.app.state.vault,
            request.app.state.reference,
            future_date_margin_days=request.app.state.settings.future_date_margin_days,
            require_approval=request.app.state.settings.require_approval,
            hold_rules=request.app.state.settings.hold_rules,
            accounts=request.app.state.accounts,
            statement_rise=StatementRise(
                request.app.state.settings.review_rise_percent,
                request.app.state.settings.review_rise_months,
            ),
        )

    return dependency


ANY_ROLE: tuple[Role, ...] = ROLES
