"""Issued statements as OIOUBL 2.1 e-invoices (issue 14), through HTTP on both databases.

Every document made here passes the official validator (contracts/oioubl/: the UBL 2.1
XSDs, then the OIOUBL schematron release 1.17.2) with zero errors: a plain month, a month
with adjustments and negative lines, a credit note, the 2027 payer, and every municipality.
Its lines and its payable amount equal the statement's total to the øre; a credit note's
total is never negative. The master data used is made up for the tests (valid in form: a
GLN's check digit is right), never a real organisation's.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from lxml import etree

from service.domain.parties import gln_check_digit
from tests.support.api import Api, MakeApi
from tests.support.factories import (
    CPR_A,
    CPR_B,
    at,
    completed_course,
    fresh_cpr,
    issue,
    make_course,
    visit,
)
from tests.support.oioubl import oioubl_errors
from tests.support.tariffs import tariff_2027

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}
REGION_CVR = "29190623"


def test_gln(serial: int) -> str:
    body = f"579{serial:09d}"
    return body + str(gln_check_digit(body))


test_gln.__test__ = False  # type: ignore[attr-defined]


def valid_document(content: bytes, tmp_path: Path, name: str) -> etree._Element:
    """The document parsed, after the official validator found no error in it."""
    errors = oioubl_errors(content, tmp_path, name)
    assert errors == [], f"{name}: {errors}"
    return etree.fromstring(content)


def amounts(doc: etree._Element) -> tuple[Decimal, Decimal]:
    """(the sum of the lines' amounts, the payable amount)."""
    kind = etree.QName(doc).localname
    lines = doc.findall(f"cac:{kind}Line/cbc:LineExtensionAmount", NS)
    payable = doc.find("cac:LegalMonetaryTotal/cbc:PayableAmount", NS)
    assert payable is not None
    return sum((Decimal(x.text or "") for x in lines), Decimal(0)), Decimal(payable.text or "")


async def set_master_data(admin: Api, codes: list[str], payers: list[str]) -> None:
    for serial, code in enumerate(codes, start=1):
        r = await admin.patch(
            f"/api/v1/municipalities/{code}",
            json={
                "legal_name": f"Testkommune {code}",
                "cvr": f"{10000000 + serial}",
                "gln": test_gln(serial),
                "street_name": "Rådhusvej",
                "building_number": str(serial),
                "postal_zone": "2900",
                "city_name": "Hellerup",
                "master_data_source": "test values",
            },
        )
        assert r.status_code == 200, r.text
    for serial, cvr in enumerate(payers, start=500):
        r = await admin.patch(
            f"/api/v1/payers/{cvr}",
            json={
                "gln": test_gln(serial),
                "street_name": "Kongens Vænge",
                "building_number": "2",
                "postal_zone": "3400",
                "city_name": "Hillerød",
                "order_reference": "IV-AFTALE-2021",
                "accounting_cost": "4.80.12-1234",
                "contact_reference": "IV-afregning",
                "master_data_source": "test values",
            },
        )
        assert r.status_code == 200, r.text


@pytest.fixture
async def parties(app: FastAPI, api: MakeApi) -> tuple[Api, Api, Api, Api]:
    at(app, "2024-04-15T10:00:00+02:00")
    admin = await api("admin")
    await set_master_data(admin, ["157", "101"], [REGION_CVR])
    return (
        await api("hospital", "HGH"),
        await api("municipality", "157"),
        await api("region"),
        admin,
    )


async def xml(who: Api, period: str, code: str = "157") -> Any:
    return await who.get(f"/api/v1/settlements/{period}/statements/{code}.xml")


async def statement(who: Api, period: str, code: str = "157") -> dict[str, Any]:
    return dict((await who.get(f"/api/v1/settlements/{period}/statements/{code}")).json())


async def test_a_plain_month_is_a_valid_invoice_that_sums_to_the_statement(
    parties: tuple[Api, Api, Api, Api], tmp_path: Path
) -> None:
    hospital, gentofte, region, admin = parties
    await completed_course(hospital, gentofte, "2024-03-01", "2024-03-09", "antibiotics", CPR_A)
    await completed_course(hospital, gentofte, "2024-03-04", "2024-03-05", "fluids", CPR_B)
    await issue(region, "2024-03")
    s = await statement(region, "2024-03")
    r = await xml(gentofte, "2024-03")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    assert r.headers["content-disposition"].endswith('.xml"')
    doc = valid_document(r.content, tmp_path, "plain")
    assert etree.QName(doc).localname == "Invoice"
    assert amounts(doc) == (Decimal(s["total"]), Decimal(s["total"]))
    assert doc.findtext("cbc:ID", namespaces=NS) == f"{s['number_year']}-{s['number']:04d}"
    note = doc.findtext("cbc:Note", namespaces=NS) or ""
    assert s["hash"] in note and s["chain"]["issue"] in note
    assert doc.findtext("cbc:AccountingCost", namespaces=NS) == "4.80.12-1234"
    supplier = doc.find("cac:AccountingSupplierParty/cac:Party", NS)
    assert supplier is not None
    assert supplier.findtext("cac:PartyLegalEntity/cbc:CompanyID", namespaces=NS) == "DK10000001"
    lines = doc.findall("cac:InvoiceLine", NS)
    assert len(lines) == len(s["lines"])
    described = lines[0].findtext("cac:Item/cbc:Description", namespaces=NS) or ""
    assert s["lines"][0]["course_number"] in described and "marts 2024" in described
    # Stored at its first download: the same bytes later, whatever the master data says.
    first = r.content
    r = await admin.patch("/api/v1/municipalities/157", json={"street_name": "Bernstorffsvej"})
    assert r.status_code == 200 and r.json()["street_name"] == "Bernstorffsvej"
    assert (await xml(region, "2024-03")).content == first


async def test_adjustments_with_negative_lines_and_a_credit_note(
    app: FastAPI, parties: tuple[Api, Api, Api, Api], tmp_path: Path
) -> None:
    hospital, gentofte, region, _ = parties
    at(app, "2024-03-15T10:00:00+01:00")
    long = await completed_course(
        hospital, gentofte, "2024-02-01", "2024-02-20", "antibiotics", CPR_A
    )
    await issue(region, "2024-02")
    # March: a new course, and February's course shortened: an invoice with negative lines.
    at(app, "2024-04-15T10:00:00+02:00")
    await completed_course(hospital, gentofte, "2024-03-01", "2024-03-09", "antibiotics", CPR_B)
    r = await gentofte.post(
        f"/api/v1/courses/{long['id']}/corrections",
        json={"end_date": "2024-02-17", "reason": "slut 17. februar"},
    )
    assert r.status_code == 200, r.text
    await issue(region, "2024-03")
    march = await statement(region, "2024-03")
    assert Decimal(march["total"]) > 0 and any(Decimal(x["amount"]) < 0 for x in march["lines"])
    doc = valid_document((await xml(gentofte, "2024-03")).content, tmp_path, "adjusted")
    assert etree.QName(doc).localname == "Invoice"
    assert amounts(doc) == (Decimal(march["total"]), Decimal(march["total"]))

    # April: February's course cancelled and one short new course: a negative total, a
    # credit note that references February's statement (not its own month's).
    at(app, "2024-05-15T10:00:00+02:00")
    await completed_course(hospital, gentofte, "2024-04-02", "2024-04-02", "fluids", CPR_B)
    r = await gentofte.post(
        f"/api/v1/courses/{long['id']}/cancel", json={"reason": "registreret ved en fejl"}
    )
    assert r.status_code == 200, r.text
    await issue(region, "2024-04")
    april = await statement(region, "2024-04")
    assert Decimal(april["total"]) < 0
    credit = valid_document((await xml(gentofte, "2024-04")).content, tmp_path, "credit")
    assert etree.QName(credit).localname == "CreditNote"
    lines, payable = amounts(credit)
    assert payable == lines == -Decimal(april["total"]) and payable > 0
    february = await statement(region, "2024-02")
    references = credit.findall("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", NS)
    assert [x.text for x in references] == [f"{february['number_year']}-{february['number']:04d}"]


async def test_the_2027_payer_and_every_municipality(
    app: FastAPI, api: MakeApi, tmp_path: Path
) -> None:
    admin = await api("admin")
    r = await admin.post("/api/v1/tariffs", json=tariff_2027())
    assert r.status_code == 201, r.text
    payer = tariff_2027()["payer"]
    assert isinstance(payer, dict)
    codes = [m["code"] for m in (await admin.get("/api/v1/municipalities")).json()]
    await set_master_data(admin, codes, [str(payer["cvr"])])
    at(app, "2027-02-10T10:00:00+01:00")
    hospital, region = await api("hospital", "HGH"), await api("region")
    for code in codes:
        municipality = await api("municipality", code)
        course = await make_course(
            hospital, municipality, start_date="2027-01-05", patient_cpr=fresh_cpr(),
            expected_start_date="2027-01-05",
        )  # fmt: skip
        given = visit("2027-01-05T09:00:00+01:00")
        r = await municipality.post(f"/api/v1/courses/{course['id']}/visits", json=given)
        assert r.status_code == 201, r.text
    summary = await issue(region, "2027-01")
    assert summary["payer"]["name"] == "Region Østdanmark"
    for code in codes:
        s = await statement(region, "2027-01", code)
        doc = valid_document((await xml(region, "2027-01", code)).content, tmp_path, code)
        assert amounts(doc) == (Decimal(s["total"]), Decimal(s["total"]))
        customer = doc.find("cac:AccountingCustomerParty/cac:Party", NS)
        assert customer is not None
        assert customer.findtext("cac:PartyName/cbc:Name", namespaces=NS) == "Region Østdanmark"


async def test_what_cannot_be_an_invoice_yet_is_refused_naming_why(
    app: FastAPI, api: MakeApi
) -> None:
    at(app, "2024-04-15T10:00:00+02:00")
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    region = await api("region")
    await completed_course(hospital, gentofte, "2024-03-01", "2024-03-09", "antibiotics", CPR_A)
    draft = await xml(region, "2024-03")
    assert draft.status_code == 409 and draft.json()["code"] == "statement_not_issued"
    await issue(region, "2024-03")
    refused = await xml(gentofte, "2024-03")
    assert refused.status_code == 409 and refused.json()["code"] == "master_data_missing"
    missing = refused.json()["missing"]
    assert {"municipality.legal_name", "municipality.cvr", "municipality.gln"} <= set(missing)
    assert {"payer.gln", "payer.order_reference", "payer.accounting_cost"} <= set(missing)
    # A municipality with nothing billed has no invoice.
    empty = await xml(region, "2024-03", "101")
    assert empty.status_code == 409 and empty.json()["code"] == "nothing_to_invoice"
    # Bad master data is refused as it is set, naming the field.
    admin = await api("admin")
    bad = await admin.patch("/api/v1/municipalities/157", json={"gln": "5790000000000"})
    assert bad.status_code == 422 and bad.json()["violations"][0]["field"].endswith("gln")
    bad = await admin.patch("/api/v1/municipalities/157", json={"cvr": "0123456"})
    assert bad.status_code == 422
    assert (await admin.patch("/api/v1/payers/99999999", json={})).status_code == 404
    assert (await region.patch("/api/v1/payers/29190623", json={})).status_code == 403
