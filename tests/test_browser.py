"""The web pages in a real browser: Chromium (Debian's, /usr/bin/chromium) driven by
Playwright against a real server (uvicorn in a subprocess) on a SQLite database with a small
simulated region (three months, about 60 courses, nothing issued yet).

The region's controller approves the month and may not issue it; region finance, another
user, signs in and issues it, opens a statement, downloads its XLSX and finds
the page's total in it; a municipality signs in and finds no other municipality's data.
Screenshots of the overview and the staircase chart go to tests/artifacts/screenshots/
(git-ignored). Without the browser or the playwright package these tests are skipped, with
the reason, except under CI=true, where they fail: run scripts/browser-deps first.

Sync tests on purpose: Playwright's sync API cannot run inside a running asyncio loop.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import openpyxl
import pytest

from service.access.clients import create_client
from service.domain.settlement import Period
from service.simulation.plan import SimulationOptions
from service.simulation.run import simulate
from tests.support.cli import free_port
from tests.support.factories import fresh_cpr, referral_payload
from tests.support.live_server import prepared_server, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
NOW = "2024-04-15T10:00:00+02:00"  # January to March have ended; nothing is issued yet
IN_CI = os.environ.get("CI", "").lower() == "true"
LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (scripts/browser-deps installs Debian's chromium)"
    return None


@dataclass
class Server:
    url: str
    keys: dict[str, str]


@pytest.fixture(scope="module")
def browser_available() -> None:
    reason = missing_browser()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(
            f"browser tests cannot run: {reason}. CI=true requires them: run "
            "scripts/browser-deps (as .ci/run does) and pip install -e '.[dev]'.",
            pytrace=False,
        )
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="module")
def server(browser_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server on a free port, over a freshly simulated region (set up before the
    browser starts: Playwright's sync API keeps an event loop running in this thread)."""
    tmp = tmp_path_factory.mktemp("browser")
    env, settings = prepared_server(tmp, NOW)
    options = SimulationOptions(Period(2024, 1), 3, 5700, 0.04, 7, issue=False)
    summary = asyncio.run(simulate(settings, options))
    assert not summary.errors, summary.errors
    keys = {
        name: asyncio.run(create_client(settings, name, role, org))
        for name, role, org in (
            ("region", "region", None),
            ("controller", "region", None),
            ("gentofte", "municipality", "157"),
            ("hospital", "hospital", "HGH"),
        )
    }
    with running_server(env, free_port(), tmp / "server.log") as url:
        yield Server(url, keys)


@pytest.fixture(scope="module")
def chromium(server: Server) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(browser: Browser, server: Server, who: str, **context: Any) -> Page:
    page = browser.new_context(accept_downloads=True, locale="da-DK", **context).new_page()
    page.goto(server.url + "/")
    assert "/log-ind" in page.url
    page.fill("#api_key", server.keys[who])
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def kr(text: str) -> Decimal:
    """ "-2.970,00 kr." → Decimal("-2970.00")."""
    match = re.search(r"-?[\d.]+,\d{2}", text)
    assert match, f"no amount in {text!r}"
    return Decimal(match.group().replace(".", "").replace(",", "."))


def screenshot_ok(path: Path) -> None:
    assert path.exists() and path.stat().st_size > 1000, path
    assert path.read_bytes()[:8] == PNG_MAGIC, path


def test_region_finance_issues_a_month_opens_a_statement_and_downloads_it(
    chromium: Browser, server: Server, tmp_path: Path
) -> None:
    # Four eyes (on, as by default): the controller approves the draft ...
    checker = sign_in(chromium, server, "controller", viewport=LAPTOP)
    assert checker.url.endswith("/perioder/2024-03"), checker.url  # the month just ended
    assert "Ikke godkendt endnu" in checker.inner_text("#godkendelse")
    checker.click("text=Godkend kladden")
    checker.wait_for_load_state()
    assert checker.url.endswith("/perioder/2024-03?godkendt=ny")
    assert "Godkendt af controller" in checker.inner_text("#godkendelse")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    checker.screenshot(path=str(SCREENSHOTS / "approved.png"), full_page=True)
    # ... and may not issue it herself.
    checker.click("text=Udsted marts 2024")
    checker.click("button.primary")
    checker.wait_for_load_state()
    assert "Du godkendte selv kladden" in checker.inner_text(".problem")

    # Finance, another user, issues what was approved.
    page = sign_in(chromium, server, "region", viewport=LAPTOP)
    assert page.url.endswith("/perioder/2024-03"), page.url
    assert "Udkast" in page.inner_text("h1")
    assert "Godkendt af controller" in page.inner_text("#godkendelse")
    draft_total = kr(page.inner_text("#region-total"))
    assert draft_total > 0

    page.click("text=Udsted marts 2024")
    assert "Godkendt af controller" in page.inner_text("#approval-text")
    confirm = page.inner_text("#confirm-text")
    assert "marts 2024" in confirm and kr(confirm) == draft_total
    page.click("button.primary")
    page.wait_for_load_state()
    assert page.url.endswith("/perioder/2024-03?udstedt=ny")
    assert "er udstedt" in page.inner_text(".notice") and "Udstedt" in page.inner_text("h1")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)

    # The municipality with the largest total: open its statement.
    rows = page.locator("#kommuner tbody tr")
    totals = [kr(rows.nth(i).locator("td").nth(5).inner_text()) for i in range(rows.count())]
    best = totals.index(max(totals))
    code = rows.nth(best).locator("td").first.inner_text().strip()
    rows.nth(best).locator("a").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/perioder/2024-03/kommuner/{code}")
    page_total = kr(page.inner_text("#statement-total"))
    assert page_total == totals[best]

    with page.expect_download() as info:
        page.click("#downloads >> text=Hent XLSX")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    workbook = openpyxl.load_workbook(saved, read_only=True)
    summary_rows = list(workbook["Opsummering"].iter_rows(values_only=True))
    (xlsx_total,) = [row[1] for row in summary_rows if row and row[0] == "I alt"]
    assert Decimal(str(xlsx_total)) == page_total
    lines = list(workbook["Linjer"].iter_rows(values_only=True))
    amount = lines[0].index("Beløb (kr.)")
    assert sum(Decimal(str(row[amount])) for row in lines[1:] if row[0]) == page_total
    api = httpx.get(
        f"{server.url}/api/v1/settlements/2024-03/statements/{code}",
        headers={"Authorization": f"Bearer {server.keys['region']}"},
    )
    assert Decimal(api.json()["total"]) == page_total

    page.goto(server.url + "/trappemodel/2024")
    counted = int(page.inner_text("#counted").replace(".", ""))
    assert counted > 0 and f"{counted} forløb talt i 2024" in page.inner_html("#staircase-chart")
    page.locator("#staircase-chart").screenshot(path=str(SCREENSHOTS / "staircase.png"))

    page.goto(server.url + "/overvaagning")
    assert page.url.endswith("/overvaagning/2024Q1") and "hele regionen" in page.inner_text("h1")
    assert page.locator("svg.chart").count() == 8
    assert int(page.inner_text("#referred").replace(".", "")) > 0
    page.screenshot(path=str(SCREENSHOTS / "monitoring.png"), full_page=True)
    for name in ("approved.png", "overview.png", "staircase.png", "monitoring.png"):
        screenshot_ok(SCREENSHOTS / name)


def test_a_statement_line_opens_its_course_and_the_region_releases_a_hold(
    chromium: Browser, server: Server
) -> None:
    """After the first test issued March: a line of an issued statement opens its course's
    page; a course completed with no dose given is held in April's draft, and the region
    releases it there with a note."""
    page = sign_in(chromium, server, "region", viewport=LAPTOP)
    page.goto(server.url + "/perioder/2024-03/kommuner/157")
    link = page.locator("#regular-lines a.course").first
    number = link.inner_text().strip()
    assert re.fullmatch(r"IV-2024-\d{5}", number), number
    link.click()
    page.wait_for_load_state()
    assert "/forloeb/" in page.url and page.inner_text("#course-number") == number
    assert page.locator("#visits-chart svg rect.bar").count() > 0
    assert page.locator("#billed a").first.inner_text().startswith("marts 2024")
    page.screenshot(path=str(SCREENSHOTS / "course.png"), full_page=True)

    auth = {"Authorization": f"Bearer {server.keys['hospital']}"}
    referral = httpx.post(
        f"{server.url}/api/v1/referrals",
        headers=auth,
        json=referral_payload(
            patient_cpr=fresh_cpr(), expected_start_date="2024-04-08", hospital_code="HGH"
        ),
    )
    assert referral.status_code == 201, referral.text
    auth = {"Authorization": f"Bearer {server.keys['gentofte']}"}
    course = httpx.post(
        f"{server.url}/api/v1/referrals/{referral.json()['id']}/accept",
        headers=auth,
        json={"start_date": "2024-04-08", "setting": "home"},
    ).json()
    done = httpx.post(
        f"{server.url}/api/v1/courses/{course['id']}/complete",
        headers=auth,
        json={"end_date": "2024-04-10", "reason": "completed"},
    )
    assert done.status_code == 200, done.text

    page.goto(server.url + "/perioder/2024-04")
    held = page.locator(f"#holds li[data-course='{course['id']}']")
    assert "uden at der er registreret en givet dosis" in held.inner_text()
    held.locator(f"text={course['number']}").click()
    page.wait_for_load_state()
    assert page.locator("#review li[data-rule='completed_without_dose']").count() == 1
    page.go_back()
    held = page.locator(f"#holds li[data-course='{course['id']}']")
    held.locator("input[name=note]").fill("Doserne er givet; kommunen eftersender besøgene")
    page.screenshot(path=str(SCREENSHOTS / "hold.png"), full_page=True)
    held.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.url.endswith("/perioder/2024-04?frigivet=ja")
    assert "Forløbet er frigivet" in page.inner_text(".notice")
    assert page.locator(f"#holds li[data-course='{course['id']}']").count() == 0
    page.goto(f"{server.url}/forloeb/{course['id']}")
    assert "Doserne er givet" in page.inner_text("#releases")
    for name in ("course.png", "hold.png"):
        screenshot_ok(SCREENSHOTS / name)


def test_a_municipality_on_a_tablet_sees_only_its_own(chromium: Browser, server: Server) -> None:
    page = sign_in(chromium, server, "gentofte", viewport=TABLET, has_touch=True)
    assert page.url.endswith("/perioder/2024-03/kommuner/157"), page.url
    assert "Gentofte" in page.inner_text("h1")
    # Readable on a tablet: the page itself does not scroll sideways (wide tables do, inside).
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(SCREENSHOTS / "statement-tablet.png"), full_page=True)
    screenshot_ok(SCREENSHOTS / "statement-tablet.png")
    nav = page.inner_text("header nav")
    assert "Perioder" not in nav and "Opgørelser" in nav
    others = ("København", "Frederiksberg", "Ballerup", "Bornholm", "Helsingør")
    assert not any(name in page.content() for name in others)

    for path, status, heading in (
        ("/perioder/2024-03/kommuner/101", 404, "Ikke fundet"),
        ("/perioder/2024-03", 403, "Ingen adgang"),
    ):
        response = page.goto(server.url + path)
        assert response is not None and response.status == status, path
        assert page.inner_text("h1") == heading
        assert not any(name in page.content() for name in others)
    response = page.request.get(server.url + "/perioder/2024-03/kommuner/101.xlsx")
    assert response.status == 404
    page.click("header nav >> text=Overvågning")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Overvågning 1. kvartal 2024: Gentofte"
    assert not any(name in page.content() for name in others)
    response = page.goto(server.url + "/overvaagning/2024Q1?kommune=101")
    assert response is not None and response.status == 404

    page.click("text=Log ud")
    page.wait_for_load_state()
    assert "/log-ind" in page.url and "Du er logget ud" in page.content()
    page.goto(server.url + "/perioder/2024-03/kommuner/157")
    assert "/log-ind" in page.url


def test_the_cookie_is_httponly_and_strict_in_the_browser(
    chromium: Browser, server: Server
) -> None:
    page = sign_in(chromium, server, "hospital", viewport=LAPTOP)
    assert "Her er intet for dig" in page.inner_text("h1")
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert server.keys["hospital"] not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # no script can read it
