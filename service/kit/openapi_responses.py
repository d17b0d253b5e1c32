"""The error answers of every operation, written into the OpenAPI document in one place.

Every route answers its errors as problem+json (service/errors.py), but FastAPI only
documents what a route declares, and documents its own 422 shape, which the service
never sends. Clients (and the contract tests) need every status an operation can answer.
The rules follow from how the service works, so they are applied to the generated
document rather than repeated on each route:

- every operation needs a key: 401 (no, unknown or revoked key) and 403 (role);
- a path parameter names an object: 404 (missing, or another organisation's: hidden);
- parameters or a body can break the contract or the agreement: 422;
- a body can be unreadable (400) or too large (413).

Statuses only some routes answer (409) are declared on the route with `responses=` (see
`conflict`); this module gives them the problem schema. The exception: every operation on
a settlement period can answer 409, so that is a rule here too. A second success status a
route sets itself (200 for a repeat of a 201) answers the route's response model, so it
gets that content.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from service.kit.problem import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be read",
    401: "No API key, or an unknown or revoked one",
    403: "The key's role may not do this",
    404: "No such object for this client (another organisation's objects are not shown)",
    409: "Conflicts with stored state",
    413: "The body is larger than the service accepts",
    422: "The request breaks the contract or the agreement; `violations` names each rule",
}


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
    code: str = Field(description="Stable; clients branch on it")
    detail: str
    instance: str
    request_id: str | None
    violations: list[ProblemViolation] | None = Field(default=None, description="With 422")


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or DESCRIPTIONS.get(status, "Error"),
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}
        }
    return response


def _statuses(operation: dict[str, Any]) -> list[int]:
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    statuses = [401, 403] if operation.get("security") else []
    if any(p.get("in") == "path" for p in parameters):
        statuses.append(404)
    if parameters or has_body:
        statuses.append(422)
    if has_body:
        statuses += [400, 413]
    if "settlement" in operation.get("tags", ()) and any(
        p.get("name") == "period" for p in parameters
    ):
        # Settling a period can meet a missing price index, a period not yet ended, or one
        # out of order (service/errors.py, DOMAIN_PROBLEMS).
        statuses.append(409)
    return statuses


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
        if not code.startswith("4"):
            continue
        documented = problem_response(int(code), response.get("description"))
        # FastAPI's own 422 (HTTPValidationError) is never sent: replaced, not merged.
        response["content"] = documented["content"]
        response["description"] = documented["description"]
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


def conflict(description: str = DESCRIPTIONS[409]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that can answer 409; the problem schema is added above."""
    return {409: {"description": description}}
