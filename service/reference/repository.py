"""SQL of municipalities and hospitals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.db import insert_ignoring_conflicts
from service.models import Hospital, Municipality

ReferenceRow = TypeVar("ReferenceRow", Municipality, Hospital)


async def all_of(session: AsyncSession, model: type[ReferenceRow]) -> list[ReferenceRow]:
    """Every municipality or hospital, by code."""
    return list((await session.scalars(select(model).order_by(model.code))).all())


async def municipality_for_update(session: AsyncSession, code: str) -> Municipality | None:
    """The municipality, locked until the transaction ends."""
    return await session.get(Municipality, code, with_for_update=True)


async def is_municipality(session: AsyncSession, code: str) -> bool:
    """Whether the code is one of the region's municipalities."""
    return await session.get(Municipality, code) is not None


async def insert_missing(
    session: AsyncSession,
    model: type[Municipality] | type[Hospital],
    rows: Sequence[dict[str, Any]],
) -> None:
    """Insert the rows whose code is not stored; stored rows are left as they are."""
    await insert_ignoring_conflicts(session, model, rows, ["code"])
