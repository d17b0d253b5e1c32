"""The exported contract (contracts/openapi.json) and the examples stay true to the app."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

from service.cli import openapi_text
from service.domain.vocabulary import (
    DEVIATIONS,
    LINE_KINDS,
    REJECTION_REASONS,
    TREATMENT_TYPES,
    AdjustmentReason,
    EndReason,
)
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


def _schemas() -> dict[str, Any]:
    return dict(json.loads(openapi_text())["components"]["schemas"])


def _ref(prop: dict[str, Any]) -> str | None:
    """The schema a property refers to, through a nullable anyOf or an array's items."""
    for option in prop.get("anyOf", [prop]):
        target = option.get("items", option)
        if "$ref" in target:
            return str(target["$ref"]).rsplit("/", 1)[-1]
    return None


def _enum(prop: dict[str, Any]) -> list[str] | None:
    for option in prop.get("anyOf", [prop]):
        target = option.get("items", option)
        if "enum" in target:
            return list(target["enum"])
    return None


MONEY_FIELDS = {
    "LineOut": ("unit_price", "amount"),
    "BilledLineOut": ("unit_price", "amount"),
    "CourseOut": ("billed_total",),
    "TotalOut": ("amount",),
    "StatementOut": ("total", "regular_total", "adjustment_total"),
    "MunicipalityTotalOut": ("total", "regular_total", "adjustment_total"),
    "RegionSummaryOut": ("total",),
}


def test_every_money_field_is_the_one_money_schema() -> None:
    schemas = _schemas()
    assert schemas["Money"]["type"] == "string"
    assert schemas["Money"]["pattern"] == r"^-?\d+\.\d{2}$"
    assert "kr." in schemas["Money"]["description"]
    for model, fields in MONEY_FIELDS.items():
        for field in fields:
            assert _ref(schemas[model]["properties"][field]) == "Money", (model, field)
    # No other output field still holds an amount as a bare string.
    for model, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            if field in {"total", "amount", "unit_price", "billed_total"}:
                assert _ref(prop) == "Money" or model.endswith("In"), (model, field)


def test_the_price_index_is_one_type_in_and_out() -> None:
    schemas = _schemas()
    given = schemas["PriceIndexIn"]["properties"]["index"]
    assert given["type"] == "string" and "anyOf" not in given
    assert given["pattern"] == schemas["PriceIndexText"]["pattern"]
    assert _ref(schemas["PriceIndexOut"]["properties"]["index"]) == "PriceIndexText"


def test_closed_sets_are_enums_and_periods_patterns() -> None:
    schemas = _schemas()
    closed = {
        ("ReferralOut", "rejection_reason"): REJECTION_REASONS,
        ("ReferralOut", "treatment_type"): TREATMENT_TYPES,
        ("CourseOut", "treatment_type"): TREATMENT_TYPES,
        ("CourseOut", "end_reason"): get_args(EndReason),
        ("VisitOut", "deviations"): DEVIATIONS,
        ("LineOut", "reason"): get_args(AdjustmentReason),
        ("BilledLineOut", "reason"): get_args(AdjustmentReason),
        ("BilledLineOut", "kind"): LINE_KINDS,
        ("TreatmentFiguresOut", "treatment_type"): TREATMENT_TYPES,
    }
    for (model, field), values in closed.items():
        assert _enum(schemas[model]["properties"][field]) == list(values), (model, field)
    for model, field in (
        ("LineOut", "period"),
        ("BilledLineOut", "period"),
        ("BilledLineOut", "statement_period"),
        ("StatementOut", "period"),
        ("RegionSummaryOut", "period"),
    ):
        assert _ref(schemas[model]["properties"][field]) == "PeriodText", (model, field)
    assert _ref(schemas["MonitoringOut"]["properties"]["quarter"]) == "QuarterText"
    # A referral's type is checked against the agreement (out_of_scope), so it is a
    # documented pattern on the way in.
    assert _ref(schemas["ReferralIn"]["properties"]["treatment_type"]) == "TreatmentTypeText"


def test_every_download_is_declared_as_binary() -> None:
    paths = json.loads(openapi_text())["paths"]
    downloads = [
        "/api/v1/settlements/{period}/statements/{municipality_code}.{fmt}",
        "/api/v1/settlements/{period}.xlsx",
        "/api/v1/monitoring/{quarter}.{fmt}",
    ]
    for path in downloads:
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert content, path
        for media, body in content.items():
            assert body["schema"] == {"type": "string", "format": "binary"}, (path, media)
