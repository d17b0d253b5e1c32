"""The OIOUBL renderer on its own (service.report.oioubl): dates are Copenhagen's, a zero
total is an invoice, and the document is the same bytes every time it is rendered."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from lxml import etree

from service.domain.parties import Address, Party, PayerTerms
from service.report.oioubl import EInvoice, statement_oioubl
from service.settlement.schemas import ChainOut, InputsOut, LineOut, PayerOut, StatementOut
from tests.support.oioubl import oioubl_errors

CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
SUPPLIER = Party("Testkommune", "10000001", "5790000000012", Address("Vej", "1", "2900", "By"))
CUSTOMER = Party("Testregion", "29190623", "5790000000029", Address("Vej", "2", "3400", "By"))
TERMS = PayerTerms("ORDRE", "KONTO", "REF")


def line(quantity: int, price: str, amount: str) -> LineOut:
    return LineOut(
        course_id=uuid.UUID(int=1), kind="day_fee", period="2024-03", quantity=quantity,
        unit_price=price, amount=amount, tier=1, position=1, treatment_type="fluids",
        hospital_code="HGH", tariff_version_id=1, adjustment=quantity < 0,
        reason="correction" if quantity < 0 else None, course_number="IV-2024-00001",
        course_start=date(2024, 3, 1),
    )  # fmt: skip


def statement(lines: list[LineOut], total: str, issued_at: datetime) -> StatementOut:
    return StatementOut(
        number=6, number_year=2024, period="2024-03", municipality_code="157",
        municipality_name="Gentofte", state="issued", issued_at=issued_at,
        payer=PayerOut(name="Testregion", cvr="29190623", gln=""), total=total,
        regular_total=total, adjustment_total="0.00", totals_by_type=[], totals_by_tier=[],
        totals_by_hospital=[], lines=lines,
        inputs=InputsOut(issued_by="test", tariff_versions={}, price_indices={}),
        hash="ab" * 32, chain=ChainOut(previous="00" * 32, issue="cd" * 32),
    )  # fmt: skip


def test_an_issue_just_after_midnight_is_dated_that_day_in_copenhagen() -> None:
    # 2024-03-31 22:30 UTC is 1 April 00:30 in Copenhagen (summer time).
    s = statement(
        [line(2, "341.00", "682.00")], "682.00", datetime(2024, 3, 31, 22, 30, tzinfo=UTC)
    )
    doc = etree.fromstring(statement_oioubl(EInvoice(s, SUPPLIER, CUSTOMER, TERMS)))
    assert doc.findtext(f"{CBC}IssueDate") == "2024-04-01"
    assert doc.findtext(f".//{CBC}PaymentDueDate") == "2024-05-01"


def test_a_zero_total_is_a_valid_invoice_and_rendering_is_deterministic(tmp_path: Path) -> None:
    lines = [line(1, "341.00", "341.00"), line(-1, "341.00", "-341.00")]
    s = statement(lines, "0.00", datetime(2024, 4, 5, 8, 0, tzinfo=UTC))
    first = statement_oioubl(EInvoice(s, SUPPLIER, CUSTOMER, TERMS))
    assert etree.QName(etree.fromstring(first)).localname == "Invoice"
    assert b'<cbc:PayableAmount currencyID="DKK">0.00</cbc:PayableAmount>' in first
    assert statement_oioubl(EInvoice(s, SUPPLIER, CUSTOMER, TERMS)) == first
    assert oioubl_errors(first, tmp_path, "zero") == []
