"""The issue chain's head on the files an issued statement is downloaded as (issue 12
item 3): the PDF's text and the XLSX's cells carry the chain hashes the statement's JSON
serves, so every municipality holds a copy for `ivsettle verify --expect-head`. The CSV is
a pure table (see `service.report.tabular`) and carries none."""

from __future__ import annotations

import io

from fastapi import FastAPI
from openpyxl import load_workbook
from pypdf import PdfReader

from service.domain.chain import GENESIS
from service.report.labels import CHAIN_ISSUE_LABEL, CHAIN_PREVIOUS_LABEL
from tests.support.api import MakeApi
from tests.support.factories import CPR_A, at, issue, make_course, visit


async def test_downloads_print_the_chain_the_json_serves(app: FastAPI, api: MakeApi) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    region = await api("region")
    at(app, "2024-01-20T12:00:00+01:00")
    course = await make_course(hospital, gentofte, start_date="2024-01-10", patient_cpr=CPR_A)
    r = await gentofte.post(
        f"/api/v1/courses/{course['id']}/visits", json=visit("2024-01-11T08:00:00+01:00")
    )
    assert r.status_code == 201, r.text
    at(app, "2024-02-03T12:00:00+01:00")
    await issue(region, "2024-01")
    at(app, "2024-03-02T12:00:00+01:00")
    await issue(region, "2024-02")
    january = (await region.get("/api/v1/settlements/2024-01/statements/157")).json()["chain"]
    chain = (await region.get("/api/v1/settlements/2024-02/statements/157")).json()["chain"]
    assert january["previous"] == GENESIS and chain["previous"] == january["issue"]

    for reader in (gentofte, region):
        pdf = await reader.get("/api/v1/settlements/2024-02/statements/157.pdf")
        assert pdf.status_code == 200, pdf.text
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert f"{CHAIN_ISSUE_LABEL}\n{chain['issue']}" in text
        assert f"{CHAIN_PREVIOUS_LABEL}\n{chain['previous']}" in text

        xlsx = await reader.get("/api/v1/settlements/2024-02/statements/157.xlsx")
        assert xlsx.status_code == 200, xlsx.text
        sheet = load_workbook(io.BytesIO(xlsx.content))["Opsummering"]
        facts = {row[0]: row[1] for row in sheet.iter_rows(max_col=2, values_only=True)}
        assert facts[CHAIN_ISSUE_LABEL] == chain["issue"]
        assert facts[CHAIN_PREVIOUS_LABEL] == chain["previous"]

    csv = await gentofte.get("/api/v1/settlements/2024-02/statements/157.csv")
    assert csv.status_code == 200 and chain["issue"].encode() not in csv.content
