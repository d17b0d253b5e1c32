"""What every web page shares: who is signed in, rendering, and errors as Danish pages.

A page's principal comes from the sealed session cookie (service.web.session) and is looked
up through the API's own dependency (service.deps._principal) on every request, so a
revoked key is refused at once and the roles mean what they mean in the API.

Errors: the use cases raise the service's errors (service.errors) and the domain's (read as
the problems they are, `as_service_error`); `PageRoute` turns them into HTML pages in
Danish instead of problem+json. It sits outside the request's session
dependency, so the transaction is already rolled back when the page is drawn. As in the
API, a refused request (403, 404, a revoked key) is written to the audit log, a cookie of
no known client (not sealed here, too old, signed out) is counted per address and minute
(service.access.throttle), and counts as a failed authentication for the throttle; a
browser that is simply not signed in yet is sent to the sign-in page without either.
Nothing a page sends back (a redirect's target, the sign-in form's hidden `naeste`) carries
six digits in a row from the request: such a target becomes "/".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from service.access import audit
from service.access.auth import Principal, Role
from service.access.throttle import is_signed_out
from service.access.vault import CprVault
from service.deps import (
    Ctx,
    Session,
    _principal,
    failed_authentication,
    refuse_if_throttled,
    require,
)
from service.domain.tariff import DomainError
from service.errors import (
    Forbidden,
    NotFound,
    ServiceError,
    TooManyAttempts,
    Unauthenticated,
    as_service_error,
)
from service.kit.requestctx import SIX_DIGITS
from service.report.labels import (
    COURSE_STATUS_LABELS,
    DEVIATION_LABELS,
    END_REASON_LABELS,
    KIND_LABELS,
    OBJECTION_REASON_LABELS,
    OBJECTION_STATUS_LABELS,
    REASON_LABELS,
    SETTING_LABELS,
    STATE_LABELS,
    TREATMENT_LABELS,
    date_text,
    kr_text,
    period_label,
    reason_label,
    tier_label,
    treatment_label,
)
from service.web.charts import danish_number
from service.web.session import (
    COOKIE_NAME,
    SessionSealer,
    WebSession,
    clear_session_cookie,
    derive_cookie_key,
)

SIGN_IN_PATH = "/log-ind"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")

ROLE_LABELS = {
    "region": "Regionens økonomi",
    "municipality": "Kommune",
    "hospital": "Hospital",
    "admin": "Drift",
}

SECURITY_HEADERS = {
    # Nothing is loaded from anywhere but this service; no script runs at all.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Finance data on shared tablets: never from a cache, never after sign-out via "back".
    "Cache-Control": "no-store",
}

MESSAGES: dict[str, str] = {
    "not_signed_in": "Log ind for at se siden.",
    "invalid_api_key": "Nøglen er ukendt eller spærret. Log ind med en gyldig nøgle.",
    "role_not_allowed": "Siden er ikke for din rolle.",
    "statement_not_found": "Opgørelsen findes ikke for din organisation.",
    "not_found": "Siden findes ikke.",
    "invalid_period": "En periode skrives ÅÅÅÅ-MM, fx 2024-03.",
    "invalid_quarter": "Et kvartal skrives ÅÅÅÅQ1 til ÅÅÅÅQ4, fx 2024Q1.",
    "municipality_not_found": "Kommunen findes ikke for din organisation.",
    "invalid_request": "Forespørgslen er ugyldig.",
    "too_many_attempts": (
        "For mange mislykkede forsøg på at logge ind fra din adresse. Vent lidt, og prøv igen."
    ),
    "approval_required": (
        "Kladden skal godkendes, før den udstedes: en anden bruger i regionen godkender den "
        "først (fire øjne)."
    ),
    "approval_by_same_client": (
        "Du godkendte selv kladden. En anden bruger i regionen skal udstede den (fire øjne)."
    ),
    "draft_changed_since_approval": (
        "Kladden er ændret, siden den blev godkendt (nye registreringer eller rettelser). "
        "Den skal godkendes igen, før den udstedes."
    ),
    "course_not_held": "Ingen kontrolregel holder forløbet tilbage nu; der er intet at frigive.",
    "period_already_issued": "Perioden er allerede udstedt; der er ingen kladde at godkende.",
    "period_not_begun": "Perioden er ikke begyndt endnu, så der er ingen kladde af den.",
    "period_not_ended": "Perioden er ikke slut endnu. Den kan udstedes, når måneden er omme.",
    "period_out_of_sequence": (
        "Perioden kan ikke udstedes nu: efter den første udstedelse skal hver udstedelse være "
        "måneden lige efter den senest udstedte."
    ),
    "issue_in_progress": "En anden udstedelse er i gang lige nu. Prøv igen om et øjeblik.",
    "missing_price_index": (
        "Der mangler et prisindeks for {year}. Det skal indlæses, før perioden kan afregnes."
    ),
    "period_closed": (
        "Perioden blev aldrig udstedt og ligger før den senest udstedte periode; det, den "
        "skylder, er afregnet i senere opgørelser."
    ),
    "before_agreement": "Perioden ligger før aftalens første takstversion.",
    "no_tariff": "Ingen takstversion dækker året.",
    "cross_site_request": "Formularen kom fra et andet websted og blev afvist.",
    "csrf_token_invalid": (
        "Formularen er udløbet eller kom ikke fra denne side. Hent siden igen og prøv på ny."
    ),
}

STATUS_TITLES = {
    401: "Log ind",
    403: "Ingen adgang",
    404: "Ikke fundet",
    409: "Det kan ikke lade sig gøre lige nu",
    422: "Ugyldig forespørgsel",
    429: "For mange forsøg",
}


def message_for(exc: ServiceError) -> str:
    """The Danish sentence for a problem code; an unknown code falls back to its detail."""
    text = MESSAGES.get(exc.code)
    if text is None:
        return exc.detail
    try:
        return text.format(**exc.extra)
    except (KeyError, IndexError):
        return text


# --- rendering ---------------------------------------------------------------------------


def _number(value: int | float) -> str:
    return danish_number(value)


TEMPLATES.env.filters.update(
    kr=kr_text,
    period=period_label,
    treatment=treatment_label,
    kind=lambda key: KIND_LABELS.get(key, key),
    reason=reason_label,
    tier=tier_label,
    state=lambda key: STATE_LABELS.get(key, key),
    when=date_text,
    number=_number,
    role=lambda key: ROLE_LABELS.get(key, key),
    objection_reason=lambda key: OBJECTION_REASON_LABELS.get(key, key),
    objection_status=lambda key: OBJECTION_STATUS_LABELS.get(key, key),
    setting=lambda key: SETTING_LABELS.get(key, key),
    course_status=lambda key: COURSE_STATUS_LABELS.get(key, key),
    end_reason=lambda key: END_REASON_LABELS.get(key, key),
    deviation=lambda key: DEVIATION_LABELS.get(key, key),
    day=lambda value: value.strftime("%d.%m.%Y") if value is not None else "",
)
TEMPLATES.env.globals.update(
    TREATMENTS=TREATMENT_LABELS,
    KINDS=KIND_LABELS,
    REASONS=REASON_LABELS,
)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    page: Page | None = None,
) -> HTMLResponse:
    data: dict[str, Any] = {"principal": None, "csrf_token": None}
    if page is not None:
        data.update(principal=page.principal, csrf_token=page.session.csrf_token)
    data.update(context or {})
    return TEMPLATES.TemplateResponse(request, template, data, status_code=status_code)


def error_page(request: Request, status: int, code: str, message: str) -> HTMLResponse:
    """A problem as a page; the header still shows who is signed in, when someone is."""
    principal: Principal | None = getattr(request.state, "principal", None)
    web_session = sealer(request).open(request.cookies.get(COOKIE_NAME))
    return render(
        request,
        "message.html",
        {
            "title": STATUS_TITLES.get(status, "Fejl"),
            "message": message,
            "code": code,
            "principal": principal,
            "csrf_token": web_session.csrf_token if principal and web_session else None,
        },
        status_code=status,
    )


# --- who is signed in --------------------------------------------------------------------


class SignInRequired(Unauthenticated):
    """No session cookie, or one this service did not seal (or too old)."""

    def __init__(self, had_cookie: bool) -> None:
        super().__init__("not_signed_in", "sign in to see this page")
        self.had_cookie = had_cookie


@dataclass
class Page:
    """A signed-in request: the use-case context and the session (for its CSRF token)."""

    ctx: Ctx
    session: WebSession

    @property
    def principal(self) -> Principal:
        return self.ctx.principal


def sealer(request: Request) -> SessionSealer:
    """One per app, keyed from the CPR look-up key every worker shares."""
    state = request.app.state
    existing = getattr(state, "web_sessions", None)
    if isinstance(existing, SessionSealer):
        return existing
    vault: CprVault = state.vault
    created = SessionSealer(derive_cookie_key(vault.hash_key))
    state.web_sessions = created
    return created


async def principal_for_key(request: Request, session: Session, api_key: str) -> Principal:
    """The API's own look-up (service.deps._principal): unknown or revoked → Unauthenticated."""
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=api_key)
    return await _principal(request, session, credentials)


async def _page_session(request: Request, session: Session) -> AsyncSession:
    """The request's session (service.deps), noted for PageRoute to roll back on an error."""
    request.state.page_session = session
    return session


PageDb = Annotated[AsyncSession, Depends(_page_session)]


def signed_in(*roles: Role) -> Callable[..., Coroutine[Any, Any, Page]]:
    """A dependency that admits a signed-in principal of one of `roles` (403 page else)."""
    admit = require(*roles)  # the API's role check and use-case context

    async def dependency(request: Request, session: PageDb) -> Page:
        refuse_if_throttled(request)
        cookie = request.cookies.get(COOKIE_NAME)
        web_session = sealer(request).open(cookie)
        if web_session is None or await is_signed_out(session, web_session.session_id):
            if cookie is not None:
                failed_authentication(request)
            raise SignInRequired(had_cookie=cookie is not None)
        principal = await principal_for_key(request, session, web_session.api_key)
        return Page(await admit(request, session, principal), web_session)

    return dependency


def check_origin(request: Request) -> None:
    """A form post from another site is refused (login CSRF: being signed in with someone
    else's key). Browsers send Origin on every POST; a client without it (no browser) passes,
    and the session's CSRF token still guards what changes data."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin is not None and origin != own:
        raise Forbidden("cross_site_request", "this form may only be posted from this site")


_LOCAL_PATH = re.compile(r"^/(?![/\\])[A-Za-z0-9/_.\-?=&%]*$")


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a local path only (never another site), and none
    with six digits in a row, encoded or not (it would echo a CPR number back)."""
    if (
        path
        and _LOCAL_PATH.match(path)
        and not path.startswith(SIGN_IN_PATH)
        and not SIX_DIGITS.search(unquote(path))
    ):
        return path
    return "/"


def sign_in_redirect(request: Request, clear: bool, reason: str | None = None) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    location = f"{SIGN_IN_PATH}?naeste={quote(safe_next(target), safe='/')}"
    if reason:
        location += f"&besked={reason}"
    response = RedirectResponse(location, status_code=303)
    if clear:
        clear_session_cookie(response, request)
    return response


class PageRoute(APIRoute):
    """A route that answers the service's errors with Danish HTML pages (and a sign-in
    redirect for 401), and puts the security headers on every response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except (ServiceError, DomainError, RequestValidationError) as exc:
                # Caught here, the error never reaches the session dependency, which would
                # commit: roll back first (this also frees SQLite's write lock for the audit).
                session: AsyncSession | None = getattr(request.state, "page_session", None)
                if session is not None:
                    await session.rollback()
                response = await _error_response(request, exc)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return page_handler


async def _error_response(
    request: Request, exc: ServiceError | DomainError | RequestValidationError
) -> Response:
    """The page for an error; refusals are audited as the API audits them."""
    if isinstance(exc, DomainError):
        exc = as_service_error(exc)
    if isinstance(exc, SignInRequired):
        if exc.had_cookie:
            await audit.record_denied(request, 401, "invalid_session")
        return sign_in_redirect(request, clear=exc.had_cookie)
    if isinstance(exc, Unauthenticated):  # a revoked or unknown key behind the cookie
        await audit.record_denied(request, exc.status, exc.code)
        return sign_in_redirect(request, clear=True, reason="ugyldig")
    if isinstance(exc, RequestValidationError):
        return error_page(request, 422, "invalid_request", MESSAGES["invalid_request"])
    if isinstance(exc, TooManyAttempts):
        await audit.record_denied(request, exc.status, exc.code)
        page = error_page(request, exc.status, exc.code, message_for(exc))
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if isinstance(exc, Forbidden | NotFound):
        await audit.record_denied(request, exc.status, exc.code)
    return error_page(request, exc.status, exc.code, message_for(exc))
