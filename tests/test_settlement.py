"""Monthly settlement through HTTP on both databases: the agreement's worked examples,
issuing rules, immutability, access, the staircase and the payer timeline."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.support.api import Api, MakeApi
from tests.support.databases import owner_sessions
from tests.support.factories import (
    CPR_A,
    CPR_B,
    CPR_C,
    at,
    completed_course,
    issue,
    make_course,
    visit,
)
from tests.support.tariffs import tariff_2021, tariff_2027


def lines_of(statement: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            line["period"],
            line["kind"],
            line["quantity"],
            line["unit_price"],
            line["amount"],
            line["adjustment"],
            line["reason"],
        )
        for line in statement["lines"]
    ]


async def statement(client: Api, period: str, code: str = "157") -> dict[str, Any]:
    r = await client.get(f"/api/v1/settlements/{period}/statements/{code}")
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
async def parties(api: MakeApi) -> tuple[Api, Api, Api]:
    return await api("hospital", "HGH"), await api("municipality", "157"), await api("region")


async def test_examples_1_and_2_course_fee_in_the_start_month_day_fees_by_month(
    parties: tuple[Api, Api, Api],
) -> None:
    hospital, gentofte, region = parties
    ex1 = await completed_course(
        hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A
    )
    ex2 = await completed_course(hospital, gentofte, "2024-01-30", "2024-02-02", "fluids", CPR_B)

    jan = await issue(region, "2024-01")
    assert jan["state"] == "issued"
    s = await statement(gentofte, "2024-01")
    assert lines_of(s) == [("2024-01", "course_fee", 1, "1343.00", "1343.00", False, None)]
    assert s["lines"][0]["course_id"] == ex2["id"] and s["lines"][0]["tier"] == 1
    assert s["total"] == "1343.00" and s["state"] == "issued" and len(s["hash"]) == 64

    await issue(region, "2024-02")
    assert lines_of(await statement(gentofte, "2024-02")) == [
        ("2024-02", "day_fee", 1, "341.00", "341.00", False, None)
    ]
    await issue(region, "2024-03")
    march = await statement(gentofte, "2024-03")
    assert lines_of(march) == [("2024-03", "course_fee", 1, "6915.00", "6915.00", False, None)]
    assert march["lines"][0]["course_id"] == ex1["id"]
    await issue(region, "2024-04")
    april = await statement(gentofte, "2024-04")
    assert lines_of(april) == [("2024-04", "day_fee", 3, "1485.00", "4455.00", False, None)]
    assert april["total"] == "4455.00"
    assert april["totals_by_type"] == [{"key": "antibiotics", "amount": "4455.00"}]
    # Positions follow the order of first billing: ex2 (January) 1, ex1 (March) 2.
    assert [s["lines"][0]["position"] for s in (march, april)] == [2, 2]


async def test_examples_3_4_6_late_registration_correction_and_cancellation(
    app: FastAPI, parties: tuple[Api, Api, Api]
) -> None:
    hospital, gentofte, region = parties
    ex1 = await completed_course(
        hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A
    )
    await completed_course(hospital, gentofte, "2024-01-30", "2024-02-02", "fluids", CPR_B)
    at(app, "2024-05-06T10:00:00+02:00")
    for period in ("2024-01", "2024-02", "2024-03", "2024-04"):
        await issue(region, period)

    # Example 3: a pump course of February registered in May.
    at(app, "2024-05-20T10:00:00+02:00")
    pump = await completed_course(hospital, gentofte, "2024-02-10", "2024-02-20", "pump", CPR_C)
    # Example 4: example 1's end date corrected after April was issued.
    r = await gentofte.post(
        f"/api/v1/courses/{ex1['id']}/corrections",
        json={"end_date": "2024-04-03", "reason": "the last two days were not given"},
    )
    assert r.status_code == 200, r.text
    at(app, "2024-06-03T10:00:00+02:00")
    may = await statement(gentofte, "2024-05")
    assert may["state"] == "draft" and may["number"] is None
    assert sorted(lines_of(may)) == sorted(
        [
            ("2024-02", "course_fee", 1, "2049.00", "2049.00", True, "late_registration"),
            ("2024-02", "day_fee", 5, "341.00", "1705.00", True, "late_registration"),
            ("2024-04", "day_fee", -2, "1485.00", "-2970.00", True, "correction"),
        ]
    )
    assert {line["position"] for line in may["lines"] if line["course_id"] == pump["id"]} == {3}
    assert may["adjustment_total"] == "784.00" and may["regular_total"] == "0.00"
    assert (await region.get("/api/v1/settlements/2024-05")).json()["registered_not_settled"] == 1
    issued = await issue(region, "2024-05")
    assert issued["registered_not_settled"] == 0
    assert (await statement(gentofte, "2024-05"))["lines"] == may["lines"]
    assert issued["staircase"]["counted"] == 3

    # Example 6: a billed course cancelled is credited in full in the next statement.
    r = await gentofte.post(
        f"/api/v1/courses/{pump['id']}/cancel", json={"reason": "registered in error"}
    )
    assert r.status_code == 200
    at(app, "2024-07-02T10:00:00+02:00")
    june = await statement(gentofte, "2024-06")
    assert sorted(lines_of(june)) == sorted(
        [
            ("2024-02", "course_fee", -1, "2049.00", "-2049.00", True, "cancellation"),
            ("2024-02", "day_fee", -5, "341.00", "-1705.00", True, "cancellation"),
        ]
    )
    assert june["total"] == "-3754.00"  # a statement may total a negative amount
    await issue(region, "2024-06")
    # A run with no new data adds nothing; the cancelled course keeps its position.
    at(app, "2024-08-02T10:00:00+02:00")
    assert (await statement(gentofte, "2024-07"))["lines"] == []
    assert (await region.get("/api/v1/staircase/2024")).json()["counted"] == 3


async def test_an_active_course_is_billed_through_its_last_given_visit(
    parties: tuple[Api, Api, Api],
) -> None:
    hospital, gentofte, region = parties
    course = await make_course(hospital, gentofte, start_date="2024-04-25")
    assert (await statement(region, "2024-04"))["lines"] == []  # no given visit: nothing yet
    for day in ("2024-04-25", "2024-05-02"):
        await gentofte.post(
            f"/api/v1/courses/{course['id']}/visits", json=visit(f"{day}T09:00:00+02:00")
        )
    await gentofte.post(
        f"/api/v1/courses/{course['id']}/visits",
        json=visit("2024-05-04T09:00:00+02:00", administered=False),
    )
    await issue(region, "2024-04")
    assert lines_of(await statement(gentofte, "2024-04")) == [
        ("2024-04", "course_fee", 1, "6915.00", "6915.00", False, None),
    ]
    # Days 7 and 8 (1-2 May) through the last given visit; the dose not given on 4 May is not.
    assert lines_of(await statement(gentofte, "2024-05")) == [
        ("2024-05", "day_fee", 2, "1485.00", "2970.00", False, None)
    ]


async def test_issue_order_and_repeats(parties: tuple[Api, Api, Api]) -> None:
    hospital, gentofte, region = parties
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    r = await region.post("/api/v1/settlements/2024-06/issue")  # clock: 2024-06-15
    assert r.status_code == 409 and r.json()["code"] == "period_not_ended"
    first = await issue(region, "2024-03")
    numbers = [m["number"] for m in first["municipalities"]]
    assert numbers == list(range(1, 30))
    again = await issue(region, "2024-03", expected=200)
    assert again == first
    r = await region.post("/api/v1/settlements/2024-05/issue")
    assert r.status_code == 409 and r.json()["code"] == "period_out_of_sequence"
    april = await issue(region, "2024-04")
    assert [m["number"] for m in april["municipalities"]] == list(range(30, 59))
    r = await region.get("/api/v1/settlements/2024-02")
    assert r.status_code == 409 and r.json()["code"] == "period_closed"
    assert (await region.post("/api/v1/settlements/2024-13/issue")).status_code == 422


async def test_concurrent_issue_requests_make_one_issue(parties: tuple[Api, Api, Api]) -> None:
    hospital, gentofte, region = parties
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    responses = await asyncio.gather(
        *(region.post("/api/v1/settlements/2024-03/issue") for _ in range(6))
    )
    # One issues; the others either found it made (200) or were turned away while it was
    # being made (409 issue_in_progress: SQLite queues writers, PostgreSQL does not).
    assert sorted(r.status_code for r in responses).count(201) == 1
    issued = [r for r in responses if r.status_code in (200, 201)]
    busy = [r for r in responses if r.status_code == 409]
    assert len(issued) + len(busy) == 6
    assert all(r.json()["code"] == "issue_in_progress" for r in busy)
    assert len({tuple(m["number"] for m in r.json()["municipalities"]) for r in issued}) == 1


async def test_issued_statements_cannot_be_changed_in_the_database(
    app: FastAPI, parties: tuple[Api, Api, Api]
) -> None:
    hospital, gentofte, region = parties
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    await issue(region, "2024-03")
    for sql in (
        "UPDATE statements SET total_ore = 0",
        "DELETE FROM statements",
        "UPDATE statement_lines SET amount_ore = 1",
        "DELETE FROM statement_lines",
        "UPDATE course_positions SET tier = 3",
        "DELETE FROM settlement_issues",
    ):
        # As the owner: the service role is refused earlier, by its privileges.
        async with owner_sessions(app) as sessions, sessions() as session:
            with pytest.raises(DBAPIError, match="write-once"):
                await session.execute(text(sql))
            await session.rollback()
    assert (await statement(gentofte, "2024-03"))["total"] == "6915.00"


async def test_the_hash_is_of_the_canonical_content(parties: tuple[Api, Api, Api]) -> None:
    import hashlib
    import json

    hospital, gentofte, region = parties
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    await issue(region, "2024-03")
    s = await statement(gentofte, "2024-03")
    content = {k: v for k, v in s.items() if k not in ("hash", "chain")}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode()).hexdigest() == s["hash"]


async def test_municipalities_read_only_their_own_statements(
    api: MakeApi, parties: tuple[Api, Api, Api]
) -> None:
    hospital, gentofte, region = parties
    copenhagen = await api("municipality", "101")
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    assert (await copenhagen.get("/api/v1/settlements/2024-03/statements/157")).status_code == 404
    assert (await copenhagen.get("/api/v1/settlements/2024-03/statements/101")).status_code == 200
    assert (await copenhagen.get("/api/v1/settlements/2024-03")).status_code == 403
    assert (await copenhagen.post("/api/v1/settlements/2024-03/issue")).status_code == 403
    assert (await hospital.get("/api/v1/settlements/2024-03/statements/157")).status_code == 403
    assert (await region.get("/api/v1/settlements/2024-03/statements/999")).status_code == 404
    summary = (await region.get("/api/v1/settlements/2024-03")).json()
    assert summary["state"] == "draft" and len(summary["municipalities"]) == 29
    assert summary["registered_not_settled"] == 1
    assert summary["total"] == "6915.00"
    assert summary["totals_by_hospital"] == [{"key": "HGH", "amount": "6915.00"}]
    assert CPR_A not in str(summary)


def small_staircase_2024() -> dict[str, Any]:
    doc = copy.deepcopy(tariff_2021())
    doc.pop("sources")
    doc.update(
        name="test: tiers after 1 and 2 courses", valid_from="2024-01-01", tier_thresholds=[1, 2]
    )
    return doc


async def test_staircase_tiers_by_position_and_a_new_year_starts_at_tier_1(
    api: MakeApi, parties: tuple[Api, Api, Api]
) -> None:
    hospital, gentofte, region = parties
    admin = await api("admin")
    assert (await admin.post("/api/v1/tariffs", json=small_staircase_2024())).status_code == 201
    cprs = [CPR_A, CPR_B, CPR_C]
    for cpr, start in zip(cprs, ("2024-03-01", "2024-03-02", "2024-03-03"), strict=True):
        await completed_course(hospital, gentofte, start, start, "fluids", cpr)
    draft = await statement(region, "2024-03")
    assert [(line["position"], line["tier"], line["unit_price"]) for line in draft["lines"]] == [
        (1, 1, "1343.00"),
        (2, 2, "1274.00"),
        (3, 3, "1240.00"),
    ]
    await issue(region, "2024-03")
    stairs = (await region.get("/api/v1/staircase/2024")).json()
    assert stairs == {
        "year": 2024,
        "counted": 3,
        "current_tier": 3,
        "until_next_tier": None,
        "tier_thresholds": [1, 2],
    }
    assert (await region.get("/api/v1/staircase/2025")).json()["current_tier"] == 1


async def test_a_missing_price_index_is_a_clear_error(
    api: MakeApi, parties: tuple[Api, Api, Api]
) -> None:
    hospital, gentofte, region = parties
    indexed = small_staircase_2024() | {"indexed": True, "tier_thresholds": [1500, 3000]}
    assert (await (await api("admin")).post("/api/v1/tariffs", json=indexed)).status_code == 201
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    r = await region.get("/api/v1/settlements/2024-03")
    assert r.status_code == 409
    assert r.json()["code"] == "missing_price_index" and "2024" in r.json()["detail"]
    await region.put("/api/v1/price-index/2020", json={"index": "100"})
    await region.put("/api/v1/price-index/2024", json={"index": "110.5"})
    s = await statement(region, "2024-03")
    # 6915.00 × 110.5 / 100 = 7641.075 → 7641.08 (half up)
    assert lines_of(s) == [("2024-03", "course_fee", 1, "7641.08", "7641.08", False, None)]


async def test_statements_from_2027_name_the_new_region(
    app: FastAPI, api: MakeApi, parties: tuple[Api, Api, Api]
) -> None:
    hospital, gentofte, region = parties
    await (await api("admin")).post("/api/v1/tariffs", json=tariff_2027())
    at(app, "2027-02-10T10:00:00+01:00")
    await completed_course(hospital, gentofte, "2026-12-30", "2027-01-08", "antibiotics", CPR_A)
    dec = await issue(region, "2026-12")
    assert dec["payer"]["name"] == "Region Hovedstaden"
    jan = await issue(region, "2027-01")
    assert jan["payer"]["name"] == "Region Østdanmark"
    s = await statement(gentofte, "2027-01")
    assert s["payer"] == {"name": "Region Østdanmark", "cvr": "12345678", "gln": "5790000000001"}
    # A new payer's numbering starts at 1 (Gentofte is the 6th municipality by code).
    assert [m["number"] for m in jan["municipalities"]] == list(range(1, 30))
    assert s["number"] == 6 and s["number_year"] == 2027
    # The course started in 2026 keeps the 2021 rates: priced by the version of its start date.
    assert lines_of(s) == [("2027-01", "day_fee", 4, "1485.00", "5940.00", False, None)]


async def test_the_course_shows_its_place_and_what_was_billed(
    parties: tuple[Api, Api, Api],
) -> None:
    hospital, gentofte, region = parties
    course = await completed_course(
        hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A
    )
    before = (await gentofte.get(f"/api/v1/courses/{course['id']}")).json()
    assert (
        before["staircase"] is None and before["billed"] == [] and before["billed_total"] == "0.00"
    )
    await issue(region, "2024-03")
    await issue(region, "2024-04")
    after = (await region.get(f"/api/v1/courses/{course['id']}")).json()
    assert after["staircase"] == {"year": 2024, "position": 1, "tier": 1}
    assert [(b["statement_period"], b["kind"], b["amount"]) for b in after["billed"]] == [
        ("2024-03", "course_fee", "6915.00"),
        ("2024-04", "day_fee", "4455.00"),
    ]
    assert after["billed_total"] == "11370.00"
    assert all(b["statement_number"] == 6 or b["statement_number"] == 35 for b in after["billed"])


async def test_a_run_reads_only_the_courses_that_may_have_moved(
    app: FastAPI, parties: tuple[Api, Api, Api]
) -> None:
    from service.domain.settlement import Period
    from service.settlement.run import compute

    hospital, gentofte, region = parties
    at(app, "2024-02-10T10:00:00+01:00")
    first = await completed_course(hospital, gentofte, "2024-01-10", "2024-01-12", "fluids", CPR_A)
    await completed_course(hospital, gentofte, "2024-01-15", "2024-01-20", "pump", CPR_B)
    running = await make_course(hospital, gentofte, start_date="2024-01-20", patient_cpr=CPR_C)
    await gentofte.post(
        f"/api/v1/courses/{running['id']}/visits", json=visit("2024-01-20T09:00:00+01:00")
    )
    at(app, "2024-03-05T10:00:00+01:00")
    await issue(region, "2024-01")
    await issue(region, "2024-02")
    async with app.state.sessionmaker() as session:
        run = await compute(session, Period(2024, 3))
    assert run.courses_considered == 1  # only the active course; the settled two are not read
    assert run.lines == {}

    # A change gives the course a revision no issue has read: the next run reads it again.
    r = await gentofte.post(
        f"/api/v1/courses/{first['id']}/corrections",
        json={"end_date": "2024-01-11", "reason": "last day was the 11th"},
    )
    assert r.status_code == 200, r.text
    async with app.state.sessionmaker() as session:
        run = await compute(session, Period(2024, 3))
    assert run.courses_considered == 2
    assert run.lines == {}  # within the included days: the shorter course owes the same


async def test_downloads_parse_back_and_issued_files_never_change(
    app: FastAPI, api: MakeApi, parties: tuple[Api, Api, Api]
) -> None:
    import csv
    import io

    import openpyxl
    import pypdf

    hospital, gentofte, region = parties
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    draft = await gentofte.get("/api/v1/settlements/2024-03/statements/157.pdf")
    assert draft.status_code == 200 and draft.headers["content-type"] == "application/pdf"
    assert "kladde" in draft.headers["content-disposition"]
    await issue(region, "2024-03")
    files = {}
    for fmt in ("csv", "xlsx", "pdf"):
        r = await gentofte.get(f"/api/v1/settlements/2024-03/statements/157.{fmt}")
        assert r.status_code == 200, r.text
        assert "afregning-2024-03-157-Gentofte-2024-0006" in r.headers["content-disposition"]
        files[fmt] = r.content
        again = await region.get(f"/api/v1/settlements/2024-03/statements/157.{fmt}")
        assert again.content == r.content  # served from the stored file

    rows = list(csv.reader(io.StringIO(files["csv"].decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 2 and "6915,00" in rows[1]
    book = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    assert book.sheetnames == ["Opsummering", "Linjer"] or set(book.sheetnames) == {
        "Opsummering",
        "Linjer",
    }
    amounts = [
        c.value
        for row in book["Linjer"].iter_rows(min_row=2)
        for c in row
        if isinstance(c.value, float | int)
    ]
    assert 6915 in amounts
    pdf_text = "".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(files["pdf"])).pages
    )
    assert "6.915,00" in pdf_text and "Gentofte" in pdf_text
    assert (await statement(gentofte, "2024-03"))["hash"] in pdf_text.replace("\n", "")

    summary = await region.get("/api/v1/settlements/2024-03.xlsx")
    assert summary.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(summary.content)).sheetnames
    copenhagen = await api("municipality", "101")
    assert (
        await copenhagen.get("/api/v1/settlements/2024-03/statements/157.pdf")
    ).status_code == 404
    assert (await copenhagen.get("/api/v1/settlements/2024-03.xlsx")).status_code == 403
    assert (await region.get("/api/v1/settlements/2024-03/statements/157.doc")).status_code in (
        404,
        422,
    )
    async with owner_sessions(app) as sessions, sessions() as session:
        with pytest.raises(DBAPIError, match="write-once"):
            await session.execute(text("UPDATE statement_files SET format = 'txt'"))


async def test_a_statement_names_its_inputs(api: MakeApi, parties: tuple[Api, Api, Api]) -> None:
    hospital, gentofte, region = parties
    await region.put("/api/v1/price-index/2024", json={"index": "104.2"})
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    draft = await statement(gentofte, "2024-03")
    tariffs = (await region.get("/api/v1/tariffs")).json()
    expected_tariffs = {str(t["id"]): t["document_sha256"] for t in tariffs}
    assert draft["inputs"] == {
        "issued_by": None,
        "tariff_versions": expected_tariffs,
        "price_indices": {"2024": "104.2"},
    }
    await issue(region, "2024-03")
    issued = await statement(gentofte, "2024-03")
    assert issued["inputs"]["issued_by"] == "test region"
    assert issued["inputs"]["tariff_versions"] == expected_tariffs
