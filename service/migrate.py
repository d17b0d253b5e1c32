"""Schema migrations (Alembic) and reference data, run before the service serves."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from service.clock import Clock
from service.db import create_engine, create_sessionmaker
from service.reference.loader import load_reference_data
from service.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def upgrade_to_head(settings: Settings) -> None:
    """Migrate the database to the newest revision (call outside an event loop)."""
    command.upgrade(alembic_config(settings), "head")


async def load_reference(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            await load_reference_data(session, Clock(settings.now).now(), settings.tariff_dir)
            await session.commit()
    finally:
        await engine.dispose()


def prepare_database(settings: Settings) -> None:
    """Migrate to head, then load the reference data (idempotent)."""
    upgrade_to_head(settings)
    asyncio.run(load_reference(settings))
