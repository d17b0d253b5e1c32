"""Which rows a principal may see: the region all, a hospital or municipality the rows of
its own organisation, anyone else none. A row outside is answered as missing (404), so
another organisation's objects are not even confirmed to exist."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Select, false
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from service.access.auth import Principal, Role

T = TypeVar("T")


def visible(
    stmt: Select[T], principal: Principal, own: Mapping[Role, InstrumentedAttribute[Any]]
) -> Select[T]:
    """`stmt` narrowed to the principal's rows; `own` names, per role, the column that
    holds the organisation code of a row (a role not named sees nothing but the region)."""
    column = own.get(principal.role)
    if column is not None:
        return stmt.where(column == principal.org_code)
    if principal.role != "region":
        return stmt.where(false())
    return stmt


async def first_visible(session: AsyncSession, stmt: Select[T], for_update: bool) -> T | None:
    """The object a visible query names (e.g. by id), or None; `for_update` locks its row
    until the transaction ends."""
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()
