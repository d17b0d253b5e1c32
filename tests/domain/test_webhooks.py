"""Webhook delivery rules (pure): the retry schedule, the dead letter, endpoint URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.webhooks import MAX_URL_LENGTH, RetrySchedule, url_problem

SCHEDULE = RetrySchedule()
T0 = datetime(2024, 6, 15, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(1, 5), (2, 10), (3, 20), (4, 40), (10, 2560), (11, 3600), (12, 3600), (10_000, 3600)],
)
def test_the_wait_doubles_from_5_seconds_up_to_an_hour(failures: int, seconds: int) -> None:
    assert SCHEDULE.delay(failures) == timedelta(seconds=seconds)


def test_a_delay_follows_a_failure() -> None:
    with pytest.raises(ValueError):
        SCHEDULE.delay(0)


def test_the_last_attempt_is_on_the_day_mark_and_a_failure_there_is_dead() -> None:
    day = timedelta(hours=24)
    late = T0 + day - timedelta(minutes=10)
    assert SCHEDULE.next_attempt(T0, late, 30) == T0 + day  # not an hour later
    assert SCHEDULE.next_attempt(T0, T0 + day, 31) is None
    assert SCHEDULE.next_attempt(T0, T0 + day + timedelta(seconds=1), 31) is None
    short = RetrySchedule(dead_after=timedelta(hours=1))
    assert short.next_attempt(T0, T0 + timedelta(minutes=59), 9) == T0 + timedelta(hours=1)
    assert short.next_attempt(T0, T0 + timedelta(hours=1), 10) is None


@given(
    failures=st.integers(1, 200),
    elapsed=st.integers(0, 2 * 86_400),
)
def test_a_next_attempt_is_after_the_failure_and_never_past_the_day(
    failures: int, elapsed: int
) -> None:
    failed_at = T0 + timedelta(seconds=elapsed)
    then = SCHEDULE.next_attempt(T0, failed_at, failures)
    if elapsed >= 86_400:
        assert then is None
    else:
        assert then is not None
        deadline = T0 + SCHEDULE.dead_after
        assert failed_at < then <= min(failed_at + SCHEDULE.delay(failures), deadline)


@pytest.mark.parametrize(
    "url",
    [
        "https://oekonomi.example.dk/ivsettle/webhooks",
        "http://127.0.0.1:8080/hooks?kommune=157",
        "https://xn--konomi-fya.example.dk/",
        "https://[::1]:8443/hooks",
    ],
)
def test_an_http_or_https_url_with_a_host_is_an_endpoint(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://oekonomi.example.dk/hooks", "http"),
        ("file:///etc/passwd", "http"),
        ("javascript:alert(1)", "http"),
        ("oekonomi.example.dk/hooks", "http"),
        ("https:///hooks", "host"),
        ("https://user:secret@oekonomi.example.dk/", "credentials"),
        ("https://oekonomi.example.dk/#frag", "fragment"),
        ("https://oekonomi.example.dk/#", "fragment"),
        ("https://økonomi.example.dk/", "ASCII"),
        ("https://oekonomi.example.dk/a b", "ASCII"),
        ("https://oekonomi.example.dk:99999/", "not a URL"),
        ("https://[::1/", "not a URL"),
        ("https://oekonomi.example.dk/" + "a" * MAX_URL_LENGTH, "characters"),
    ],
)
def test_other_urls_are_refused_with_the_reason(url: str, why: str) -> None:
    problem = url_problem(url)
    assert problem is not None and why in problem
