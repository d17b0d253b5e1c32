"""Schema migrations (Alembic): the runner that takes a database to the newest revision."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from service.kit.privileges import Grants, grant_service_role
from service.kit.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", settings.owner_database_url.replace("%", "%%"))
    return config


def upgrade_to_head(settings: Settings) -> Grants | None:
    """Migrate the database to the newest revision as the owner (call outside an event
    loop); with a separate owner, then grant the service role its privileges again, so a
    new table is never left out (service/kit/privileges.py)."""
    command.upgrade(alembic_config(settings), "head")
    if not settings.separate_owner:
        return None
    return asyncio.run(grant_service_role(settings))
