"""SQL of municipalities and hospitals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.kit.db import insert_ignoring_conflicts
from service.models import Hospital, Municipality, Payer, TariffVersion

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


async def payer_for_update(session: AsyncSession, cvr: str) -> Payer | None:
    """The payer, locked until the transaction ends."""
    return await session.get(Payer, cvr, with_for_update=True)


async def payer(session: AsyncSession, cvr: str) -> Payer | None:
    return await session.get(Payer, cvr)


async def all_payers(session: AsyncSession) -> list[Payer]:
    return list((await session.scalars(select(Payer).order_by(Payer.cvr))).all())


async def insert_missing_payers(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the payers whose CVR is not stored; stored ones are left as they are."""
    if rows:
        await insert_ignoring_conflicts(session, Payer, rows, ["cvr"])


async def tariff_payers(session: AsyncSession) -> list[dict[str, Any]]:
    """Every payer a tariff version names (its CVR and name)."""
    rows = await session.execute(
        select(TariffVersion.payer_cvr, TariffVersion.payer_name)
        .distinct()
        .order_by(TariffVersion.payer_cvr)
    )
    return [{"cvr": cvr, "name": name} for cvr, name in rows]
