"""What each event says (its `data`): ids, codes, amounts, hashes and the API paths to
fetch the rest. Never a CPR number, nor free text (an objection's text, an answer's note:
a person may have typed anything into it); those are read through the API, where reading
them is audited. docs/API.md lists these fields per type."""

from __future__ import annotations

import uuid
from typing import Any

from service.domain.money import format_kr
from service.models import Objection

API = "/api/v1"


def period_issued(
    period: str,
    issue_id: uuid.UUID,
    statements: int,
    total_ore: int,
    chain_sha256: str,
    previous_sha256: str,
) -> dict[str, Any]:
    """A period issued for all municipalities at once."""
    return {
        "period": period,
        "issue_id": str(issue_id),
        "statements": statements,
        "total": format_kr(total_ore),
        "chain_sha256": chain_sha256,
        "previous_chain_sha256": previous_sha256,
        "links": {
            "summary": f"{API}/settlements/{period}",
            "xlsx": f"{API}/settlements/{period}.xlsx",
        },
    }


def statement_issued(
    period: str,
    municipality_code: str,
    payer_cvr: str,
    number_year: int,
    number: int,
    total_ore: int,
    content_sha256: str,
    chain_sha256: str,
) -> dict[str, Any]:
    """One municipality's issued statement (its number is unique per payer and year)."""
    statement = f"{API}/settlements/{period}/statements/{municipality_code}"
    return {
        "period": period,
        "municipality_code": municipality_code,
        "payer_cvr": payer_cvr,
        "number_year": number_year,
        "number": number,
        "total": format_kr(total_ore),
        "hash": content_sha256,
        "chain_sha256": chain_sha256,
        "links": {
            "statement": statement,
            "pdf": f"{statement}.pdf",
            "csv": f"{statement}.csv",
            "xlsx": f"{statement}.xlsx",
        },
    }


def objection(objection: Objection, course_number: str) -> dict[str, Any]:
    """An objection raised or answered: what it is about and its status, not its text."""
    return {
        "objection_id": str(objection.id),
        "course_id": str(objection.course_id),
        "course_number": course_number,
        "municipality_code": objection.municipality_code,
        "period": objection.period,
        "line_kind": objection.line_kind,
        "line_period": objection.line_period,
        "reason": objection.reason,
        "status": objection.status,
        "links": {
            "objection": f"{API}/objections/{objection.id}",
            "course": f"{API}/courses/{objection.course_id}",
        },
    }
