"""The service's clock, injected so tests and demos can settle any month."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Copenhagen")


class Clock:
    """Wall-clock time; `pinned` fixes it (IVSETTLE_NOW, tests)."""

    def __init__(self, pinned: datetime | None = None) -> None:
        self.pinned = pinned

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        if self.pinned is not None:
            return self.pinned.astimezone(UTC)
        return datetime.now(UTC)

    def today(self) -> date:
        """Today's date in Europe/Copenhagen: every date rule of the agreement is local."""
        return self.now().astimezone(LOCAL_TZ).date()
