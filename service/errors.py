"""Errors of the service's use cases, and their one mapping to problem+json (RFC 9457).

Hierarchy (use cases raise these; none of them knows HTTP):

    ServiceError              code, detail, extra fields
      NotFound                the object does not exist or belongs to someone else (404)
      Conflict                conflicts with stored state (409)
      Invalid                 breaks the contract or the agreement's scope (422), with violations
      Forbidden               the role may not do this (403)
      Unauthenticated         no key, or an unknown or revoked key (401)
      TooManyAttempts         too many failed authentications from this address (429)

The pure core raises `DomainError`s (service/domain/), which know neither HTTP nor these
classes; `DOMAIN_PROBLEMS` is the one table that says which problem each one is, used by
the HTTP handler and by `as_service_error` for the command line.

The handlers below are the only place that turns them into HTTP. A message never
contains submitted values: a CPR number must never be echoed back, and a problem's
`instance` is its path with every segment that could hold one masked. A refused request
(Unauthenticated, Forbidden, NotFound) is written to the audit log on its way out, or, when
no client is known, counted per address and minute (service.access.throttle).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.access import audit
from service.domain.monitoring import InvalidQuarter
from service.domain.scope import Violation
from service.domain.settlement import InvalidPeriod, PeriodNotEnded, PeriodOutOfSequence
from service.domain.tariff import DomainError, MissingPriceIndex, OutsideAgreement
from service.kit.problem import (
    PROBLEM_CODES,
    PROBLEM_JSON,
    RESERVED_FIELDS,
    ProblemCode,
    problem_body,
    problem_code,
)
from service.kit.requestctx import (
    SIX_DIGITS,
    mask_path,
    request_id_of,
    route_template,
    scrub_cpr,
)

log = logging.getLogger("ivsettle")


class ServiceError(Exception):
    """A refusal a client can act on: a stable `code`, a `detail` without submitted values,
    and extra fields (e.g. the id of the object it conflicts with)."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    disclosed: audit.Disclosure | None = None
    """Set when the refusal itself reveals patient data: audited as a read on its way out."""

    def __init__(self, code: ProblemCode, detail: str, **extra: Any) -> None:
        clash = RESERVED_FIELDS.intersection(extra)
        if clash:
            raise TypeError(f"extra problem fields may not reuse {sorted(clash)}")
        listed = PROBLEM_CODES.get(code)
        if listed is None or listed.status != self.status:
            # The document promises each code with one status (service/kit/problem.py).
            raise TypeError(f"problem code {code!r} is not listed with status {self.status}")
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra


class NotFound(ServiceError):
    """No such object for this client: another organisation's objects are not shown."""

    status = 404
    title = "Not found"


class Conflict(ServiceError):
    """The request conflicts with stored state (a retry with other content, a period
    issued out of order)."""

    status = 409
    title = "Conflict"


class Invalid(ServiceError):
    """The request breaks the contract or the agreement; `violations` names each rule."""

    status = 422
    title = "Unprocessable request"

    def __init__(
        self,
        code: ProblemCode,
        detail: str,
        violations: Sequence[Violation] = (),
        **extra: Any,
    ) -> None:
        super().__init__(code, detail, **extra)
        self.violations = list(violations)


class Forbidden(ServiceError):
    """The key's role, or its organisation, may not do this."""

    status = 403
    title = "Forbidden"


class Unauthenticated(ServiceError):
    """No key, or an unknown or revoked one; answered with `WWW-Authenticate: Bearer`."""

    status = 401
    title = "Unauthenticated"


class TooManyAttempts(ServiceError):
    """The address failed to authenticate too often (service.access.throttle); answered
    with `Retry-After` before any key is looked at."""

    status = 429
    title = "Too many attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "too_many_attempts",
            "too many failed authentications from this address; wait before trying again",
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class DomainProblem:
    """How a domain error is answered: the kind of problem (its status), and what of the
    error the problem shows. The code is always the error's own stable `code`."""

    kind: type[ServiceError]
    detail: str | None = None
    """A fixed text instead of the error's message (which may quote the client's input)."""
    field: str | None = None
    """With a 422: the one field the violation names."""
    extra: tuple[str, ...] = ()
    """Attributes of the error copied into the problem as fields of their own."""


PERIOD_RULE = "a period is written YYYY-MM, e.g. 2024-03"
QUARTER_RULE = "a quarter is written YYYYQn with n 1-4 and a year 2000-2999, e.g. 2024Q1"

DOMAIN_PROBLEMS: dict[type[DomainError], DomainProblem] = {
    # A course or a period before the first tariff version: outside the agreement.
    OutsideAgreement: DomainProblem(Invalid),
    # Finance has not loaded the index yet: the stored state must change first.
    MissingPriceIndex: DomainProblem(Conflict, extra=("year",)),
    PeriodNotEnded: DomainProblem(Conflict),
    PeriodOutOfSequence: DomainProblem(Conflict),
    InvalidPeriod: DomainProblem(Invalid, detail=PERIOD_RULE),
    InvalidQuarter: DomainProblem(Invalid, detail=QUARTER_RULE, field="quarter"),
    # A rule of the agreement not listed above: the request breaks it.
    DomainError: DomainProblem(Invalid),
}


def as_service_error(exc: DomainError | ServiceError) -> ServiceError:
    """The problem a domain error is, by `DOMAIN_PROBLEMS` (its nearest listed class), for
    the places outside HTTP too (the command line reports it like any ServiceError); a
    ServiceError is already one and comes back as it is."""
    if isinstance(exc, ServiceError):
        return exc
    rule = next(DOMAIN_PROBLEMS[c] for c in type(exc).__mro__ if c in DOMAIN_PROBLEMS)
    detail = rule.detail if rule.detail is not None else str(exc)
    extra = {name: getattr(exc, name) for name in rule.extra}
    code = problem_code(exc.code)
    if issubclass(rule.kind, Invalid):
        violations = [Violation(code, rule.field, detail)] if rule.field is not None else []
        return rule.kind(code, detail, violations, **extra)
    return rule.kind(code, detail, **extra)


def problem(
    status: int,
    code: ProblemCode,
    title: str,
    detail: str,
    request: Request,
    *,
    retry_after: int | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem answer of a request: its path (segments that could hold a CPR number
    masked) and request id."""
    body = problem_body(
        status,
        code,
        title,
        detail,
        request_id_of(request.scope),
        instance=mask_path(request.url.path),
        **extra,
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


def _violation_json(v: Violation) -> dict[str, str]:
    return {"code": v.code, "field": v.field, "message": v.message}


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    if isinstance(exc, Unauthenticated | Forbidden | NotFound):
        # Its own transaction (the request's was rolled back); if it fails, so does this.
        await audit.record_denied(request, exc.status, exc.code)
    elif exc.disclosed is not None:
        await audit.record_disclosure(request, exc.disclosed)
    elif isinstance(exc, TooManyAttempts):
        # Refused before any key was looked at: an outsider, counted (never an audit row).
        await audit.record_denied(request, exc.status, exc.code)
        return problem(
            exc.status, exc.code, exc.title, exc.detail, request, retry_after=exc.retry_after
        )
    extra = dict(exc.extra)
    if isinstance(exc, Invalid):
        extra["violations"] = [_violation_json(v) for v in exc.violations]
    return problem(exc.status, exc.code, exc.title, exc.detail, request, **extra)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return await _service_error(request, as_service_error(exc))


# A field name as the schema spells it. Anything else in a location (an unknown key of
# the body, a key of a dict) is the client's text and is not repeated back.
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _loc_part(part: int | str) -> str:
    if isinstance(part, int):
        return str(part)
    return part if _FIELD_NAME.match(part) and not SIX_DIGITS.search(part) else "*"


def _field_path(loc: Sequence[int | str]) -> str:
    return ".".join(_loc_part(part) for part in loc)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's default 422 echoes the input (a CPR number among it): this one names the
    field and the rule, never the value."""
    assert isinstance(exc, RequestValidationError)
    violations = []
    for error in exc.errors():
        rule = str(error.get("type", "invalid"))
        field = _field_path(error.get("loc", ()))
        message = str(error.get("msg", "invalid value"))
        ctx = error.get("ctx") or {}
        reason = ctx.get("error")
        if rule == "value_error" and reason is not None:
            # Our own validators raise messages without values; keep just that message.
            message = str(reason)
        violations.append({"code": rule, "field": field, "message": scrub_cpr(message)})
    return problem(
        422,
        "invalid_request",
        "Unprocessable request",
        "the request does not match the contract",
        request,
        violations=violations,
    )


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    # Anything else Starlette refuses is a body it could not read (400): `http_error`.
    codes: dict[int, ProblemCode] = {
        404: "not_found",
        405: "method_not_allowed",
        413: "request_too_large",
    }
    code = codes.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    return problem(exc.status_code, code, detail, detail, request)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Logged with its type only: an exception's text may carry SQL parameters or input.
    log.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        route_template(request.scope) or "(no route)",  # the raw path is client input
        extra={"request_id": request_id_of(request.scope)},
    )
    return problem(
        500,
        "internal_error",
        "Internal error",
        "the request failed; quote the request id when reporting it",
        request,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error a request can end in becomes a problem+json answer (a 500 included)."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
