"""The booking journal (posteringsfil) of an issued period (issue 14), through HTTP on both
databases: the region's (expense) and each municipality's (income), by statement and
treatment type, with the account strings of the configuration; both files parse back to
the statements' totals to the øre."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import httpx
import openpyxl
import pytest
from fastapi import FastAPI

from service.domain.journal import AccountsMissing, BookedStatement, Counterpart, journal
from service.kit.settings import Settings
from tests.support.api import Api, MakeApi
from tests.support.config import settings_for
from tests.support.factories import CPR_A, CPR_B, at, completed_course, issue

ACCOUNTS = {
    "29190623": {"default": "5.10.20-4711", "fluids": "5.10.21-4712"},
    "157": {"default": "4.05.15-9001"},
    "101": {"antibiotics": "KBH-AB-1", "fluids": "KBH-VAE-2"},
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path, accounts=ACCOUNTS)


@pytest.fixture
async def issued(app: FastAPI, api: MakeApi) -> tuple[Api, Api, Api]:
    at(app, "2024-04-15T10:00:00+02:00")
    hospital, region = await api("hospital", "HGH"), await api("region")
    gentofte, copenhagen = await api("municipality", "157"), await api("municipality", "101")
    await completed_course(hospital, gentofte, "2024-03-01", "2024-03-09", "antibiotics", CPR_A)
    await completed_course(hospital, gentofte, "2024-03-04", "2024-03-05", "fluids", CPR_B)
    await completed_course(hospital, copenhagen, "2024-03-10", "2024-03-12", "fluids", CPR_A)
    await issue(region, "2024-03")
    return region, gentofte, copenhagen


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def kr(text: str) -> Decimal:
    return Decimal(text.replace(",", "."))


async def totals(region: Api) -> dict[str, Decimal]:
    summary = (await region.get("/api/v1/settlements/2024-03")).json()
    return {m["municipality_code"]: Decimal(m["total"]) for m in summary["municipalities"]}


async def test_the_region_books_every_statement_as_an_expense_by_type(
    issued: tuple[Api, Api, Api],
) -> None:
    region, _, _ = issued
    r = await region.get("/api/v1/settlements/2024-03/journal/region.csv")
    assert r.status_code == 200, r.text
    assert 'filename="posteringer-2024-03-region.csv"' in r.headers["content-disposition"]
    rows = csv_rows(r.content)
    assert {row["Art"] for row in rows} == {"Udgift"}
    assert sum(kr(row["Beløb (kr.)"]) for row in rows) == sum((await totals(region)).values())
    by_account = {(row["Kommune"], row["Behandling"]): row["Kontostreng"] for row in rows}
    assert by_account == {
        ("157", "antibiotics"): "5.10.20-4711",
        ("157", "fluids"): "5.10.21-4712",  # the region's own account for fluids
        ("101", "fluids"): "5.10.21-4712",
    }
    assert all(row["Bogføringsdato"] == "2024-04-15" for row in rows)
    gentofte = next(row for row in rows if row["Kommune"] == "157")
    assert gentofte["Tekst"].startswith("Afregning 2024-") and "Gentofte" in gentofte["Tekst"]
    # The XLSX holds the same entries, amounts as numbers.
    x = await region.get("/api/v1/settlements/2024-03/journal/region.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(x.content), read_only=True)["Posteringer"]
    values = list(sheet.iter_rows(values_only=True))
    amount = values[0].index("Beløb (kr.)")
    total = sum(Decimal(str(row[amount])) for row in values[1:])
    assert total == sum((await totals(region)).values())


async def test_a_municipality_books_its_own_income_and_no_one_elses(
    issued: tuple[Api, Api, Api],
) -> None:
    region, gentofte, copenhagen = issued
    for who, code, accounts in (
        (gentofte, "157", {"4.05.15-9001"}),
        (copenhagen, "101", {"KBH-VAE-2"}),
    ):
        r = await who.get(f"/api/v1/settlements/2024-03/journal/{code}.csv")
        assert r.status_code == 200, r.text
        rows = csv_rows(r.content)
        assert {row["Art"] for row in rows} == {"Indtægt"}
        assert {row["Kontostreng"] for row in rows} == accounts
        assert {row["Modpart CVR"] for row in rows} == {"29190623"}
        assert sum(kr(row["Beløb (kr.)"]) for row in rows) == (await totals(region))[code]
    assert (await gentofte.get("/api/v1/settlements/2024-03/journal/101.csv")).status_code == 404
    assert (await gentofte.get("/api/v1/settlements/2024-03/journal/region.csv")).status_code == 404


async def test_a_missing_account_string_or_an_open_period_is_refused_naming_it(
    app: FastAPI, issued: tuple[Api, Api, Api], api: MakeApi
) -> None:
    region, _, _ = issued
    at(app, "2024-05-15T10:00:00+02:00")
    hvidovre = await api("municipality", "167")
    hospital = await api("hospital", "HGH")
    await completed_course(hospital, hvidovre, "2024-04-02", "2024-04-04", "fluids", CPR_B)
    not_issued = await region.get("/api/v1/settlements/2024-04/journal/region.csv")
    assert not_issued.status_code == 409 and not_issued.json()["code"] == "period_not_issued"
    await issue(region, "2024-04")
    r = await hvidovre.get("/api/v1/settlements/2024-04/journal/167.csv")
    assert r.status_code == 409 and r.json()["code"] == "account_string_missing"
    assert r.json()["missing"] == ["167.fluids"]


def test_entries_sum_to_the_statements_and_name_every_missing_account() -> None:
    from datetime import date

    statements = [
        BookedStatement("2024-0001", "2024-03", "157", "Gentofte", "R", "Region", date(2024, 4, 5),
                        {"antibiotics": 1_186_500, "fluids": -34_100}),
        BookedStatement("2024-0002", "2024-03", "159", "Gladsaxe", "R", "Region", date(2024, 4, 5),
                        {"pump": 204_900}),
    ]  # fmt: skip
    parties: dict[str, Counterpart] = {}
    entries = journal(statements, "region", {"R": {"default": "X"}}, parties, {})
    assert sum(e.amount_ore for e in entries) == 1_186_500 - 34_100 + 204_900
    assert [e.account for e in entries] == ["X", "X", "X"]
    with pytest.raises(AccountsMissing) as refused:
        journal(statements, "157", {"157": {"fluids": "F"}}, parties, {})
    assert refused.value.missing == ["157.antibiotics"]
    assert journal(statements, "101", {}, parties, {}) == []  # nothing of 101's


async def test_the_pages_offer_the_journals_and_the_e_invoice_of_an_issued_month(
    app: FastAPI, issued: tuple[Api, Api, Api]
) -> None:
    region, gentofte, _ = issued
    transport = httpx.ASGITransport(app=app)
    for who, page, side in (
        (region, "/perioder/2024-03", "region"),
        (gentofte, "/perioder/2024-03/kommuner/157", "157"),
    ):
        key = str(who.client.headers["Authorization"]).removeprefix("Bearer ")
        async with httpx.AsyncClient(transport=transport, base_url="http://ivsettle.test") as web:
            assert (await web.post("/log-ind", data={"api_key": key})).status_code == 303
            text = (await web.get(page)).text
            link = f"/perioder/2024-03/posteringer/{side}.csv"
            assert f'href="{link}"' in text
            served = await web.get(link)
            api = await who.get(f"/api/v1/settlements/2024-03/journal/{side}.csv")
            assert served.status_code == 200 and served.content == api.content
            if side == "157":
                assert "e-faktura (OIOUBL)" in text
                refused = await web.get("/perioder/2024-03/posteringer/101.csv")
                assert refused.status_code == 404
