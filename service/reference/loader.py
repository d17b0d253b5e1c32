"""Loads the reference data shipped as versioned data files, idempotently.

Municipalities and hospitals come from `service/reference/data/`; tariff versions from
`contracts/tariffs/`. Loading twice changes nothing; a changed name is updated, but a
municipality's policy (set by admin) and a loaded tariff version are never overwritten.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Conflict
from service.kit.clock import Clock
from service.kit.db import standalone_session
from service.kit.migrate import upgrade_to_head
from service.kit.privileges import Grants
from service.kit.settings import Settings
from service.models import Hospital, Municipality
from service.reference import repository
from service.tariff.schemas import TariffDocument
from service.tariff.service import add_version

log = logging.getLogger("ivsettle")

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_TARIFF_DIR = Path(__file__).resolve().parents[2] / "contracts" / "tariffs"


async def load_reference_data(
    session: AsyncSession, now: datetime, tariff_dir: Path | None = None
) -> None:
    await _load_rows(session, Municipality, "municipalities", ("name", "cluster"))
    await _load_rows(session, Hospital, "hospitals", ("name", "shak"))
    await load_tariff_files(session, now, tariff_dir or DEFAULT_TARIFF_DIR)
    await _load_parties(session)


async def _load_parties(session: AsyncSession) -> None:
    """The e-invoices' master data (parties.json): a value the file cites fills a field
    that is still empty; a value an admin set is never overwritten. Every payer a tariff
    version names gets a row (its master data empty until known)."""
    data = json.loads((DATA_DIR / "parties.json").read_text(encoding="utf-8"))
    await repository.insert_missing_payers(
        session, [{"cvr": p["cvr"], "name": p["name"]} for p in data["payers"]]
    )
    await repository.insert_missing_payers(session, await repository.tariff_payers(session))
    for entry in data["payers"]:
        payer = await repository.payer(session, entry["cvr"])
        if payer is not None:
            _fill_empty(payer, entry, key="cvr")
    for entry in data["municipalities"]:
        municipality = await session.get(Municipality, entry["code"])
        if municipality is not None:
            _fill_empty(municipality, entry, key="code")
    await session.flush()


def _fill_empty(row: object, entry: dict[str, object], key: str) -> None:
    for field, value in entry.items():
        if field not in (key, "name") and getattr(row, field) is None:
            setattr(row, field, value)


async def _load_rows(
    session: AsyncSession,
    model: type[repository.ReferenceRow],
    key: str,
    fields: tuple[str, ...],
) -> None:
    rows = json.loads((DATA_DIR / f"{key}.json").read_text(encoding="utf-8"))[key]
    await repository.insert_missing(session, model, rows)
    stored = {r.code: r for r in await repository.all_of(session, model)}
    for row in rows:
        current = stored[row["code"]]
        for field in fields:
            if getattr(current, field) != row.get(field):
                setattr(current, field, row.get(field))
    await session.flush()


def read_tariff_files(tariff_dir: Path) -> list[tuple[str, TariffDocument]]:
    """The agreement files of a directory, parsed and validated, in file-name order."""
    if not tariff_dir.is_dir():
        raise FileNotFoundError(f"tariff directory not found: {tariff_dir}")
    return [
        (path.name, TariffDocument.model_validate_json(path.read_text(encoding="utf-8")))
        for path in sorted(tariff_dir.glob("*.json"))
    ]


async def load_tariff_files(session: AsyncSession, now: datetime, tariff_dir: Path) -> None:
    # A handful of small files, read once at start-up.
    for name, doc in read_tariff_files(tariff_dir):
        try:
            _, created = await add_version(session, doc, f"file:{name}", now)
        except Conflict:
            log.warning(
                "tariff file %s differs from the version already loaded for %s; the loaded "
                "version is kept (versions never change: add a new file with a later valid_from)",
                name,
                doc.valid_from,
            )
            continue
        if created:
            log.info("loaded tariff version %s from %s", doc.valid_from, name)


async def load_reference(settings: Settings) -> None:
    """Load the reference data in a transaction of its own (idempotent)."""
    async with standalone_session(settings) as session:
        await load_reference_data(session, Clock(settings.now).now(), settings.tariff_dir)
        await session.commit()


def prepare_database(settings: Settings) -> Grants | None:
    """Migrate to head (as the owner, granting the service role), then load the reference
    data as the service (both idempotent): what every command runs before it touches the
    database. Returns the grants made, if any."""
    grants = upgrade_to_head(settings)
    asyncio.run(load_reference(settings))
    return grants
