"""Settings: one pydantic-settings class, read once (prefix IVSETTLE_)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.domain.review import HoldRules
from service.domain.webhooks import RetrySchedule

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ivsettle.db"


class Settings(BaseSettings):
    """Everything the service reads from its environment.

    - `database_url`: SQLite (aiosqlite) file by default; PostgreSQL via postgresql+asyncpg://.
      The service connects with it; on PostgreSQL, as a role that owns nothing.
    - `migration_database_url`: PostgreSQL only, the tables' owner: migrations run with it,
      then grant the service's role (the user of `database_url`) what it may do. Unset,
      `database_url` migrates too (one role: SQLite, or a one-person installation).
    - `now`: pins the clock (demos and tests only).
    - `cpr_key` / `cpr_hash_key`: base64 keys (32 bytes each) for encrypting CPR at rest and
      for the keyed look-up hash. When unset, they are read from `key_file`, which is created
      on first start for the embedded default (and the service says so in its log).
    """

    model_config = SettingsConfigDict(env_prefix="IVSETTLE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    migration_database_url: str | None = None
    now: datetime | None = None
    cpr_key: str | None = None
    cpr_hash_key: str | None = None
    key_file: Path = Path("ivsettle-keys.json")
    tariff_dir: Path | None = None
    accounts_file: Path | None = None
    """The account strings of the booking journals (JSON; README "Booking journal"), read
    at start; without it a journal names every account string it lacks."""
    max_body_bytes: int = 2_000_000
    trusted_proxies: str = ""
    """Addresses (comma-separated; CIDR allowed) of the reverse proxies whose X-Forwarded-For
    and X-Forwarded-Proto are believed. Default: none, the peer's own address counts."""
    auth_failures_per_minute: int = 100
    """Failed authentications an address may make in a moving minute before 429."""
    denied_attempts_retention_days: int = 30
    """How long the per-address, per-minute counts of denied attempts are kept."""
    future_date_margin_days: int = Field(default=7, ge=0, le=31)
    """How far past today (Europe/Copenhagen) a start date may lie: a municipality accepts a
    referral some days before discharge (a weekend or a holiday in between), never a plan for
    months ahead. End dates may not lie past today at all."""
    review_rise_percent: int = Field(default=50, ge=0, le=10_000)
    """Review rule: a draft statement more than this % above the municipality's average of
    its last `review_rise_months` issued statements is a warning where the period is
    approved (never held)."""
    review_rise_months: int = Field(default=6, ge=1, le=36)
    review_holds: bool = True
    """Review rules that hold a course's lines until the region releases them (README
    "Review holds"); `false` holds nothing. Their thresholds follow."""
    review_expected_start_days: int = Field(default=14, ge=0, le=365)
    review_back_dated_months: int = Field(default=3, ge=0, le=60)
    review_end_after_dose_days: int = Field(default=2, ge=0, le=365)
    review_long_course_days: int = Field(default=90, ge=1, le=3650)
    review_split_course_days: int = Field(default=7, ge=0, le=365)
    require_approval: bool = True
    """Four eyes: a period is issued only after another region client approved exactly the
    draft the issue recomputes. `false` for a one-person installation."""
    webhooks: bool = True
    """Deliver the outbox's events to the registered webhook endpoints from this process
    (a background task of the app, `ivsettle serve`). Events are written either way, and
    the pull API serves them; `false` for a process that should not send."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    """How long one delivery attempt may take, connecting and answering, before it fails."""
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    """How often the delivery worker looks for deliveries that are due, when idle."""
    webhook_dead_after_hours: int = Field(default=24, ge=1, le=24 * 30)
    """A delivery that has failed for this long is dead: no more attempts (README, "Events
    and webhooks", for the retry schedule)."""
    echo_sql: bool = False

    @field_validator("migration_database_url")
    @classmethod
    def _owner_is_postgres(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("postgresql"):
            raise ValueError("IVSETTLE_MIGRATION_DATABASE_URL is for PostgreSQL only")
        return value

    @field_validator("now")
    @classmethod
    def _now_is_aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("IVSETTLE_NOW must carry a timezone, e.g. 2024-05-02T09:00:00+02:00")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def hold_rules(self) -> HoldRules:
        """The review rules that hold, with their thresholds."""
        return HoldRules(
            enabled=self.review_holds,
            expected_start_days=self.review_expected_start_days,
            back_dated_months=self.review_back_dated_months,
            end_after_dose_days=self.review_end_after_dose_days,
            long_course_days=self.review_long_course_days,
            split_course_days=self.review_split_course_days,
        )

    @property
    def retry_schedule(self) -> RetrySchedule:
        """When failed webhook deliveries are tried again, and when they are dead."""
        return RetrySchedule(dead_after=timedelta(hours=self.webhook_dead_after_hours))

    @property
    def owner_database_url(self) -> str:
        """The URL migrations run with: the owner's, else the service's own."""
        return self.migration_database_url or self.database_url

    @property
    def separate_owner(self) -> bool:
        """Whether the service connects as a role other than the owner's (least privilege)."""
        return self.migration_database_url not in (None, self.database_url)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def load_accounts(path: Path | None) -> dict[str, dict[str, str]]:
    """The account strings by organisation (a payer's CVR or a municipality's code) and
    treatment type (or "default"), from `path`; a file that is not such JSON fails here, at
    start, naming the file."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        accounts = data["accounts"]
        if not all(
            isinstance(org, str) and isinstance(own, dict)
            and all(isinstance(k, str) and isinstance(v, str) and v for k, v in own.items())
            for org, own in accounts.items()
        ):  # fmt: skip
            raise ValueError("each organisation maps treatment types to non-empty strings")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"IVSETTLE_ACCOUNTS_FILE {path}: not an accounts file: {exc}") from exc
    return {org: dict(own) for org, own in accounts.items()}
