"""The settings every test runs the service with: a pinned clock and CPR keys made once per
run, the same in process, for a subprocess (`service_env`) and for the command line."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from service.access.vault import new_key_text
from service.kit.settings import Settings

NOW = datetime.fromisoformat("2024-06-15T10:00:00+02:00")
CPR_KEY = new_key_text()
CPR_HASH_KEY = new_key_text()

# PostgreSQL: the test database is owned by one role and the service connects as another,
# that owns nothing (service/kit/privileges.py), as in production.
OWNER_ROLE = "ivsettle_test_owner"
SERVICE_ROLE = "ivsettle_test_service"


def as_role(url: str, role: str) -> str:
    """`url` with another user."""
    return make_url(url).set(username=role).render_as_string(hide_password=False)


def owner_url(url: str) -> str | None:
    """The owner's URL for a service URL on PostgreSQL (None for SQLite: one role)."""
    return None if url.startswith("sqlite") else as_role(url, OWNER_ROLE)


def settings_for(
    url: str,
    tmp: Path,
    *,
    require_approval: bool = False,
    review_holds: bool = False,
    accounts: dict[str, dict[str, str]] | None = None,
) -> Settings:
    """The service's settings for a test database at `url`; the key file goes in `tmp`.
    Four eyes and review holds are off unless asked for (a one-person installation): most
    tests bill courses completed without a visit, which a rule would hold;
    tests/test_approval.py and tests/test_holds.py turn them on. `accounts`: the booking
    journals' account strings (written to a file in `tmp`)."""
    accounts_file = None
    if accounts is not None:
        accounts_file = tmp / "accounts.json"
        accounts_file.write_text(json.dumps({"accounts": accounts}), encoding="utf-8")
    return Settings(
        accounts_file=accounts_file,
        database_url=url,
        require_approval=require_approval,
        review_holds=review_holds,
        migration_database_url=owner_url(url),
        now=NOW,
        cpr_key=CPR_KEY,
        cpr_hash_key=CPR_HASH_KEY,
        key_file=tmp / "keys.json",
    )


def service_env(url: str, **extra: str) -> dict[str, str]:
    """The `IVSETTLE_*` variables that make a subprocess see what `settings_for(url, …)`
    gives in process (the same clock and CPR keys); `extra` adds or overrides some."""
    owner = owner_url(url)
    return {
        "IVSETTLE_DATABASE_URL": url,
        **({"IVSETTLE_MIGRATION_DATABASE_URL": owner} if owner else {}),
        "IVSETTLE_NOW": NOW.isoformat(),
        "IVSETTLE_CPR_KEY": CPR_KEY,
        "IVSETTLE_CPR_HASH_KEY": CPR_HASH_KEY,
        "IVSETTLE_REQUIRE_APPROVAL": "false",
        "IVSETTLE_REVIEW_HOLDS": "false",
        **extra,
    }
