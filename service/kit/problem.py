"""The one builder of a problem+json body (RFC 9457), for the error handlers
(service/errors.py) and for the middlewares that answer before the app is reached (a body
too large, a retry given up).

A body never carries submitted values: callers pass an `instance` with CPR-shaped text
already masked (service/kit/requestctx.py, scrub_cpr).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from starlette.types import Send

PROBLEM_JSON = "application/problem+json"

# Every `code` a problem can carry, the one list: `ServiceError` and `problem_body` take
# only these (mypy checks every call), the OpenAPI document lists them as the enum of
# `Problem.code`, and each operation's error answers name the ones it can give
# (service/kit/openapi_responses.py). A new code is added here, with its status and meaning.
ProblemCode = Literal[
    # 400, 401, 403: the request, the key, the role
    "http_error",
    "missing_api_key",
    "invalid_api_key",
    "invalid_session",
    "not_signed_in",
    "role_not_allowed",
    "hospital_mismatch",
    "not_receiving_municipality",
    "not_sending_municipality",
    "csrf_token_invalid",
    "cross_site_request",
    # 404
    "not_found",
    "referral_not_found",
    "course_not_found",
    "transfer_not_found",
    "municipality_not_found",
    "statement_not_found",
    "approval_not_found",
    "objection_not_found",
    "payer_not_found",
    "tariff_not_found",
    "webhook_not_found",
    "no_tariff",
    "method_not_allowed",
    # 409
    "referral_conflict",
    "referral_not_pending",
    "active_course_exists",
    "course_not_active",
    "course_cancelled",
    "transfer_pending",
    "transfer_not_pending",
    "visit_conflict",
    "tariff_version_exists",
    "missing_price_index",
    "period_not_ended",
    "period_out_of_sequence",
    "period_closed",
    "period_not_begun",
    "period_already_issued",
    "course_not_held",
    "objection_already_answered",
    "approval_required",
    "approval_by_same_client",
    "draft_changed_since_approval",
    "issue_in_progress",
    "statement_not_issued",
    "nothing_to_invoice",
    "master_data_missing",
    "period_not_issued",
    "account_string_missing",
    "webhook_exists",
    # 413
    "request_too_large",
    # 422
    "invalid_request",
    "out_of_scope",
    "before_agreement",
    "invalid_period",
    "invalid_quarter",
    "end_before_start",
    "end_date_in_future",
    "start_date_in_future",
    "transfer_required",
    "line_not_on_statement",
    "same_municipality",
    "nothing_to_correct",
    "course_not_completed",
    "unknown_municipality",
    "visit_outside_course",
    "visit_in_future",
    "invalid_webhook_url",
    "domain_error",
    # 429
    "too_many_attempts",
    # 500, 503
    "internal_error",
    "retry_exhausted",
]
PROBLEM_CODE_VALUES: Final[tuple[ProblemCode, ...]] = get_args(ProblemCode)


def problem_code(text: str) -> ProblemCode:
    """`text` as a listed code (a domain error's `code`, which the pure core keeps as text);
    an unlisted one is a programming error, caught by the suite."""
    for code in PROBLEM_CODE_VALUES:
        if code == text:
            return code
    raise TypeError(f"problem code {text!r} is not listed in service/kit/problem.py")


@dataclass(frozen=True)
class CodeMeaning:
    """The status a code is answered with, and what it tells the client."""

    status: int
    meaning: str


PROBLEM_CODES: Final[Mapping[ProblemCode, CodeMeaning]] = {
    "http_error": CodeMeaning(400, "the body could not be read at all"),
    "missing_api_key": CodeMeaning(401, "no `Authorization: Bearer <key>` header"),
    "invalid_api_key": CodeMeaning(401, "the key is unknown or revoked"),
    "invalid_session": CodeMeaning(401, "web pages: the sign-in cookie is unknown or expired"),
    "not_signed_in": CodeMeaning(401, "web pages: sign in first"),
    "role_not_allowed": CodeMeaning(403, "the key's role may not do this"),
    "hospital_mismatch": CodeMeaning(403, "a hospital posts referrals for itself only"),
    "not_receiving_municipality": CodeMeaning(
        403, "only the receiving municipality accepts or declines a transfer"
    ),
    "not_sending_municipality": CodeMeaning(
        403, "only the sending municipality withdraws a transfer"
    ),
    "csrf_token_invalid": CodeMeaning(403, "web pages: the form's CSRF token is wrong"),
    "cross_site_request": CodeMeaning(403, "web pages: a form posted from another site"),
    "not_found": CodeMeaning(404, "no such path"),
    "referral_not_found": CodeMeaning(404, "no such referral for this client"),
    "course_not_found": CodeMeaning(404, "no such course for this client"),
    "transfer_not_found": CodeMeaning(404, "no such transfer for this client"),
    "municipality_not_found": CodeMeaning(404, "no municipality with this code"),
    "statement_not_found": CodeMeaning(404, "no such statement for this client"),
    "approval_not_found": CodeMeaning(404, "the period's draft has not been approved"),
    "objection_not_found": CodeMeaning(404, "no such objection for this client"),
    "payer_not_found": CodeMeaning(404, "no payer with this CVR number"),
    "tariff_not_found": CodeMeaning(404, "no tariff version with this id"),
    "webhook_not_found": CodeMeaning(404, "no webhook endpoint with this id"),
    "no_tariff": CodeMeaning(404, "no tariff version covers this year"),
    "method_not_allowed": CodeMeaning(405, "the path does not take this method"),
    "referral_conflict": CodeMeaning(
        409, "a referral with this external_ref exists with other content (`referral_id`)"
    ),
    "referral_not_pending": CodeMeaning(
        409, "the referral was already decided otherwise (`referral_status` or `course_id`)"
    ),
    "active_course_exists": CodeMeaning(
        409, "the patient has an active course of this type in this municipality"
    ),
    "course_not_active": CodeMeaning(409, "the course is no longer active (`course_status`)"),
    "course_cancelled": CodeMeaning(409, "the course is cancelled"),
    "transfer_pending": CodeMeaning(
        409, "a transfer of the course to another municipality awaits an answer (`transfer_id`)"
    ),
    "transfer_not_pending": CodeMeaning(
        409, "the transfer was already answered or withdrawn (`transfer_status`)"
    ),
    "visit_conflict": CodeMeaning(409, "a visit with this id is stored with other content"),
    "tariff_version_exists": CodeMeaning(
        409, "another tariff version with this valid_from is loaded (`tariff_id`)"
    ),
    "missing_price_index": CodeMeaning(409, "the price index of `year` is not loaded yet"),
    "period_not_ended": CodeMeaning(409, "the period has not ended yet"),
    "period_out_of_sequence": CodeMeaning(409, "an earlier period must be issued first"),
    "period_closed": CodeMeaning(409, "the period lies before the last issued one"),
    "objection_already_answered": CodeMeaning(
        409, "the objection was answered otherwise (`objection_status`)"
    ),
    "course_not_held": CodeMeaning(409, "no review rule holds the course now: nothing to release"),
    "statement_not_issued": CodeMeaning(409, "a draft is no e-invoice: issue the period first"),
    "nothing_to_invoice": CodeMeaning(
        409, "the statement has no lines: there is nothing to invoice"
    ),
    "period_not_issued": CodeMeaning(
        409, "the period is not issued: a journal books issued statements"
    ),
    "account_string_missing": CodeMeaning(
        409, "the journal needs account strings not configured: `missing` names each"
    ),
    "master_data_missing": CodeMeaning(
        409, "the e-invoice lacks master data: `missing` names each field to set first"
    ),
    "period_already_issued": CodeMeaning(409, "the period is issued: there is no draft to approve"),
    "approval_required": CodeMeaning(
        409, "the period's draft must be approved (by another region client) before it is issued"
    ),
    "approval_by_same_client": CodeMeaning(
        409, "the client that approved the draft may not issue it: four eyes (`approved_by`)"
    ),
    "draft_changed_since_approval": CodeMeaning(
        409,
        "the draft recomputed now differs from the one approved (`municipalities` names whose "
        "statements changed): approve it again",
    ),
    "period_not_begun": CodeMeaning(
        409, "the period has not begun: no draft of it yet (the detail says from when)"
    ),
    "issue_in_progress": CodeMeaning(409, "another issue is being made; ask again"),
    "webhook_exists": CodeMeaning(
        409, "an active webhook endpoint has this URL (`webhook_id`): deactivate it first"
    ),
    "request_too_large": CodeMeaning(413, "the body is larger than the service accepts"),
    "too_many_attempts": CodeMeaning(
        429, "too many failed sign-ins from this address; wait `Retry-After` seconds"
    ),
    "invalid_request": CodeMeaning(422, "the request does not match the contract"),
    "out_of_scope": CodeMeaning(422, "outside the agreement's scope (`violations`)"),
    "before_agreement": CodeMeaning(422, "before the first tariff version of the agreement"),
    "invalid_period": CodeMeaning(422, "a period is written YYYY-MM"),
    "invalid_quarter": CodeMeaning(422, "a quarter is written YYYYQn"),
    "end_before_start": CodeMeaning(422, "the end date is before the course start"),
    "end_date_in_future": CodeMeaning(422, "the end date lies in the future"),
    "start_date_in_future": CodeMeaning(
        422, "the start date lies past today plus the allowed margin (`latest_date`)"
    ),
    "line_not_on_statement": CodeMeaning(
        422, "an objection names a line that is not on the municipality's issued statement"
    ),
    "transfer_required": CodeMeaning(
        422, "a municipality moves a course to another municipality by a transfer"
    ),
    "same_municipality": CodeMeaning(422, "the course is already in that municipality"),
    "nothing_to_correct": CodeMeaning(422, "the correction changes no value"),
    "course_not_completed": CodeMeaning(422, "complete the course to set its end date"),
    "unknown_municipality": CodeMeaning(422, "not one of the region's municipalities"),
    "visit_outside_course": CodeMeaning(422, "the visit lies outside the course dates"),
    "visit_in_future": CodeMeaning(422, "a visit is recorded after it has started"),
    "invalid_webhook_url": CodeMeaning(
        422, "a webhook endpoint is an http:// or https:// URL with a host, no credentials"
    ),
    "domain_error": CodeMeaning(422, "breaks another rule of the agreement"),
    "internal_error": CodeMeaning(500, "the request failed; quote the request id"),
    "retry_exhausted": CodeMeaning(
        503, "collided with concurrent requests; nothing was stored; send it again"
    ),
}
RESERVED_FIELDS = frozenset(
    {"type", "title", "status", "code", "detail", "instance", "request_id", "violations"}
)
"""The fields every problem has (and `violations` of a 422): extra fields may not reuse them."""


def problem_body(
    status: int,
    code: ProblemCode,
    title: str,
    detail: str,
    request_id: str | None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The problem as JSON-ready data; `instance` is left out when None (a request refused
    before routing names no path)."""
    body: dict[str, Any] = {
        "type": f"urn:ivsettle:problem:{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    body["request_id"] = request_id
    body.update(extra)
    return body


async def send_problem(
    send: Send,
    body: dict[str, Any],
    headers: Sequence[tuple[bytes, bytes]] = (),
    with_length: bool = False,
) -> None:
    """Answer a problem from ASGI middleware (outside FastAPI's handlers): the content type,
    then `headers` as given, then (`with_length`) the Content-Length."""
    content = json.dumps(body).encode()
    length = [(b"content-length", str(len(content)).encode())] if with_length else []
    await send(
        {
            "type": "http.response.start",
            "status": body["status"],
            "headers": [(b"content-type", PROBLEM_JSON.encode()), *headers, *length],
        }
    )
    await send({"type": "http.response.body", "body": content})
