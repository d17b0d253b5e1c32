"""§1.5's daytime (07:00-23:00 local) as UTC times of day, so that SQL can tell a visit
"outside hours" without local time (the monitoring repository counts them so)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from service.domain.scope import DAY_ENDS, DAY_STARTS


@dataclass(frozen=True)
class DaytimeWindow:
    """§1.5's 07:00-23:00 local, as UTC times of day, for instants from `since` (None: from
    the start) until the next window's `since`. The database has no time zones (SQLite),
    but within a window the offset is fixed, so a UTC time of day decides."""

    since: datetime | None
    utc_start: time
    utc_end: time


def _utc_time(local: time, offset: timedelta) -> time:
    moment = datetime.combine(date(2000, 1, 2), local) - offset
    if moment.date() != date(2000, 1, 2):
        raise ValueError("a UTC offset that moves 07:00-23:00 across midnight is not supported")
    return moment.time()


def _window(since: datetime | None, offset: timedelta) -> DaytimeWindow:
    return DaytimeWindow(since, _utc_time(DAY_STARTS, offset), _utc_time(DAY_ENDS, offset))


def daytime_windows(start: datetime, end: datetime, tz: tzinfo) -> list[DaytimeWindow]:
    """The windows covering the instants [start, end): one per UTC offset of `tz` (a
    quarter meets at most one daylight-saving change). Transitions are found by stepping
    whole hours, then to the second."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    offset = _offset(hour, tz)
    windows = [_window(None, offset)]
    while hour < end:
        following = hour + timedelta(hours=1)
        if _offset(following, tz) != offset:
            low, high = hour, following  # offset(low) == offset, offset(high) differs
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) // 2
                low, high = (middle, high) if _offset(middle, tz) == offset else (low, middle)
            offset = _offset(high, tz)
            windows.append(_window(high, offset))
        hour = following
    return windows


def _offset(instant: datetime, tz: tzinfo) -> timedelta:
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def outside_hours(instant: datetime, windows: Sequence[DaytimeWindow]) -> bool:
    """The rule the repository writes as SQL: outside its window's UTC daytime."""
    utc = instant.astimezone(UTC)
    window = [w for w in windows if w.since is None or w.since <= utc][-1]
    moment = utc.time().replace(tzinfo=None)
    return moment < window.utc_start or moment > window.utc_end
