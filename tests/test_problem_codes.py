"""Problem codes: one catalogue (service/kit/problem.py), all of it in the document, and
each operation's error answers listing the codes it gives (checked against what the whole
suite sees answered, by tests/support/problem_record.py)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from service.cli import openapi_text
from service.domain.tariff import DomainError
from service.errors import DOMAIN_PROBLEMS, ServiceError
from service.kit.problem import PROBLEM_CODE_VALUES, PROBLEM_CODES
from tests.support.api import MakeApi
from tests.support.factories import referral_payload
from tests.support.problem_record import SEEN, Answered, undocumented

SERVICE = Path(__file__).resolve().parents[1] / "service"
RAISERS = {"NotFound", "Conflict", "Invalid", "Forbidden", "Unauthenticated", "ServiceError"}


def _document() -> dict[str, Any]:
    return json.loads(openapi_text())


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


def test_the_catalogue_is_the_enum_of_problem_code() -> None:
    document = _document()
    assert set(PROBLEM_CODES) == set(PROBLEM_CODE_VALUES)
    problem = document["components"]["schemas"]["Problem"]
    assert problem["properties"]["code"]["$ref"] == "#/components/schemas/ProblemCode"
    assert document["components"]["schemas"]["ProblemCode"]["enum"] == list(PROBLEM_CODE_VALUES)


def test_every_code_raised_in_the_code_is_in_the_document() -> None:
    # mypy checks the calls too (`code: ProblemCode`); this also catches a code passed
    # through a variable of type str somewhere mypy is told to look away.
    enum = set(_document()["components"]["schemas"]["ProblemCode"]["enum"])
    raised: dict[str, str] = {}
    for source in SERVICE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            first = node.args[0]
            if name in RAISERS | {"_invalid"} and isinstance(first, ast.Constant):
                raised[str(first.value)] = f"{source.relative_to(SERVICE)}:{node.lineno}"
    assert len(raised) > 30  # the scan finds the raise sites
    assert {code: where for code, where in raised.items() if code not in enum} == {}


def test_every_domain_error_code_is_listed_with_the_status_it_is_answered_with() -> None:
    import service.main  # noqa: F401  (imports every domain error class)

    for error in [DomainError, *_all_subclasses(DomainError)]:
        rule = next(DOMAIN_PROBLEMS[c] for c in error.__mro__ if c in DOMAIN_PROBLEMS)
        assert error.code in PROBLEM_CODES, error
        assert PROBLEM_CODES[error.code].status == rule.kind.status, error  # type: ignore[index]


def test_a_service_error_with_an_unlisted_code_or_status_is_refused() -> None:
    from service.errors import Conflict, NotFound

    NotFound("course_not_found", "listed with 404")
    for make in (lambda: NotFound("visit_conflict", "a 409 code"), lambda: Conflict("nope", "x")):  # type: ignore[arg-type]
        try:
            make()
        except TypeError:
            continue
        raise AssertionError("an unlisted code or status was accepted")
    assert issubclass(NotFound, ServiceError)


def test_every_error_answer_lists_its_codes_with_its_status() -> None:
    for method, path, operation in _operations(_document()):
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                continue
            codes = response.get("x-problem-codes")
            assert codes, (method, path, status)
            for code in codes:
                assert PROBLEM_CODES[code].status == int(status), (method, path, status, code)
                assert f"`{code}`" in response["description"]
            assert response["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }


def test_every_operation_documents_401_and_503() -> None:
    for method, path, operation in _operations(_document()):
        assert "503" in operation["responses"], (method, path)
        assert "Retry-After" in operation["responses"]["503"]["headers"]
        assert "401" in operation["responses"], (method, path)


def test_extra_fields_of_problems_are_modelled() -> None:
    properties = _document()["components"]["schemas"]["Problem"]["properties"]
    for field in ("referral_id", "course_id", "course", "course_status", "year", "tariff_id"):
        assert field in properties, field


async def test_the_recorder_notes_answers_and_finds_an_undeclared_code(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    body = referral_payload()
    assert (await hospital.post("/api/v1/referrals", json=body)).status_code == 201
    other = {**body, "planned_days": body["planned_days"] + 1}
    conflict = await hospital.post("/api/v1/referrals", json=other)
    assert conflict.status_code == 409
    answered = Answered("post", "/api/v1/referrals", 409, "referral_conflict")
    assert answered in SEEN
    document = _document()
    assert undocumented([answered], document) == []
    unlisted = Answered("post", "/api/v1/referrals", 409, "visit_conflict")
    assert undocumented([unlisted], document) == [unlisted]


def test_docs_api_lists_every_code() -> None:
    text = (SERVICE.parent / "docs" / "API.md").read_text(encoding="utf-8")
    assert [code for code in PROBLEM_CODE_VALUES if f"`{code}`" not in text] == []
