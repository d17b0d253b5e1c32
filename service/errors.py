"""Errors of the service's use cases, and their one mapping to problem+json (RFC 9457).

Hierarchy (use cases raise these; none of them knows HTTP):

    ServiceError              code, detail, extra fields
      NotFound                the object does not exist or belongs to someone else (404)
      Conflict                conflicts with stored state (409)
      Invalid                 breaks the contract or the agreement's scope (422), with violations
      Forbidden               the role may not do this (403)
      Unauthenticated         no key, or an unknown or revoked key (401)

The handlers below are the only place that turns them into HTTP. A message never
contains submitted values: a CPR number must never be echoed back. A refused request
(Unauthenticated, Forbidden, NotFound) is written to the audit log on its way out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.access import audit
from service.domain.scope import Violation
from service.kit.requestctx import (
    REQUEST_ID_SCOPE_KEY,
    SIX_DIGITS,
    current_request_id,
    route_template,
    scrub_cpr,
)

log = logging.getLogger("ivsettle")

PROBLEM_JSON = "application/problem+json"
RESERVED_FIELDS = frozenset(
    {"type", "title", "status", "code", "detail", "instance", "request_id", "violations"}
)


class ServiceError(Exception):
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        clash = RESERVED_FIELDS.intersection(extra)
        if clash:
            raise TypeError(f"extra problem fields may not reuse {sorted(clash)}")
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra


class NotFound(ServiceError):
    status = 404
    title = "Not found"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"


class Invalid(ServiceError):
    status = 422
    title = "Unprocessable request"

    def __init__(
        self, code: str, detail: str, violations: Sequence[Violation] = (), **extra: Any
    ) -> None:
        super().__init__(code, detail, **extra)
        self.violations = list(violations)


class Forbidden(ServiceError):
    status = 403
    title = "Forbidden"


class Unauthenticated(ServiceError):
    status = 401
    title = "Unauthenticated"


def problem(
    status: int, code: str, title: str, detail: str, request: Request, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:ivsettle:problem:{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        "instance": scrub_cpr(request.url.path),
        "request_id": current_request_id() or request.scope.get(REQUEST_ID_SCOPE_KEY),
    }
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _violation_json(v: Violation) -> dict[str, str]:
    return {"code": v.code, "field": v.field, "message": v.message}


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    if isinstance(exc, Unauthenticated | Forbidden | NotFound):
        # Its own transaction (the request's was rolled back); if it fails, so does this.
        await audit.record_denied(request, exc.status, exc.code)
    extra = dict(exc.extra)
    if isinstance(exc, Invalid):
        extra["violations"] = [_violation_json(v) for v in exc.violations]
    return problem(exc.status, exc.code, exc.title, exc.detail, request, **extra)


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
    codes = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
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
        extra={"request_id": current_request_id() or request.scope.get(REQUEST_ID_SCOPE_KEY)},
    )
    return problem(
        500,
        "internal_error",
        "Internal error",
        "the request failed; quote the request id when reporting it",
        request,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
