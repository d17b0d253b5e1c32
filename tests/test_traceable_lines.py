"""Lines finance can trace (issue 13): every course has a short number, never reused and not
derived from the patient; statement lines carry it with the course's dates, the hospital's
name and references and the municipality's own reference, in the API, the files and on the
web, where a line opens the course's page (no CPR on it). Through HTTP on both databases."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re
from typing import Any

import httpx
import pytest
import rfc8785
from fastapi import FastAPI
from pypdf import PdfReader

from service.settlement.schemas import LineOut
from tests.support.api import Api, MakeApi
from tests.support.factories import CPR_A, CPR_B, at, fresh_cpr, issue, make_course, visit

NUMBER = re.compile(r"^IV-2024-\d{5}$")
TRACE_KEYS = {
    "course_number",
    "course_start",
    "course_end",
    "hospital_name",
    "external_ref",
    "department",
    "municipality_ref",
}


@pytest.fixture
async def parties(app: FastAPI, api: MakeApi) -> tuple[Api, Api, Api]:
    at(app, "2024-04-02T10:00:00+02:00")
    return await api("hospital", "HGH"), await api("municipality", "157"), await api("region")


async def given_course(hospital: Api, municipality: Api, cpr: str, ref: str) -> dict[str, Any]:
    course = await make_course(
        hospital, municipality, start_date="2024-03-04", patient_cpr=cpr, external_ref=ref,
        expected_start_date="2024-03-04",
    )  # fmt: skip
    r = await municipality.post(
        f"/api/v1/courses/{course['id']}/visits", json=visit("2024-03-04T09:00:00+01:00")
    )
    assert r.status_code == 201, r.text
    return course


def recomputed_hash(statement: dict[str, Any]) -> str:
    content = {k: v for k, v in statement.items() if k not in ("hash", "chain")}
    return hashlib.sha256(rfc8785.dumps(content)).hexdigest()


async def test_courses_are_numbered_by_registration_year_and_found_by_number(
    app: FastAPI, parties: tuple[Api, Api, Api], api: MakeApi
) -> None:
    hospital, gentofte, region = parties
    first = await make_course(hospital, gentofte, patient_cpr=CPR_A)
    second = await make_course(hospital, gentofte, patient_cpr=CPR_B)
    assert NUMBER.match(first["number"]) and NUMBER.match(second["number"])
    assert int(second["number"][-5:]) == int(first["number"][-5:]) + 1
    assert first["external_ref"].startswith("HGH-") and first["hospital_name"]
    found = await region.get("/api/v1/courses", params={"number": second["number"]})
    assert [c["id"] for c in found.json()] == [second["id"]]
    # Another municipality does not find it by its number.
    copenhagen = await api("municipality", "101")
    assert (
        await copenhagen.get("/api/v1/courses", params={"number": first["number"]})
    ).json() == []
    # A new year starts its own count.
    at(app, "2025-01-02T10:00:00+01:00")
    newer = await make_course(
        hospital, gentofte, start_date="2025-01-02", patient_cpr=fresh_cpr(),
        expected_start_date="2025-01-02",
    )  # fmt: skip
    assert newer["number"] == "IV-2025-00001"


async def test_concurrent_registrations_never_share_a_number(
    parties: tuple[Api, Api, Api],
) -> None:
    hospital, gentofte, _ = parties
    courses = await asyncio.gather(
        *(make_course(hospital, gentofte, patient_cpr=fresh_cpr()) for _ in range(8))
    )
    numbers = sorted(c["number"] for c in courses)
    assert len(set(numbers)) == 8
    serials = [int(n[-5:]) for n in numbers]
    assert serials == list(range(serials[0], serials[0] + 8))


async def test_the_municipality_sets_its_own_reference(
    parties: tuple[Api, Api, Api], api: MakeApi
) -> None:
    hospital, gentofte, region = parties
    course = await make_course(hospital, gentofte, patient_cpr=CPR_A)
    url = f"/api/v1/courses/{course['id']}"
    r = await gentofte.patch(url, json={"municipality_ref": "SAG-2024-0042"})
    assert r.status_code == 200 and r.json()["municipality_ref"] == "SAG-2024-0042", r.text
    assert (await region.get(url)).json()["municipality_ref"] == "SAG-2024-0042"
    # Free text: a CPR number is refused, naming the field; nothing else may be patched.
    cpr = await gentofte.patch(url, json={"municipality_ref": "sag 0101401234"})
    assert cpr.status_code == 422 and cpr.json()["violations"][0]["field"].endswith(
        "municipality_ref"
    )
    other = await gentofte.patch(url, json={"start_date": "2024-03-01"})
    assert other.status_code == 422
    assert (await region.patch(url, json={"municipality_ref": "x"})).status_code == 403
    copenhagen = await api("municipality", "101")
    assert (await copenhagen.patch(url, json={"municipality_ref": "x"})).status_code == 404
    cleared = await gentofte.patch(url, json={"municipality_ref": None})
    assert cleared.status_code == 200 and cleared.json()["municipality_ref"] is None


async def test_statement_lines_carry_the_trace_into_the_issue_its_hash_and_files(
    app: FastAPI, parties: tuple[Api, Api, Api]
) -> None:
    hospital, gentofte, region = parties
    course = await given_course(hospital, gentofte, CPR_A, "HGH-TRACE-1")
    r = await gentofte.patch(
        f"/api/v1/courses/{course['id']}", json={"municipality_ref": "CARE-77"}
    )
    assert r.status_code == 200, r.text
    draft = (await region.get("/api/v1/settlements/2024-03/statements/157")).json()
    (line,) = [x for x in draft["lines"] if x["course_id"] == course["id"]][:1]
    assert line["course_number"] == course["number"]
    assert line["course_start"] == "2024-03-04" and "course_end" not in line  # ongoing
    assert line["hospital_name"] == course["hospital_name"]
    assert line["external_ref"] == "HGH-TRACE-1"
    assert line["department"] == "Infektionsmedicinsk afd."
    assert line["municipality_ref"] == "CARE-77"

    await issue(region, "2024-03")
    issued = (await region.get("/api/v1/settlements/2024-03/statements/157")).json()
    lines = [x for x in issued["lines"] if x["course_id"] == course["id"]]
    assert lines and all(x["course_number"] == course["number"] for x in lines)
    assert all(x["municipality_ref"] == "CARE-77" for x in lines)
    # Anyone can recompute the hash from the JSON served (RFC 8785 without hash and chain).
    assert recomputed_hash(issued) == issued["hash"]
    # What the course says later does not change the issued lines.
    await gentofte.patch(f"/api/v1/courses/{course['id']}", json={"municipality_ref": "NEW"})
    again = (await region.get("/api/v1/settlements/2024-03/statements/157")).json()
    assert again == issued

    files = {
        fmt: (await gentofte.get(f"/api/v1/settlements/2024-03/statements/157.{fmt}")).content
        for fmt in ("csv", "pdf")
    }
    rows = list(csv.reader(io.StringIO(files["csv"].decode("utf-8-sig")), delimiter=";"))
    heading = next(i for i, row in enumerate(rows) if row[:2] == ["Forløb", "Periode"])
    columns = rows[heading]
    mine = [dict(zip(columns, row, strict=False)) for row in rows[heading + 1 :]]
    mine = [row for row in mine if row.get("Forløb") == course["id"]]
    assert mine and {row["Forløbsnummer"] for row in mine} == {course["number"]}
    assert {row["Hospitalets reference"] for row in mine} == {"HGH-TRACE-1"}
    assert {row["Kommunens reference"] for row in mine} == {"CARE-77"}
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(files["pdf"])).pages)
    assert course["number"] in text


def test_a_line_without_a_trace_has_the_content_it_was_issued_with() -> None:
    """Lines issued before lines carried a trace have none of its keys, so the canonical
    content (and the hash) of those statements is what it was."""
    line = LineOut(
        course_id="00000000-0000-0000-0000-000000000001",
        kind="course_fee",
        period="2024-03",
        quantity=1,
        unit_price="6915.00",
        amount="6915.00",
        tier=1,
        position=1,
        treatment_type="antibiotics",
        hospital_code="HGH",
        tariff_version_id=1,
        adjustment=False,
        reason=None,
    )
    dumped = line.model_dump(mode="json")
    assert not TRACE_KEYS & dumped.keys() and "reason" in dumped
    numbered = line.model_copy(update={"course_number": "IV-2024-00001"})
    assert TRACE_KEYS & numbered.model_dump(mode="json").keys() == {"course_number"}


async def test_a_statement_line_opens_the_course_page_without_cpr(
    app: FastAPI, parties: tuple[Api, Api, Api], api: MakeApi
) -> None:
    hospital, gentofte, region = parties
    course = await given_course(hospital, gentofte, CPR_A, "HGH-PAGE-1")
    transport = httpx.ASGITransport(app=app)
    for who in (region, gentofte):
        key = str(who.client.headers["Authorization"]).removeprefix("Bearer ")
        async with httpx.AsyncClient(transport=transport, base_url="http://ivsettle.test") as web:
            assert (await web.post("/log-ind", data={"api_key": key})).status_code == 303
            statement = await web.get("/perioder/2024-03/kommuner/157")
            assert f'href="/forloeb/{course["id"]}"' in statement.text
            assert course["number"] in statement.text
            page = await web.get(f"/forloeb/{course['id']}")
            assert page.status_code == 200, page.text
            assert course["number"] in page.text and "HGH-PAGE-1" in page.text
            assert 'id="visits-chart"' in page.text and 'class="bar" data-value="1"' in page.text
            assert CPR_A not in page.text and CPR_A[:6] not in page.text
    copenhagen = await api("municipality", "101")
    key = str(copenhagen.client.headers["Authorization"]).removeprefix("Bearer ")
    async with httpx.AsyncClient(transport=transport, base_url="http://ivsettle.test") as web:
        assert (await web.post("/log-ind", data={"api_key": key})).status_code == 303
        assert (await web.get(f"/forloeb/{course['id']}")).status_code == 404
        assert (await web.get("/forloeb/not-a-uuid")).status_code == 404
