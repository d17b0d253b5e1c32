"""Webhook delivery rules (pure): the retry schedule, the dead letter, and what an
endpoint's URL may be.

A delivery is tried at once; after each failure it waits `first_delay` doubled for every
failure before (5 s, 10 s, 20 s, …), never more than `max_delay` (1 h). It stays pending
for `dead_after` (a day) from its first failure: the last attempt is made at that mark,
and if it fails too the delivery is dead (no more attempts; the event stays in the pull
API). No jitter: attempts are spread by the events themselves, and a schedule that can be
stated is one finance can be told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class RetrySchedule:
    """When a failed delivery is tried again (IVSETTLE_WEBHOOK_DEAD_AFTER_HOURS)."""

    first_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(hours=1)
    dead_after: timedelta = timedelta(hours=24)

    def delay(self, failures: int) -> timedelta:
        """The wait after the `failures`-th failure in a row (1-based): `first_delay` ×
        2^(failures − 1), at most `max_delay`."""
        if failures < 1:
            raise ValueError("a delay follows a failure: failures ≥ 1")
        # Doubling stops once past the cap (2^(n−1) grows without bound).
        delay = self.first_delay
        for _ in range(failures - 1):
            delay *= 2
            if delay >= self.max_delay:
                return self.max_delay
        return min(delay, self.max_delay)

    def next_attempt(
        self, first_failed_at: datetime, failed_at: datetime, failures: int
    ) -> datetime | None:
        """When to try again after a failure at `failed_at`, the `failures`-th in a row
        since the first at `first_failed_at`; None: the delivery is dead (it has failed for
        `dead_after`). The last attempt falls on the `dead_after` mark, not past it."""
        deadline = first_failed_at + self.dead_after
        if failed_at >= deadline:
            return None
        return min(failed_at + self.delay(failures), deadline)


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook endpoint, or None: an absolute http or https URL
    with a host, in printable ASCII (an international name is given in its punycode),
    without credentials or a fragment, at most MAX_URL_LENGTH characters."""
    if len(url) > MAX_URL_LENGTH:
        return f"at most {MAX_URL_LENGTH} characters"
    if not url.isascii() or not url.isprintable() or " " in url:
        return "printable ASCII without spaces (percent-encode, punycode a name)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number 0-65535)
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https"):
        return "an http:// or https:// URL"
    if not parts.hostname:
        return "a URL with a host"
    if parts.username is not None or parts.password is not None:
        return "no credentials in the URL (the signature authenticates the service)"
    if parts.fragment or url.endswith("#"):
        return "no fragment (#…) in the URL"
    return None
