"""The exported contract (contracts/openapi.json) and the examples stay true to the app."""

from __future__ import annotations

import json
import re
from pathlib import Path

from service.cli import openapi_text
from service.referral.schemas import ReferralIn
from service.visit.schemas import VisitBatchIn

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"


def test_openapi_document_matches_the_app() -> None:
    exported = (CONTRACTS / "openapi.json").read_text(encoding="utf-8")
    assert json.loads(exported) == json.loads(openapi_text()), (
        "the API changed: run `ivsettle openapi` and commit contracts/openapi.json"
    )


def test_every_route_is_under_api_v1_and_answers_problem_json() -> None:
    spec = json.loads(openapi_text())
    assert all(path.startswith("/api/v1/") for path in spec["paths"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_every_operation_has_a_short_unique_camel_case_id() -> None:
    # Generated clients name their functions by it: `getStatement`, not FastAPI's default
    # of function name + path + method.
    spec = json.loads(openapi_text())
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)*", operation_id), operation_id
        assert len(operation_id) <= 24, operation_id
    assert {"getStatement", "issuePeriod", "createReferral", "recordVisitBatch"} <= set(ids)


def test_examples_parse_against_the_schemas() -> None:
    ReferralIn.model_validate_json(
        (CONTRACTS / "examples" / "referral.json").read_text(encoding="utf-8")
    )
    VisitBatchIn.model_validate_json(
        (CONTRACTS / "examples" / "visit-batch.json").read_text(encoding="utf-8")
    )
