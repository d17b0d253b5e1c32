"""The edge under attack (issue 12, items 7-9 and 11): the throttle of failed
authentication, refusals of outsiders as counted aggregates, X-Forwarded-For from
configured proxies only, safe request ids, a redacted access log, no CPR-shaped path
segment echoed, sign-out that revokes the session, far periods as pages, not 500."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from service.kit.settings import Settings
from service.main import create_app
from service.models import AuditEvent, DeniedAttempt
from tests.support.api import BASE_URL, Api, MakeApi
from tests.support.factories import CPR_A, completed_course, issue, make_course
from tests.support.problem_record import recording

SIX = re.compile(r"[0-9]{6}")


def client_from(
    app: FastAPI, address: str, key: str | None = None, **headers: str
) -> httpx.AsyncClient:
    """An httpx client that reaches `app` from `address` (the ASGI peer)."""
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(
            app=recording(app), raise_app_exceptions=False, client=(address, 40000)
        ),
        base_url=BASE_URL,
        headers=headers,
    )


async def audit_rows(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def denied(app: FastAPI) -> dict[tuple[str, str], int]:
    """The counted refusals: (address, code) → count, over all minutes."""
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(DeniedAttempt.address, DeniedAttempt.code, func.sum(DeniedAttempt.count))
            .group_by(DeniedAttempt.address, DeniedAttempt.code)
        )  # fmt: skip
        return {(address, code): int(count) for address, code, count in rows}


@pytest.fixture
async def other_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The same database behind a proxy at 127.0.0.1, with a low limit."""
    changed = settings.model_copy(
        update={"trusted_proxies": "127.0.0.1", "auth_failures_per_minute": 3}
    )
    application = create_app(changed)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def parties(api: MakeApi) -> tuple[Api, Api, Api]:
    return await api("hospital", "HGH"), await api("municipality", "157"), await api("region")


# --- item 9: throttling, and no audit rows from outsiders -----------------------------------


async def test_a_thousand_wrong_keys_are_throttled_counted_and_leave_the_audit_log_alone(
    app: FastAPI, api: MakeApi
) -> None:
    region = await api("region")
    limit = app.state.settings.auth_failures_per_minute
    before = await audit_rows(app)
    statuses: list[int] = []
    async with client_from(app, "198.51.100.7") as attacker:
        for i in range(1000):
            r = await attacker.get(
                "/api/v1/courses", headers={"Authorization": f"Bearer ivs_wrong-{i}"}
            )
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert r.json()["code"] == "too_many_attempts"
                assert 1 <= int(r.headers["retry-after"]) <= 60
        # Once blocked, the address is refused before any key is looked at: a good one too.
        blocked = await attacker.get("/api/v1/courses", headers=dict(region.client.headers))
        assert blocked.status_code == 429
    assert statuses == [401] * limit + [429] * (1000 - limit)
    # Another address is not concerned.
    assert (await region.get("/api/v1/courses")).status_code == 200
    # The append-only log did not grow by one row; the refusals are counted instead.
    assert await audit_rows(app) - before <= 1  # at most the region's own list above
    counted = await denied(app)
    assert counted[("198.51.100.7", "invalid_api_key")] == limit
    assert counted[("198.51.100.7", "too_many_attempts")] == 1000 - limit + 1


async def test_refusals_without_a_known_client_are_counted_a_revoked_key_is_audited(
    app: FastAPI, api: MakeApi
) -> None:
    before = await audit_rows(app)
    async with client_from(app, "192.0.2.1") as anonymous:
        assert (await anonymous.get("/api/v1/courses")).status_code == 401
        assert (await anonymous.get("/perioder/2024-05")).status_code == 303  # no cookie
        anonymous.cookies.set("ivsettle_session", "forged", domain="ivsettle.test")
        assert (await anonymous.get("/perioder/2024-05")).status_code == 303
    assert await audit_rows(app) == before
    counted = await denied(app)
    assert counted[("192.0.2.1", "missing_api_key")] == 1
    assert counted[("192.0.2.1", "invalid_session")] == 1


# --- item 7: X-Forwarded-For, request ids, the access log, echoes ----------------------------


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    app: FastAPI, other_app: FastAPI
) -> None:
    # Default: no proxy is trusted, loopback neither; a forged XFF changes nothing.
    async with client_from(app, "127.0.0.1") as peer:
        for i in range(3):
            forged = {"X-Forwarded-For": f"203.0.113.{i}"}
            assert (await peer.get("/api/v1/courses", headers=forged)).status_code == 401
    counted = await denied(app)
    assert counted == {("127.0.0.1", "missing_api_key"): 3}
    # Behind a configured proxy, the address it names is the client's (and is throttled).
    async with client_from(other_app, "127.0.0.1") as proxy:
        statuses = [
            (
                await proxy.get("/api/v1/courses", headers={"X-Forwarded-For": "203.0.113.9"})
            ).status_code
            for _ in range(4)
        ]
        other = await proxy.get("/api/v1/courses", headers={"X-Forwarded-For": "203.0.113.10"})
    assert statuses == [401, 401, 401, 429] and other.status_code == 401
    counted = await denied(other_app)
    assert counted[("203.0.113.9", "missing_api_key")] == 3
    assert counted[("203.0.113.10", "missing_api_key")] == 1


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("cpr0101501234", False),
        ("0101501234", False),
        ("id-010150", False),
        ("x" * 65, False),
        ("has space", False),
        ("batch-7.retry_2", True),
        ("3f2a9c1e-7b4d-4e8a-9c2f-5d6e7f8a9b0c", True),
    ],
)
async def test_an_unsafe_request_id_is_replaced_in_the_answer_and_the_audit_rows(
    app: FastAPI, api: MakeApi, given: str, kept: bool
) -> None:
    municipality = await api("municipality", "157")
    missing = "/api/v1/courses/00000000-0000-0000-0000-000000000000"
    r = await municipality.get(missing, headers={"X-Request-ID": given})
    assert r.status_code == 404
    answered = r.headers["x-request-id"]
    assert (answered == given) is kept
    assert r.json()["request_id"] == answered
    if not kept:
        assert not SIX.search(answered) and len(answered) == 32
    async with app.state.sessionmaker() as session:
        stored = (await session.scalars(select(AuditEvent.request_id))).all()
    assert answered in stored and (kept or given not in stored)


async def test_the_access_log_names_the_route_template_and_a_redacted_query(
    api: MakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    municipality = await api("municipality", "157")
    caplog.set_level(logging.INFO, logger="ivsettle.access")
    # A percent-encoded character right before a CPR number defeated the old mask.
    await municipality.get(f"/api/v1/courses?external_ref=%41{CPR_A}&status=active")
    await municipality.get(f"/api/v1/courses/%41{CPR_A}")
    lines = [r.getMessage() for r in caplog.records if r.name == "ivsettle.access"]
    assert len(lines) == 2, lines
    assert "GET /api/v1/courses?external_ref=*&status=active" in lines[0]
    assert "GET /api/v1/courses/{course_id}" in lines[1]
    assert not any(CPR_A in line or SIX.search(line.split('"')[1]) for line in lines)


async def test_no_cpr_shaped_path_segment_comes_back_in_a_problem_or_a_redirect(
    app: FastAPI, api: MakeApi
) -> None:
    municipality = await api("municipality", "157")
    for path in (f"/api/v1/courses/x{CPR_A}", f"/api/v1/settlements/{CPR_A}-1"):
        r = await municipality.get(path)
        assert r.status_code in (403, 404, 422)
        assert CPR_A not in r.text and not SIX.search(r.json()["instance"])
    async with client_from(app, "192.0.2.2") as web:
        r = await web.get(f"/perioder/x{CPR_A}?q=%41{CPR_A}")
        assert r.status_code == 303 and r.headers["location"] == "/log-ind?naeste=/"
        form = await web.get(f"/log-ind?naeste=/perioder/%30{CPR_A}")
        assert 'name="naeste" value="/"' in form.text and CPR_A not in form.text


# --- item 11: sign-out revokes the session --------------------------------------------------


async def test_sign_out_revokes_a_cookie_copied_before_it(app: FastAPI, api: MakeApi) -> None:
    region = await api("region")
    key = str(region.client.headers["Authorization"]).removeprefix("Bearer ")
    async with client_from(app, "192.0.2.3") as web, client_from(app, "192.0.2.4") as thief:
        assert (await web.post("/log-ind", data={"api_key": key})).status_code == 303
        copied = web.cookies["ivsettle_session"]
        thief.cookies.set("ivsettle_session", copied, domain="ivsettle.test")
        page = await thief.get("/perioder/2024-05")
        assert page.status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        assert (await web.post("/log-ud", data={"csrf": csrf[1]})).status_code == 303
        after = await thief.get("/perioder/2024-05")
        assert after.status_code == 303 and after.headers["location"].startswith("/log-ind")
    assert (await denied(app))[("192.0.2.4", "invalid_session")] == 1


# --- item 8: far periods are pages, not 500 -------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/perioder/9999-12",
        "/perioder/9999-12/kommuner/157",
        "/perioder/9999-12/udsted",
        "/perioder/9999-12/region.xlsx",
        "/perioder/9999-12/kommuner/157.pdf",
        "/perioder/0001-01",
        "/perioder/0001-01/kommuner/157",
        "/perioder/2024-13/kommuner/157",
    ],
)
async def test_far_periods_answer_a_page_not_a_500(
    app: FastAPI, api: MakeApi, parties: tuple[Api, Api, Api], path: str
) -> None:
    hospital, municipality, region = parties
    await completed_course(hospital, municipality, "2024-03-01", "2024-03-20", "antibiotics", CPR_A)
    await issue(region, "2024-03")
    await make_course(hospital, municipality, start_date="2024-04-02")  # still active
    for who in (region, municipality):
        key = str(who.client.headers["Authorization"]).removeprefix("Bearer ")
        async with client_from(app, "192.0.2.5") as web:
            assert (await web.post("/log-ind", data={"api_key": key})).status_code == 303
            r = await web.get(path)
            assert r.status_code < 500, f"{who.role} {path}: {r.status_code}"
            if r.status_code == 422:
                assert "text/html" in r.headers["content-type"]
