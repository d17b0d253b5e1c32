"""The web pages (Danish): sign-in, the region's period overview and issuing, statements
with filters and downloads, and the staircase. Monitoring is in service.web.monitoring.

Every page calls the same use cases as the API (service.settlement.service, .issue and
.downloads), so what a page shows is what the API answers, with the same access rules:
the region sees every municipality; a municipality only its own (a foreign one is 404).
None of these routes is in the OpenAPI document: they are not part of the API contract.
A page reads its period from the path after its own checks (the file format, the form's
origin and CSRF token), as it always has; a month that does not exist is the 422 page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from service.access import audit, clients, throttle
from service.course import service as course_service
from service.deps import ANY_ROLE
from service.domain.money import format_kr, parse_kr
from service.domain.settlement import Period
from service.domain.tariff import DomainError
from service.domain.vocabulary import LINE_KINDS, TREATMENT_TYPES
from service.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Unauthenticated,
    as_service_error,
)
from service.kit.http import file_response
from service.objection import service as objections_service
from service.objection.schemas import ObjectionSearch
from service.report.labels import kr_text
from service.settlement import approval, downloads, issue, journal, service
from service.settlement.schemas import HoldReleaseIn, LineOut, StatementOut
from service.visit import service as visit_service
from service.web.charts import Bar, Series, column_chart, hbar_chart, staircase_chart, visit_days
from service.web.pages import (
    MESSAGES,
    SIGN_IN_PATH,
    Page,
    PageDb,
    PageRoute,
    check_origin,
    message_for,
    principal_for_key,
    render,
    safe_next,
    sealer,
    signed_in,
)
from service.web.session import (
    COOKIE_NAME,
    clear_session_cookie,
    set_session_cookie,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

AnyPage = Annotated[Page, Depends(signed_in(*ANY_ROLE))]
RegionPage = Annotated[Page, Depends(signed_in("region"))]
FinancePage = Annotated[Page, Depends(signed_in("region", "municipality"))]
FORMATS = ("csv", "xlsx", "pdf")
ISSUED_FORMATS = (*FORMATS, "xml")
"""An issued statement is also its OIOUBL e-invoice."""
JOURNAL_FORMATS = ("csv", "xlsx")
SIGN_IN_NOTICES = {
    "ud": "Du er logget ud.",
    "ugyldig": "Din nøgle er ikke længere gyldig. Log ind med en gyldig nøgle.",
}


def kr_of_ore(value: int | float) -> str:
    return kr_text(format_kr(int(value)))


# --- signing in and out ------------------------------------------------------------------


@router.get(SIGN_IN_PATH)
async def sign_in_form(
    request: Request, naeste: str | None = None, besked: str | None = None
) -> Response:
    return render(
        request,
        "sign_in.html",
        {"next": safe_next(naeste), "notice": SIGN_IN_NOTICES.get(besked or "")},
    )


@router.post(SIGN_IN_PATH)
async def sign_in(
    request: Request,
    session: PageDb,
    api_key: Annotated[str, Form(max_length=200)] = "",
    naeste: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Checks the key as the API does, then keeps it sealed in the session cookie."""
    check_origin(request)
    key = api_key.strip()
    try:
        if not key:
            raise Unauthenticated("missing_api_key", "no key given")
        await principal_for_key(request, session, key)
    except Unauthenticated as exc:
        # The request's transaction first: the audit row is written in a session of its own.
        await session.rollback()
        await audit.record_denied(request, 401, exc.code)
        return render(
            request,
            "sign_in.html",
            {"next": safe_next(naeste), "error": MESSAGES["invalid_api_key"]},
            status_code=401,
        )
    seal = sealer(request)
    response = RedirectResponse(safe_next(naeste), status_code=303)
    set_session_cookie(response, request, seal.seal(seal.new(key)))
    return response


@router.post("/log-ud")
async def sign_out(
    request: Request, session: PageDb, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Clears the cookie and revokes the session on the server, so a copy of the cookie
    is refused from now on. A live session must send its CSRF token (no cross-site
    sign-out)."""
    check_origin(request)
    seal = sealer(request)
    web_session = seal.open(request.cookies.get(COOKIE_NAME))
    if web_session is not None:
        if not web_session.csrf_ok(csrf):
            raise Forbidden("csrf_token_invalid", "the form's CSRF token is missing or wrong")
        await throttle.sign_out(
            session,
            web_session.session_id,
            web_session.expires_at(seal.max_age),
            datetime.now(UTC),  # the cookie's own clock: wall time, not the business clock
        )
    response = RedirectResponse(f"{SIGN_IN_PATH}?besked=ud", status_code=303)
    clear_session_cookie(response, request)
    return response


# --- home ----------------------------------------------------------------------------------


@router.get("/")
async def home(request: Request, page: AnyPage) -> Response:
    """The region lands on the period to issue next (or the last issued); a municipality on
    its latest statement; other roles have nothing here."""
    ended = Period.of(page.ctx.clock.today()).previous()
    last = await service.last_issued(page.ctx)
    principal = page.principal
    if principal.role == "region":
        # The period to issue next once it has ended; before any issue, the month just ended.
        target = last.next() if last is not None and last < ended else (last or ended)
        return RedirectResponse(f"/perioder/{target}", status_code=303)
    if principal.role == "municipality":
        target = last or ended
        return RedirectResponse(
            f"/perioder/{target}/kommuner/{principal.org_code}", status_code=303
        )
    return render(request, "nothing.html", page=page)


# --- the region's period overview and issuing ----------------------------------------------


def _neighbours(period: Period) -> tuple[str, str]:
    return str(period.previous()), str(period.next())


@router.get("/perioder/{period}")
async def overview(
    request: Request,
    period: str,
    page: RegionPage,
    udstedt: str | None = None,
    godkendt: str | None = None,
    frigivet: str | None = None,
) -> Response:
    month = Period.parse(period)
    summary = await service.region_summary(page.ctx, month)
    previous, following = _neighbours(month)
    chart = hbar_chart(
        [Bar(m.municipality_name, parse_kr(m.total)) for m in summary.municipalities],
        title=f"I alt pr. kommune, {summary.period}",
        value_text=kr_of_ore,
    )
    return render(
        request,
        "overview.html",
        {
            "summary": summary,
            "previous": previous,
            "following": following,
            "chart": chart,
            "issued_notice": udstedt if summary.state == "issued" else None,
            "approved_notice": godkendt if summary.state == "draft" else None,
            "released_notice": frigivet == "ja",
        },
        page=page,
    )


@router.get("/perioder/{period}/udsted")
async def confirm_issue(request: Request, period: str, page: RegionPage) -> Response:
    """The confirmation step: names the period and the total that will be issued."""
    summary = await service.region_summary(page.ctx, Period.parse(period))
    return render(request, "confirm_issue.html", {"summary": summary}, page=page)


@router.post("/perioder/{period}/udsted")
async def issue_period(
    request: Request,
    period: str,
    page: RegionPage,
    csrf: Annotated[str, Form(max_length=200)] = "",
    confirmed_total: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Issues through the API's use case; a conflict (not ended, out of sequence, another
    issue in progress) is shown in Danish, and success goes back to the overview."""
    _check_form(request, page, csrf)
    try:
        summary, created = await issue.issue_period(page.ctx, Period.parse(period))
    except (Conflict, DomainError) as exc:
        return await _refused(request, page, period, exc, "udstedt")
    outcome = "ny" if created else "allerede"
    if created and confirmed_total and confirmed_total != summary.total:
        outcome = "aendret"
    return RedirectResponse(f"/perioder/{summary.period}?udstedt={outcome}", status_code=303)


@router.post("/perioder/{period}/godkend")
async def approve_period(
    request: Request,
    period: str,
    page: RegionPage,
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Approves the draft as it is now (four eyes), through the API's use case."""
    _check_form(request, page, csrf)
    try:
        _, created = await approval.approve_period(page.ctx, Period.parse(period))
    except (Conflict, DomainError) as exc:
        return await _refused(request, page, period, exc, "godkendt")
    outcome = "ny" if created else "allerede"
    return RedirectResponse(f"/perioder/{period}?godkendt={outcome}", status_code=303)


def _check_form(request: Request, page: RegionPage, csrf: str) -> None:
    """A region form's post: from this site, with this session's CSRF token."""
    check_origin(request)
    if not page.session.csrf_ok(csrf):
        raise Forbidden("csrf_token_invalid", "the form's CSRF token is missing or wrong")


@router.post("/perioder/{period}/frigiv")
async def release_hold(
    request: Request,
    period: str,
    page: RegionPage,
    csrf: Annotated[str, Form(max_length=200)] = "",
    course_id: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Releases a held course with a note, through the API's use case."""
    _check_form(request, page, csrf)
    try:
        body = HoldReleaseIn(note=note)
        course = uuid.UUID(course_id)
    except (ValueError, ValidationError):
        raise Invalid("invalid_request", "a release names a course and has a note") from None
    try:
        await service.release_hold(page.ctx, course, body)
    except Conflict as exc:
        return await _refused(request, page, period, exc, "frigivet")
    return RedirectResponse(f"/perioder/{period}?frigivet=ja", status_code=303)


async def _refused(
    request: Request, page: RegionPage, period: str, exc: Conflict | DomainError, done: str
) -> Response:
    """A conflict of issuing or approving, in Danish (409); anything else, the error page."""
    refusal = as_service_error(exc) if isinstance(exc, DomainError) else exc
    if not isinstance(refusal, Conflict):
        raise exc  # not a conflict (a month that does not exist, say): the error page
    await page.ctx.session.rollback()
    return render(
        request,
        "issue_failed.html",
        {"period": period, "message": message_for(refusal), "code": refusal.code, "done": done},
        status_code=409,
        page=page,
    )


@router.get("/perioder/{period}/posteringer/{side}.{fmt}")
async def journal_download(period: str, side: str, fmt: str, page: FinancePage) -> Response:
    """The booking journal, the same bytes as the API's (region: `region`; a municipality
    its own)."""
    if fmt not in JOURNAL_FORMATS:
        raise NotFound("not_found", "no such file")
    return file_response(await journal.journal_file(page.ctx, Period.parse(period), side, fmt))


@router.get("/perioder/{period}/region.xlsx")
async def region_summary_download(period: str, page: RegionPage) -> Response:
    return file_response(await downloads.region_summary_file(page.ctx, Period.parse(period)))


# --- statements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineFilter:
    """The statement page's filters (GET parameters); an unknown value means "all"."""

    treatment: str | None
    tier: int | None
    kind: str | None
    adjustment: bool | None

    @classmethod
    def parse(
        cls, behandling: str | None, trin: str | None, ydelse: str | None, regulering: str | None
    ) -> LineFilter:
        return cls(
            behandling if behandling in TREATMENT_TYPES else None,
            int(trin) if trin in ("1", "2", "3") else None,
            ydelse if ydelse in LINE_KINDS else None,
            {"ja": True, "nej": False}.get(regulering or ""),
        )

    def keeps(self, line: LineOut) -> bool:
        return (
            (self.treatment is None or line.treatment_type == self.treatment)
            and (self.tier is None or line.tier == self.tier)
            and (self.kind is None or line.kind == self.kind)
            and (self.adjustment is None or line.adjustment == self.adjustment)
        )

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.treatment, self.tier, self.kind, self.adjustment))


def _sum(lines: list[LineOut]) -> str:
    return format_kr(sum(parse_kr(line.amount) for line in lines))


# Registered before the page: "157.xlsx" must not be read as a municipality code.
@router.get("/perioder/{period}/kommuner/{code}.{fmt}")
async def statement_download(period: str, code: str, fmt: str, page: FinancePage) -> Response:
    """The same bytes as the API's download (an issued statement's stored file)."""
    if fmt not in ISSUED_FORMATS:
        raise NotFound("not_found", "no such file")
    return file_response(await downloads.statement_file(page.ctx, Period.parse(period), code, fmt))


@router.get("/perioder/{period}/kommuner/{code}")
async def statement_page(
    request: Request,
    period: str,
    code: str,
    page: FinancePage,
    behandling: str | None = None,
    trin: str | None = None,
    ydelse: str | None = None,
    regulering: str | None = None,
) -> Response:
    month = Period.parse(period)
    statement: StatementOut = await service.get_statement(page.ctx, month, code)
    objections = await objections_service.list_objections(
        page.ctx, ObjectionSearch(period=statement.period, municipality_code=code)
    )
    chosen = LineFilter.parse(behandling, trin, ydelse, regulering)
    shown = [line for line in statement.lines if chosen.keeps(line)]
    regular = [line for line in shown if not line.adjustment]
    adjustments = [line for line in shown if line.adjustment]
    previous, following = _neighbours(month)
    return render(
        request,
        "statement.html",
        {
            "s": statement,
            "filter": chosen,
            "regular": regular,
            "adjustments": adjustments,
            "regular_sum": _sum(regular),
            "adjustment_sum": _sum(adjustments),
            "shown_sum": _sum(shown),
            "previous": previous,
            "following": following,
            "base": f"/perioder/{statement.period}/kommuner/{statement.municipality_code}",
            "formats": ISSUED_FORMATS if statement.state == "issued" else FORMATS,
            "journal_formats": JOURNAL_FORMATS,
            "objections": objections,
        },
        page=page,
    )


# --- a course ------------------------------------------------------------------------------


@router.get("/forloeb/{course_id}")
async def course_page(request: Request, course_id: str, page: FinancePage) -> Response:
    """A course as finance traces it (the region, and its municipality; no CPR): its number,
    dates, visits per day, deviations, corrections, billed lines and review flags."""
    try:
        ident = uuid.UUID(course_id)
    except ValueError:
        raise NotFound("course_not_found", "no such course for this client") from None
    ctx = page.ctx
    row = await course_service.visible_course(ctx, ident)
    (course,) = await course_service.present_courses(ctx, [row], "course.read", reveal_cpr=False)
    visits = await visit_service.list_visits(ctx, ident)
    review = await service.course_review(ctx, row)
    names = await clients.client_names(
        ctx.session,
        {c.corrected_by for c in course.corrections} | {r.released_by for r in review.released},
    )
    days = visit_days(course.start_date, course.end_date or ctx.clock.today(), visits)
    chart = column_chart(
        [label for label, _, _ in days],
        [
            Series("Med dosis", [given for _, given, _ in days]),
            Series("Uden dosis", [other for _, _, other in days]),
        ],
        title=f"Besøg pr. dag, forløb {course.number}",
        height=220,
    )
    return render(
        request,
        "course.html",
        {
            "c": course,
            "visits": visits,
            "deviating": [v for v in visits if v.deviations],
            "review": review,
            "names": names,
            "chart": chart,
        },
        page=page,
    )


# --- the staircase ---------------------------------------------------------------------------


@router.get("/trappemodel")
async def staircase_now(page: FinancePage) -> Response:
    return RedirectResponse(f"/trappemodel/{page.ctx.clock.today().year}", status_code=303)


@router.get("/trappemodel/{year}")
async def staircase_page(request: Request, year: str, page: FinancePage) -> Response:
    if not (
        year.isdigit() and service.FIRST_STAIRCASE_YEAR <= int(year) <= service.LAST_STAIRCASE_YEAR
    ):
        raise NotFound("not_found", "no such year")
    out = await service.staircase(page.ctx, int(year))
    thresholds = out.tier_thresholds
    tiers = [
        (tier, start + 1, end)
        for tier, (start, end) in enumerate(
            zip([0, *thresholds], [*thresholds, None], strict=True), start=1
        )
    ]
    return render(
        request,
        "staircase.html",
        {
            "st": out,
            "tiers": tiers,
            "chart": staircase_chart(out.counted, thresholds, year=out.year),
            "previous": out.year - 1,
            "following": out.year + 1,
        },
        page=page,
    )
