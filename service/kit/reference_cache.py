"""A per-process snapshot of the reference data every referral checks: municipalities
(with their policy), hospitals, and the first day of the tariff timeline.

It lives in the kit, not in service/reference/, because the request context
(service/deps.py, `Ctx.reference`) carries it and every feature, the reference routes
among them, depends on that context.

It is reloaded after `TTL` seconds, and at once in the process that changed it (a policy
change or a new tariff version); another worker sees a change within `TTL`. Reference
data changes a few times a year, while every referral needs it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import Hospital, Municipality, TariffVersion

TTL = 10.0


@dataclass(frozen=True)
class ReferenceSnapshot:
    """Municipality code → parenteral-nutrition policy, the hospital codes, and the first
    day any tariff version covers (None before one is loaded)."""

    policies: dict[str, str]
    hospitals: frozenset[str]
    first_tariff_day: date | None


class ReferenceCache:
    """The snapshot, reloaded when older than `TTL` or after `invalidate()`."""

    def __init__(self) -> None:
        self._snapshot: ReferenceSnapshot | None = None
        self._loaded_at = 0.0

    def invalidate(self) -> None:
        """Reload on next use: this process changed the reference data."""
        self._snapshot = None

    async def get(self, session: AsyncSession) -> ReferenceSnapshot:
        """The snapshot, loaded through `session` when it is missing or stale."""
        if self._snapshot is None or time.monotonic() - self._loaded_at > TTL:
            self._snapshot = await load_snapshot(session)
            self._loaded_at = time.monotonic()
        return self._snapshot


async def load_snapshot(session: AsyncSession) -> ReferenceSnapshot:
    """The reference data as stored now."""
    rows = await session.execute(
        select(Municipality.code, Municipality.parenteral_nutrition_policy)
    )
    policies = {code: policy for code, policy in rows}
    hospitals = frozenset((await session.scalars(select(Hospital.code))).all())
    first = (
        await session.execute(
            select(TariffVersion.valid_from).order_by(TariffVersion.valid_from).limit(1)
        )
    ).scalar()
    return ReferenceSnapshot(policies, hospitals, first)
