"""Schema migrations (Alembic): the runner that takes a database to the newest revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from service.kit.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def upgrade_to_head(settings: Settings) -> None:
    """Migrate the database to the newest revision (call outside an event loop)."""
    command.upgrade(alembic_config(settings), "head")
