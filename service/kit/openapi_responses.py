"""The error answers of every operation, written into the OpenAPI document in one place.

Every route answers its errors as problem+json (service/errors.py), but FastAPI only
documents what a route declares, and documents its own 422 shape, which the service
never sends. Clients (and the contract tests) need every status an operation can answer.
The rules follow from how the service works, so they are applied to the generated
document rather than repeated on each route:

- every operation needs a key: 401 (no, unknown or revoked key) and 403 (role);
- a path parameter names an object: 404 (missing, or another organisation's: hidden);
- parameters or a body can break the contract or the agreement, and any request can
  carry a NUL character (service/kit/nul.py): 422;
- a body can be unreadable (400) or too large (413).

Each error answer lists the problem codes it can carry, in its description and, for tools,
in `x-problem-codes`; `Problem.code` is the enum of all of them (service/kit/problem.py).
The rules above bring their own codes (401: `missing_api_key`, `invalid_api_key`, ...);
a route declares the codes only it answers with `responses=problems(...)`, which also adds
their statuses (409, a 404 of its own). Every operation on a settlement period can meet a
missing price index, a period not yet ended or one out of order, so that is a rule too.
Every operation can answer 503 `retry_exhausted` (service/kit/retry.py). A second success
status a route sets itself (200 for a repeat of a 201) answers the route's response
model, so it gets that content.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from service.domain.vocabulary import CourseStatus, ReferralStatus
from service.kit import problem as catalogue
from service.kit.problem import PROBLEM_CODES, PROBLEM_JSON

# The catalogue's alias, named in the document, so that generated clients get one enum.
ProblemCode = TypeAliasType("ProblemCode", catalogue.ProblemCode)

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be read",
    401: "No API key, or an unknown or revoked one",
    403: "The key's role may not do this",
    404: "No such object for this client (another organisation's objects are not shown)",
    409: "Conflicts with stored state",
    413: "The body is larger than the service accepts",
    429: "Too many failed authentications from this address: wait `Retry-After` seconds",
    422: "The request breaks the contract or the agreement; `violations` names each rule",
    503: "Collided with concurrent requests; nothing was stored: send it again (`Retry-After`)",
}

CODES_KEY = "x-problem-codes"
"""Where a documented error answer lists its codes (an OpenAPI extension)."""

# The codes the rules of `_statuses` bring, by status.
RULE_CODES: dict[int, tuple[ProblemCode, ...]] = {
    400: ("http_error",),
    401: ("missing_api_key", "invalid_api_key"),
    403: ("role_not_allowed",),
    413: ("request_too_large",),
    429: ("too_many_attempts",),
    422: ("invalid_request",),
    503: ("retry_exhausted",),
}
SETTLEMENT_CODES: tuple[ProblemCode, ...] = (
    "missing_price_index",
    "period_not_ended",
    "period_out_of_sequence",
)


class ProblemViolation(BaseModel):
    """One broken rule of a 422: the field and the rule, never the submitted value."""

    code: str
    field: str
    message: str


class Problem(BaseModel):
    """An error (RFC 9457). Some problems carry more fields, e.g. the id of the object a
    409 conflicts with."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:ivsettle:problem:course_not_found"])
    title: str
    status: int
    code: ProblemCode = Field(
        description="Stable; clients branch on it. Each error answer lists the codes it can carry"
    )
    detail: str
    instance: str
    request_id: str | None
    violations: list[ProblemViolation] | None = Field(default=None, description="With 422")
    # The extra fields some codes carry.
    referral_id: str | None = Field(
        default=None, description="`referral_conflict`: the stored referral with this external_ref"
    )
    referral_status: ReferralStatus | None = Field(
        default=None, description="`referral_not_pending`: how the referral was decided"
    )
    course_id: str | None = Field(
        default=None,
        description="`active_course_exists` (to the hospital whose referral made it), "
        "`referral_not_pending` (the course the acceptance made)",
    )
    course: str | None = Field(
        default=None, description="`active_course_exists`: the course's path in this API"
    )
    course_status: CourseStatus | None = Field(
        default=None, description="`course_not_active`: the course's status"
    )
    tariff_id: int | None = Field(
        default=None, description="`tariff_version_exists`: the version already loaded"
    )
    year: int | None = Field(
        default=None, description="`missing_price_index`: the year whose index is missing"
    )
    webhook_id: str | None = Field(
        default=None, description="`webhook_exists`: the active endpoint with that URL"
    )


def problem_response(
    status: int, codes: list[ProblemCode], description: str | None = None
) -> dict[str, Any]:
    listed = ", ".join(f"`{code}`" for code in codes)
    response: dict[str, Any] = {
        "description": f"{description or DESCRIPTIONS.get(status, 'Error')}. Codes: {listed}",
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
        CODES_KEY: codes,
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}
        }
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {
                "required": True,
                "description": "Seconds to wait before sending it again",
                "schema": {"type": "integer"},
            }
        }
    return response


def _settles_a_period(operation: dict[str, Any]) -> bool:
    return "settlement" in operation.get("tags", ()) and any(
        p.get("name") == "period" for p in operation.get("parameters", [])
    )


def _statuses(operation: dict[str, Any]) -> list[int]:
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    statuses = [401, 403, 429, 503] if operation.get("security") else [503]
    if any(p.get("in") == "path" for p in parameters):
        statuses.append(404)
    statuses.append(422)  # any request: a NUL in its query or headers (service/kit/nul.py)
    if has_body:
        statuses += [400, 413]
    if _settles_a_period(operation):
        # Settling a period can meet a missing price index, a period not yet ended, or one
        # out of order (service/errors.py, DOMAIN_PROBLEMS).
        statuses.append(409)
    return statuses


def _codes(
    operation: dict[str, Any], status: int, declared: list[ProblemCode]
) -> list[ProblemCode]:
    """The codes an error answer lists: the rule's, then the route's own."""
    codes = list(RULE_CODES.get(status, ()))
    if status == 409 and _settles_a_period(operation):
        codes += SETTLEMENT_CODES
    codes += [code for code in declared if code not in codes]
    if not codes and status == 404:
        codes = ["not_found"]  # a path parameter names an object; no other 404 is declared
    return codes


def _document(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in _statuses(operation):
        responses.setdefault(str(status), {})
    success = [code for code in responses if code.startswith("2")]
    typed = next(
        (responses[c]["content"] for c in sorted(success) if responses[c].get("content")), None
    )
    for code, response in responses.items():
        if code.startswith("2"):
            if not response.get("content") and typed is not None:
                response["content"] = copy.deepcopy(typed)
            continue
        if not code.startswith(("4", "5")):
            continue
        declared = response.pop(CODES_KEY, [])
        codes = _codes(operation, int(code), declared)
        description = response.get("description")
        if description == "Error":
            description = None
        documented = problem_response(int(code), codes, description)
        # FastAPI's own 422 (HTTPValidationError) is never sent: replaced, not merged.
        response["content"] = documented["content"]
        response["description"] = documented["description"]
        response[CODES_KEY] = documented[CODES_KEY]
        if "headers" in documented:
            response["headers"] = documented["headers"]


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Adds the error answers to every operation of a generated document (in place)."""
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in HTTP_METHODS:
                _document(operation)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    text = json.dumps(schema.get("paths"))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{unused}"' not in text:
            components.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """Makes `app.openapi()` answer the document with the error answers added."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def problems(*codes: ProblemCode, conflict: str | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route's own problem codes (the rules add the common ones): each
    code's status with the code listed; `conflict` describes the 409 in the route's words.
    The problem schema and the rules' codes are added by `document_problems`."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        status = PROBLEM_CODES[code].status
        response = responses.setdefault(status, {"description": DESCRIPTIONS.get(status, "Error")})
        response.setdefault(CODES_KEY, []).append(code)
    if conflict is not None:
        responses[409]["description"] = conflict
    return responses
