"""Use cases of the tariff timeline and the price index."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.deps import Ctx
from service.errors import Conflict, NotFound
from service.kit.rows import from_row
from service.models import PriceIndex, TariffVersion
from service.tariff import repository
from service.tariff.schemas import PriceIndexOut, TariffDocument, TariffOut


def canonical_document(doc: TariffDocument) -> tuple[dict[str, Any], str]:
    """The document as stored, and the SHA-256 of its canonical JSON (sorted keys)."""
    document = doc.model_dump(mode="json", exclude_none=True)
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return document, hashlib.sha256(text.encode()).hexdigest()


async def add_version(
    session: AsyncSession, doc: TariffDocument, source: str, now: datetime
) -> tuple[TariffVersion, bool]:
    """Add a version to the timeline. The same document again is a no-op; another document
    for an existing valid_from is refused: a loaded version never changes."""
    document, sha = canonical_document(doc)
    version, created = await repository.insert_version_if_new(
        session, doc, document, sha, source, now
    )
    if not created and version.document_sha256 != sha:
        raise Conflict(
            "tariff_version_exists",
            f"a different tariff version valid from {doc.valid_from} is already loaded; "
            "versions never change: add a new version with a later valid_from",
            tariff_id=version.id,
        )
    if created:
        # Its payer gets a master-data row (empty until an admin sets it): what the
        # payer's e-invoices need (service.settlement.einvoice).
        await repository.add_payer_if_new(session, doc.payer.cvr, doc.payer.name)
    return version, created


async def create_tariff(ctx: Ctx, doc: TariffDocument) -> tuple[TariffOut, bool]:
    """Add a version by the API (admin); returns (version, created). The reference snapshot
    of this process is reloaded: the first tariff day may have moved."""
    version, created = await add_version(ctx.session, doc, f"api:{ctx.principal.name}", ctx.now)
    if created:
        ctx.reference.invalidate()
        await ctx.audit("tariff.create", "tariff", str(version.id))
    return tariff_out(version), created


def tariff_out(version: TariffVersion) -> TariffOut:
    """The version as loaded: its document, and where and when it came from."""
    return TariffOut.model_validate(
        version.document
        | {
            "id": version.id,
            "created_at": version.created_at,
            "source": version.source,
            "document_sha256": version.document_sha256,
        }
    )


async def list_tariffs(ctx: Ctx) -> list[TariffOut]:
    """The timeline, by valid_from."""
    return [tariff_out(v) for v in await repository.list_versions(ctx.session)]


async def get_tariff(ctx: Ctx, tariff_id: int) -> TariffOut:
    """One version, or 404."""
    version = await repository.get_version(ctx.session, tariff_id)
    if version is None:
        raise NotFound("tariff_not_found", "no tariff version with this id")
    return tariff_out(version)


def index_text(index_e4: int) -> str:
    """The index as stored (in 1/10,000) as a decimal without trailing zeros: 105.2."""
    return f"{(Decimal(index_e4) / Decimal(10_000)).normalize():f}"


def price_index_out(row: PriceIndex) -> PriceIndexOut:
    """A year's index as clients read it."""
    return from_row(PriceIndexOut, row, index=index_text(row.index_e4))


async def set_price_index(ctx: Ctx, year: int, index: Decimal) -> PriceIndexOut:
    """Finance sets (or corrects) a year's price index; audited with the new value."""
    index_e4 = int(index * 10_000)
    row = await repository.upsert_price_index(
        ctx.session, year, index_e4, ctx.now, str(ctx.principal.client_id)
    )
    await ctx.audit(
        "price_index.set", "price_index", str(year), detail={"index": index_text(index_e4)}
    )
    return price_index_out(row)


async def list_price_index(ctx: Ctx) -> list[PriceIndexOut]:
    """Every year's index, by year."""
    return [price_index_out(r) for r in await repository.list_price_indices(ctx.session)]
