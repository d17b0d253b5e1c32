"""The web pages through HTTP on both databases: signing in and out, the session cookie,
access (revoked keys, foreign municipalities, roles), CSRF on issuing, the issue
confirmation, statement filters and downloads; and the pure parts (charts, the cookie seal)
without a database."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from service.main import create_app
from service.models import ApiClient, AuditEvent, DeniedAttempt
from service.web.charts import (
    Bar,
    Series,
    column_chart,
    danish_number,
    hbar_chart,
    nice_axis,
    share_bar,
    staircase_chart,
)
from service.web.pages import safe_next
from service.web.session import COOKIE_NAME, SessionSealer, derive_cookie_key
from tests.support.api import Api, MakeApi
from tests.support.config import NOW, settings_for
from tests.support.cpr_guard import CPR_GUARD
from tests.support.factories import CPR_A, CPR_B, completed_course

SVG = "{http://www.w3.org/2000/svg}"


def key_of(api: Api) -> str:
    return str(api.client.headers["Authorization"]).removeprefix("Bearer ")


Browser = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[Browser]:
    """`await browser(api)` → a cookie-keeping client signed in with that client's key
    (`sign_in=False`: not signed in; `https=True`: served over https)."""
    opened: list[httpx.AsyncClient] = []

    async def make(
        who: Api | None = None, sign_in: bool = True, https: bool = False
    ) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url=f"{'https' if https else 'http'}://ivsettle.test",
            event_hooks=CPR_GUARD.hooks(who.role if who else "anonymous"),
        )
        opened.append(client)
        if who is not None and sign_in:
            r = await client.post("/log-ind", data={"api_key": key_of(who), "naeste": "/"})
            assert r.status_code == 303, r.text
        return client

    yield make
    for client in opened:
        await client.aclose()


@pytest.fixture
async def parties(api: MakeApi) -> tuple[Api, Api, Api]:
    return await api("hospital", "HGH"), await api("municipality", "157"), await api("region")


def cookie_header(response: httpx.Response) -> str:
    (header,) = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    return header


def visible_text(html: str) -> str:
    """The page's text without tags, whitespace collapsed (what a reader sees)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


# --- signing in and out ------------------------------------------------------------------


async def test_sign_in_keeps_a_sealed_httponly_strict_cookie_and_sign_out_clears_it(
    api: MakeApi, browser: Browser
) -> None:
    region = await api("region")
    web = await browser(region, sign_in=False)

    r = await web.get("/perioder/2024-05?x=1")
    assert r.status_code == 303
    assert r.headers["location"] == "/log-ind?naeste=/perioder/2024-05%3Fx%3D1"
    page = await web.get(r.headers["location"])
    assert page.status_code == 200 and 'name="naeste" value="/perioder/2024-05?x=1"' in page.text

    r = await web.post("/log-ind", data={"api_key": key_of(region), "naeste": "/perioder/2024-05"})
    assert r.status_code == 303 and r.headers["location"] == "/perioder/2024-05"
    header = cookie_header(r)
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"httponly", "path"} <= attributes and "secure" not in attributes  # plain http
    assert "samesite=strict" in header.lower() and "max-age" not in attributes
    sealed = web.cookies[COOKIE_NAME]
    assert key_of(region) not in sealed and key_of(region)[4:20] not in sealed

    r = await web.get("/perioder/2024-05")
    assert r.status_code == 200 and "Afregning maj 2024" in r.text
    assert "Regionens økonomi" in r.text
    assert "script-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"

    # Signing out takes the session's CSRF token; without it the session stays.
    assert (await web.post("/log-ud", data={})).status_code == 403
    assert (await web.get("/perioder/2024-05")).status_code == 200
    r = await web.post("/log-ud", data={"csrf": csrf_of(r.text)})
    assert r.status_code == 303 and r.headers["location"] == "/log-ind?besked=ud"
    assert f'{COOKIE_NAME}=""' in cookie_header(r) or "max-age=0" in cookie_header(r).lower()
    assert COOKIE_NAME not in web.cookies
    assert (await web.get("/perioder/2024-05")).status_code == 303
    # The session is revoked on the server: the cookie copied before sign-out is refused.
    web.cookies.set(COOKIE_NAME, sealed, domain="ivsettle.test")
    r = await web.get("/perioder/2024-05")
    assert r.status_code == 303 and r.headers["location"].startswith("/log-ind")
    # The old cookie is gone from this browser; signing out does not revoke the key itself.
    assert (await region.get("/api/v1/settlements/2024-05")).status_code == 200


async def test_over_https_the_cookie_is_secure(api: MakeApi, browser: Browser) -> None:
    region = await api("region")
    web = await browser(region, sign_in=False, https=True)
    r = await web.post("/log-ind", data={"api_key": key_of(region)})
    assert r.status_code == 303
    assert "secure" in [p.strip().lower() for p in cookie_header(r).split(";")]
    assert (await web.get("/perioder/2024-05")).status_code == 200


async def test_a_wrong_key_is_refused_on_the_form_and_counted(
    app: FastAPI, browser: Browser
) -> None:
    web = await browser()
    r = await web.post("/log-ind", data={"api_key": "ivs_not-a-key", "naeste": "/"})
    assert r.status_code == 401 and "Nøglen er ukendt eller spærret" in r.text
    assert COOKIE_NAME not in web.cookies
    assert (await web.post("/log-ind", data={"api_key": "  "})).status_code == 401
    r = await web.post(
        "/log-ind", data={"api_key": "ivs_x"}, headers={"Origin": "https://evil.example"}
    )
    assert r.status_code == 403 and COOKIE_NAME not in web.cookies
    async with app.state.sessionmaker() as session:
        denied = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied"))
        ).all()
        counted = {
            (row.address, row.code): row.count
            for row in (await session.scalars(select(DeniedAttempt))).all()
        }
    # No client is known behind any of them: counted per address and minute, not audited.
    assert denied == []
    assert counted == {
        ("127.0.0.1", "invalid_api_key"): 1,
        ("127.0.0.1", "missing_api_key"): 1,
        ("127.0.0.1", "cross_site_request"): 1,
    }


@pytest.mark.parametrize(
    "path", ["//evil.example/x", "https://evil.example", "/\\evil", "/log-ind", "", None]
)
def test_after_sign_in_only_local_paths(path: str | None) -> None:
    assert safe_next(path) == "/"
    assert safe_next("/perioder/2024-05/kommuner/157?trin=1") == (
        "/perioder/2024-05/kommuner/157?trin=1"
    )


async def test_a_revoked_key_is_refused_at_once(
    app: FastAPI, api: MakeApi, browser: Browser
) -> None:
    region = await api("region")
    web = await browser(region)
    assert (await web.get("/perioder/2024-05")).status_code == 200
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(ApiClient).where(ApiClient.id == region.client_id).values(revoked_at=NOW)
        )
        await session.commit()
    r = await web.get("/perioder/2024-05")
    assert r.status_code == 303
    assert (
        r.headers["location"].startswith("/log-ind?") and "besked=ugyldig" in r.headers["location"]
    )
    assert COOKIE_NAME not in web.cookies  # cleared
    assert "ikke længere gyldig" in (await web.get(r.headers["location"])).text
    # Signing in again with the revoked key fails.
    assert (await web.post("/log-ind", data={"api_key": key_of(region)})).status_code == 401


async def test_a_tampered_or_foreign_cookie_is_no_session(api: MakeApi, browser: Browser) -> None:
    region = await api("region")
    web = await browser(region)
    sealed = web.cookies[COOKIE_NAME]
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    web.cookies.set(COOKIE_NAME, flipped, domain="ivsettle.test")
    assert (await web.get("/perioder/2024-05")).status_code == 303
    other = SessionSealer(derive_cookie_key(b"another service's key" * 2))
    web.cookies.set(COOKIE_NAME, other.seal(other.new(key_of(region))), domain="ivsettle.test")
    assert (await web.get("/perioder/2024-05")).status_code == 303


# --- who sees what -----------------------------------------------------------------------


async def test_a_municipality_sees_only_its_own_statements_and_downloads(
    app: FastAPI, parties: tuple[Api, Api, Api], api: MakeApi, browser: Browser
) -> None:
    hospital, gentofte, _region = parties
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    web = await browser(gentofte)

    r = await web.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/perioder/2024-05/kommuner/157"
    own = await web.get("/perioder/2024-03/kommuner/157")
    assert own.status_code == 200 and "Gentofte" in own.text
    assert "6.915,00 kr." in own.text
    assert (await web.get("/perioder/2024-03/kommuner/157.xlsx")).status_code == 200

    for path in (
        "/perioder/2024-03/kommuner/101",
        "/perioder/2024-03/kommuner/101.xlsx",
        "/perioder/2024-03/kommuner/101.pdf",
        "/perioder/2024-03/kommuner/999",
    ):
        r = await web.get(path)
        assert r.status_code == 404, path
        assert "text/html" in r.headers["content-type"] and "Ikke fundet" in r.text
        assert "København" not in r.text
    # The region's pages are not for a municipality.
    for path in ("/perioder/2024-03", "/perioder/2024-03/udsted", "/perioder/2024-03/region.xlsx"):
        r = await web.get(path)
        assert r.status_code == 403 and "Ingen adgang" in r.text, path
    async with app.state.sessionmaker() as session:
        denied = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied"))
        ).all()
    assert sum(1 for e in denied if e.client_id == gentofte.client_id) == 7

    # A hospital signs in and finds a page saying there is nothing for it here.
    web_hospital = await browser(hospital)
    r = await web_hospital.get("/")
    assert r.status_code == 200 and "Her er intet for dig" in r.text
    assert (await web_hospital.get("/perioder/2024-03/kommuner/157")).status_code == 403


# --- issuing -------------------------------------------------------------------------------


async def test_issuing_asks_for_confirmation_naming_period_and_total_and_needs_the_csrf_token(
    parties: tuple[Api, Api, Api], browser: Browser
) -> None:
    hospital, gentofte, region = parties
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    await completed_course(hospital, gentofte, "2024-03-02", "2024-03-03", "fluids", CPR_B)
    web = await browser(region)

    overview = await web.get("/perioder/2024-03")
    assert overview.status_code == 200
    assert 'href="/perioder/2024-03/udsted"' in overview.text
    assert "8.258,00 kr." in overview.text  # 6,915 + 1,343
    confirm = await web.get("/perioder/2024-03/udsted")
    text = visible_text(confirm.text)
    assert "Du udsteder afregningen for marts 2024 for alle 29 kommuner, i alt 8.258,00 kr." in (
        text
    )
    token = csrf_of(confirm.text)

    # Without the token, or with another session's: refused, nothing issued.
    for data in ({}, {"csrf": "forged"}):
        r = await web.post("/perioder/2024-03/udsted", data=data)
        assert r.status_code == 403 and "Formularen er udløbet" in r.text
    # Posted from another site (even with the token, say a leaked one): refused.
    r = await web.post(
        "/perioder/2024-03/udsted",
        data={"csrf": token},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403 and "kom fra et andet websted" in r.text
    assert (await region.get("/api/v1/settlements/2024-03")).json()["state"] == "draft"

    r = await web.post(
        "/perioder/2024-03/udsted", data={"csrf": token, "confirmed_total": "8258.00"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/perioder/2024-03?udstedt=ny"
    issued = (await region.get("/api/v1/settlements/2024-03")).json()
    assert issued["state"] == "issued" and issued["total"] == "8258.00"
    page = await web.get(r.headers["location"])
    assert "marts 2024 er udstedt for alle 29 kommuner, i alt 8.258,00 kr." in visible_text(
        page.text
    ).replace("Marts", "marts")
    assert 'href="/perioder/2024-03/udsted"' not in page.text
    # Again: the one issue, said so.
    r = await web.post("/perioder/2024-03/udsted", data={"csrf": token})
    assert r.headers["location"] == "/perioder/2024-03?udstedt=allerede"
    assert "allerede udstedt" in (await web.get("/perioder/2024-03/udsted")).text


async def test_an_issue_the_service_refuses_is_explained_in_danish(
    api: MakeApi, browser: Browser
) -> None:
    region = await api("region")
    web = await browser(region)
    token = csrf_of((await web.get("/perioder/2024-06/udsted")).text)
    r = await web.post("/perioder/2024-06/udsted", data={"csrf": token})  # June is not over
    assert r.status_code == 409
    assert "juni 2024 blev ikke udstedt" in visible_text(r.text).lower()
    assert "Perioden er ikke slut endnu" in r.text and "period_not_ended" in r.text
    r = await web.post("/perioder/2024-04/udsted", data={"csrf": token})
    assert r.status_code == 303
    r = await web.post("/perioder/2024-02/udsted", data={"csrf": token})
    assert r.status_code == 409 and "måneden lige efter den senest udstedte" in r.text
    r = await web.get("/perioder/2024-02")
    assert r.status_code == 409 and "aldrig udstedt" in r.text
    r = await web.get("/perioder/2024-13")
    assert r.status_code == 422 and "En periode skrives ÅÅÅÅ-MM" in r.text


# --- statements ----------------------------------------------------------------------------


async def test_statement_filters_totals_adjustments_and_downloads(
    app: FastAPI, parties: tuple[Api, Api, Api], browser: Browser
) -> None:
    hospital, gentofte, region = parties
    ex1 = await completed_course(
        hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A
    )
    for period in ("2024-03", "2024-04"):
        assert (await region.post(f"/api/v1/settlements/{period}/issue")).status_code == 201
    await completed_course(hospital, gentofte, "2024-05-02", "2024-05-06", "fluids", CPR_B)
    r = await gentofte.post(
        f"/api/v1/courses/{ex1['id']}/corrections",
        json={"end_date": "2024-04-03", "reason": "the last two days were not given"},
    )
    assert r.status_code == 200, r.text
    web = await browser(region)

    page = await web.get("/perioder/2024-05/kommuner/157")
    assert page.status_code == 200
    text = visible_text(page.text)
    # May: the fluids course (fee + 2 day fees) and the correction of April apart.
    assert "Efterreguleringer" in text and "Rettelse" in text and "-2.970,00 kr." in text
    assert "1.343,00 kr." in text and "682,00 kr." in text
    assert "IV-antibiotika" in text and "Trin 1" in text
    total = (await region.get("/api/v1/settlements/2024-05/statements/157")).json()["total"]
    assert total == "-945.00"
    assert re.search(r'id="statement-total">-945,00 kr\.<', page.text)

    only_adjustments = await web.get("/perioder/2024-05/kommuner/157?regulering=ja")
    regular_table = only_adjustments.text.split('id="regular-lines"')[1].split("</table>")[0]
    assert "Ingen linjer med de valgte filtre" in regular_table
    assert re.search(r'id="shown-total">-2.970,00 kr\.<', only_adjustments.text)
    day_fees = await web.get("/perioder/2024-05/kommuner/157?ydelse=day_fee&behandling=fluids")
    assert re.search(r'id="shown-total">682,00 kr\.<', day_fees.text)
    assert '<option value="day_fee" selected>' in day_fees.text
    nonsense = await web.get("/perioder/2024-05/kommuner/157?trin=9&ydelse=%3Cscript%3E")
    assert nonsense.status_code == 200 and "<script>" not in nonsense.text

    # Downloads: the same bytes as the API's, for an issued statement.
    for fmt in ("csv", "xlsx", "pdf"):
        mine = await web.get(f"/perioder/2024-04/kommuner/157.{fmt}")
        theirs = await region.get(f"/api/v1/settlements/2024-04/statements/157.{fmt}")
        assert mine.status_code == 200 and mine.content == theirs.content, fmt
        assert mine.headers["content-disposition"] == theirs.headers["content-disposition"]
    assert (await web.get("/perioder/2024-04/kommuner/157.exe")).status_code == 404
    assert (await web.get("/perioder/2024-05/region.xlsx")).status_code == 200


async def test_the_staircase_page_draws_the_count_against_the_thresholds(
    parties: tuple[Api, Api, Api], browser: Browser
) -> None:
    hospital, gentofte, region = parties
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    assert (await region.post("/api/v1/settlements/2024-03/issue")).status_code == 201
    for who in (region, gentofte):
        web = await browser(who)
        r = await web.get("/trappemodel")
        assert r.status_code == 303 and r.headers["location"] == "/trappemodel/2024"
        page = await web.get("/trappemodel/2024")
        assert page.status_code == 200
        svg = page.text.split('id="staircase-chart">')[1].split("</figure>")[0]
        root = ET.fromstring(svg)
        (bar,) = [e for e in root.iter(f"{SVG}rect") if e.get("class") == "bar"]
        assert bar.get("data-value") == "1"
        assert "1 forløb talt i 2024" in svg and "1.500" in svg and "3.000" in svg
        assert "1.501–3.000" in page.text
    assert (await web.get("/trappemodel/1999")).status_code == 404


def svgs_of(html: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", html, flags=re.S)]


async def test_monitoring_charts_for_the_region_one_municipality_and_its_own_only(
    parties: tuple[Api, Api, Api], browser: Browser
) -> None:
    hospital, gentofte, region = parties
    await completed_course(hospital, gentofte, "2024-03-04", "2024-03-12", "antibiotics", CPR_A)
    await completed_course(hospital, gentofte, "2024-02-05", "2024-02-07", "fluids", CPR_B)
    web = await browser(region)
    r = await web.get("/overvaagning")
    assert r.status_code == 303 and r.headers["location"] == "/overvaagning/2024Q1"
    page = await web.get("/overvaagning/2024Q1")
    assert page.status_code == 200
    assert "Overvågning 1. kvartal 2024: hele regionen" in visible_text(page.text)
    charts = svgs_of(page.text)
    assert len(charts) == 8
    referrals = next(
        c for c in charts if "Henvisninger, accept" in (c.findtext(f"{SVG}title") or "")
    )
    heights = {
        (b.get("data-series"), b.get("data-value")) for b in referrals.iter(f"{SVG}rect")
        if b.get("class") == "bar"
    }  # fmt: skip
    # The courses started in Q1; their referrals were received "now" (June: Q2).
    assert ("Forløb startet", "1") in heights and ("Henvist", "1") not in heights
    q2 = await web.get("/overvaagning/2024Q2")
    assert re.search(r'id="referred">2<', q2.text)
    assert 'id="monitoring-municipalities"' in page.text and "Gentofte" in page.text
    assert '<option value="157">Gentofte</option>' in page.text
    one = await web.get("/overvaagning/2024Q1?kommune=157")
    assert "Overvågning 1. kvartal 2024: Gentofte" in visible_text(one.text)
    assert 'id="monitoring-municipalities"' not in one.text
    assert 'href="/overvaagning/2024Q2?kommune=157"' in one.text
    csv = await web.get("/overvaagning/2024Q1.csv?kommune=157")
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    bad = await web.get("/overvaagning/2024Q5")
    assert bad.status_code == 422 and "Et kvartal skrives" in bad.text

    own = await browser(gentofte)
    r = await own.get("/overvaagning/2024Q1")
    assert r.status_code == 200 and "Overvågning 1. kvartal 2024: Gentofte" in visible_text(r.text)
    assert "hele regionen" not in r.text and "København" not in r.text
    assert len(svgs_of(r.text)) == 8
    for path in ("/overvaagning/2024Q1?kommune=101", "/overvaagning/2024Q1.xlsx?kommune=101"):
        r = await own.get(path)
        assert r.status_code == 404 and "Ikke fundet" in r.text, path
    hospital_web = await browser(hospital)
    assert (await hospital_web.get("/overvaagning/2024Q1")).status_code == 403


def test_web_pages_are_not_in_the_api_contract(tmp_path: Path) -> None:
    app = create_app(settings_for("sqlite+aiosqlite:///:memory:", tmp_path))
    paths = app.openapi()["paths"]
    assert all(path.startswith("/api/v1/") for path in paths)


# --- the session seal, without a database ------------------------------------------------


def test_the_seal_opens_only_its_own_fresh_untampered_cookies() -> None:
    sealer = SessionSealer(derive_cookie_key(b"k" * 32), max_age=3600)
    session = sealer.new("ivs_secret", now=1_000_000)
    sealed = sealer.seal(session)
    assert "ivs_secret" not in sealed
    assert sealer.open(sealed, now=1_000_100) == session
    assert sealer.open(sealed, now=1_000_000 + 3600 + 61) is None  # too old
    assert sealer.open(sealed, now=1_000_000 - 120) is None  # from the future
    assert SessionSealer(derive_cookie_key(b"x" * 32)).open(sealed, now=1_000_100) is None
    for broken in ("", "not base64!", sealed[:20], sealed[:-2] + "AA", "A" * len(sealed)):
        assert sealer.open(broken, now=1_000_100) is None
    assert session.csrf_ok(session.csrf_token) and not session.csrf_ok("x")
    assert not session.csrf_ok(None) and not session.csrf_ok("")
    assert sealer.new("k").csrf_token != sealer.new("k").csrf_token


# --- charts, without a database ----------------------------------------------------------


def bars_of(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.find(f"{SVG}title") is not None
    return [e for e in root.iter(f"{SVG}rect") if e.get("class") == "bar"]


def test_horizontal_bars_are_proportional_and_credits_go_left() -> None:
    svg = hbar_chart(
        [Bar("Gentofte", 400), Bar("Ballerup", 100), Bar("<Dragør & co>", -200)],
        title="I alt",
    )
    bars = bars_of(svg)
    widths = [float(b.get("width", "")) for b in bars]
    assert widths[0] / widths[1] == pytest.approx(4, rel=1e-3) and widths[0] / widths[
        2
    ] == pytest.approx(2, rel=1e-3)
    zero = float(bars[0].get("x", ""))
    assert float(bars[2].get("x", "")) + widths[2] == pytest.approx(zero, rel=1e-3)  # ends at zero
    assert "&lt;Dragør &amp; co&gt;" in svg  # labels are escaped
    empty = hbar_chart([], title="Tom")
    assert bars_of(empty) == [] and "ingen data" in empty
    zeros = bars_of(hbar_chart([Bar("a", 0)], title="Nul"))
    assert float(zeros[0].get("width", "")) == 0


def test_columns_are_proportional_within_and_across_series() -> None:
    svg = column_chart(
        ["K1", "K2"],
        [Series("Henvist", [10, 20]), Series("Accepteret", [5, 15])],
        title="Henvisninger",
    )
    heights = {
        (b.get("data-series"), b.get("data-value")): float(b.get("height", ""))
        for b in bars_of(svg)
    }
    assert heights[("Henvist", "20")] == pytest.approx(2 * heights[("Henvist", "10")], rel=1e-3)
    assert heights[("Accepteret", "15")] == pytest.approx(
        3 * heights[("Accepteret", "5")], rel=1e-3
    )
    assert "Accepteret" in svg  # the legend
    with pytest.raises(ValueError):
        column_chart(["a"], [Series("x", [1, 2])], title="t")
    with pytest.raises(ValueError):
        column_chart(["a"], [Series("x", [-1])], title="t")
    assert bars_of(column_chart(["a"], [Series("x", [0])], title="t"))[0].get("height") == "0"


def test_a_share_bar_splits_by_share_and_the_staircase_marks_the_count() -> None:
    parts = bars_of(share_bar([Bar("Eget hjem", 3), Bar("Klinik", 1)], title="Hjem/klinik"))
    assert float(parts[0].get("width", "")) == pytest.approx(
        3 * float(parts[1].get("width", "")), rel=1e-3
    )
    assert "75 %" in share_bar([Bar("Eget hjem", 3), Bar("Klinik", 1)], title="x")
    assert all(float(b.get("width", "")) == 0 for b in bars_of(share_bar([Bar("a", 0)], title="x")))

    one = bars_of(staircase_chart(750, [1500, 3000], year=2024))[0]
    two = bars_of(staircase_chart(1500, [1500, 3000], year=2024))[0]
    assert float(two.get("width", "")) == pytest.approx(2 * float(one.get("width", "")), rel=1e-3)
    root = ET.fromstring(staircase_chart(4000, [1500, 3000], year=2025))
    tiers = [e for e in root.iter(f"{SVG}rect") if e.get("class") == "tier"]
    assert [t.get("data-tier") for t in tiers] == ["1", "2", "3"]
    assert float(tiers[1].get("width", "")) == pytest.approx(
        float(tiers[0].get("width", "")), rel=1e-3
    )
    with pytest.raises(ValueError):
        staircase_chart(-1, [1500, 3000], year=2024)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (1500, "1.500"), (-2970, "-2.970"), (12.5, "12,5"), (1234567, "1.234.567")],
)
def test_danish_numbers(value: float, text: str) -> None:
    assert danish_number(value) == text


@pytest.mark.parametrize(
    ("value", "integers", "axis"),
    [
        (0, True, (1, 1)),
        (1, True, (1, 1)),
        (1, False, (1, 0.2)),
        (7, True, (8, 2)),
        (25, True, (25, 5)),
        (32, True, (40, 10)),
        (117, True, (150, 50)),
        (480, True, (500, 100)),
    ],
)
def test_axis_ticks_are_round_numbers(
    value: int, integers: bool, axis: tuple[float, float]
) -> None:
    top, step = nice_axis(value, integers)
    assert (top, step) == pytest.approx(axis)
    assert top >= value and top / step <= 5 + 1e-9


def test_unique_ids_keep_charts_apart() -> None:
    a, b = hbar_chart([Bar("x", 1)], title="A"), hbar_chart([Bar("x", 1)], title="B")
    ids = {e.get("id") for svg in (a, b) for e in ET.fromstring(svg).iter() if e.get("id")}
    assert len(ids) == 4
