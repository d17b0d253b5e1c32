"""SQL of tariff versions and the price index."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.money import parse_kr
from service.kit.db import insert_ignoring_conflicts
from service.models import Payer, PriceIndex, TariffRate, TariffVersion
from service.tariff.schemas import TariffDocument


async def insert_version_if_new(
    session: AsyncSession,
    doc: TariffDocument,
    document: dict[str, object],
    sha256: str,
    source: str,
    now: datetime,
) -> tuple[TariffVersion, bool]:
    """Insert the version unless one with its valid_from exists; return (version, created)."""
    result = await insert_ignoring_conflicts(
        session,
        TariffVersion,
        [
            {
                "name": doc.name,
                "valid_from": doc.valid_from,
                "price_level_year": doc.price_level_year,
                "indexed": doc.indexed,
                "payer_name": doc.payer.name,
                "payer_cvr": doc.payer.cvr,
                "payer_gln": doc.payer.gln,
                "tier_threshold_1": doc.tier_thresholds[0],
                "tier_threshold_2": doc.tier_thresholds[1],
                "document": document,
                "document_sha256": sha256,
                "source": source,
                "created_at": now,
            }
        ],
        ["valid_from"],
    )
    created = result.rowcount == 1
    version = (
        await session.execute(
            select(TariffVersion).where(TariffVersion.valid_from == doc.valid_from)
        )
    ).scalar_one()
    if created:
        await session.execute(
            insert(TariffRate),
            [
                {
                    "tariff_version_id": version.id,
                    "treatment_type": treatment,
                    "tier": tier_no,
                    "included_days": rates.included_days,
                    "course_fee_ore": parse_kr(tier.course_fee),
                    "day_fee_ore": parse_kr(tier.day_fee),
                }
                for treatment, rates in sorted(doc.treatments.items())
                for tier_no, tier in enumerate(rates.tiers, start=1)
            ],
        )
    return version, created


async def list_versions(session: AsyncSession) -> list[TariffVersion]:
    return list(
        (await session.scalars(select(TariffVersion).order_by(TariffVersion.valid_from))).all()
    )


async def get_version(session: AsyncSession, version_id: int) -> TariffVersion | None:
    return await session.get(TariffVersion, version_id)


async def version_valid_on(session: AsyncSession, day: date) -> TariffVersion | None:
    """The timeline: the version with the latest valid_from on or before `day`."""
    return (
        await session.scalars(
            select(TariffVersion)
            .where(TariffVersion.valid_from <= day)
            .order_by(TariffVersion.valid_from.desc())
            .limit(1)
        )
    ).first()


async def upsert_price_index(
    session: AsyncSession, year: int, index_e4: int, now: datetime, by: str
) -> PriceIndex:
    row = await session.get(PriceIndex, year, with_for_update=True)
    if row is None:
        await insert_ignoring_conflicts(
            session,
            PriceIndex,
            [{"year": year, "index_e4": index_e4, "updated_at": now, "updated_by": by}],
            ["year"],
        )
        row = await session.get(PriceIndex, year, populate_existing=True)
        assert row is not None
    row.index_e4 = index_e4
    row.updated_at = now
    row.updated_by = by
    await session.flush()
    return row


async def list_price_indices(session: AsyncSession) -> list[PriceIndex]:
    return list((await session.scalars(select(PriceIndex).order_by(PriceIndex.year))).all())


async def add_payer_if_new(session: AsyncSession, cvr: str, name: str) -> None:
    """A payer row for `cvr` unless there is one (its master data is left as it is)."""
    await insert_ignoring_conflicts(session, Payer, [{"cvr": cvr, "name": name}], ["cvr"])
