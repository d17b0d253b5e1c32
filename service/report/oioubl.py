"""An issued statement as an OIOUBL 2.1 e-invoice (NemHandel), a pure function of the
statement and its parties.

- A total of zero or more is an `Invoice` from the municipality to the payer; a negative
  total is a `CreditNote` whose amounts are positive (Danish rules forbid a negative credit
  note total): each line's quantity and amount change sign, and it references the issued
  statements whose months its lines concern (`BillingReference`).
- One document line per statement line, naming the course's number, the fee, the month it
  concerns, the treatment type and the tier; quantity × unit price = the line's amount.
- Settlements between public authorities for IV treatment carry no VAT: every line and the
  document are `ZeroRated` at 0 % (OIOUBL 2.1's invoice tax categories have no separate
  "outside the scope" one; a zero-rated 0 % subtotal is how it expresses a document with no
  VAT).
- Paid to the municipality's NemKonto (PaymentMeansCode 97, `DK:NEMKONTO`): NemKonto is found
  by the supplier's CVR, so no bank account is needed.
- The `Note` carries the statement's SHA-256 and the issue chain's hash, so the document
  names the exact statement (`ivsettle verify --expect-head`).

Deterministic: the document's UUID is derived from the statement's hash, and the issue
date is the statement's, so rendering the same statement again gives the same bytes.
The official validator (contracts/oioubl/) checks every document the tests make.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

from lxml import etree

from service.domain.parties import Party, PayerTerms
from service.report.labels import (
    KIND_LABELS,
    course_label,
    local_date,
    period_label,
    reason_label,
    statement_number,
    treatment_label,
)
from service.report.views import LineView, StatementView

_NS: Final = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
_ROOT_NS: Final = {
    "Invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "CreditNote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
_DOCUMENT_UUIDS: Final = uuid.UUID("6f1c3f0e-5a3c-4f57-9d3e-0c2b7a1e9d41")
"""The namespace of the documents' UUIDs (uuid5 of the statement's hash)."""
CURRENCY: Final = "DKK"
PAYMENT_DAYS: Final = 30
"""Days from the issue date to the payment due date printed on the document."""


@dataclass(frozen=True)
class EInvoice:
    """What a document is made of: the issued statement, its parties, the payer's terms,
    and the numbers of the issued statements a credit note's lines concern."""

    statement: StatementView
    supplier: Party
    customer: Party
    terms: PayerTerms
    credited: Sequence[tuple[str, date]] = ()
    """(statement number, issue date) of each statement a credit note references."""


def document_kind(statement: StatementView) -> str:
    """ "Invoice" for a total of zero or more, "CreditNote" for a negative one."""
    return "CreditNote" if Decimal(statement.total) < 0 else "Invoice"


def statement_oioubl(doc: EInvoice) -> bytes:
    """The OIOUBL 2.1 document of an issued statement, UTF-8 with an XML declaration."""
    s = doc.statement
    if s.number is None or s.issued_at is None or s.hash is None:
        raise ValueError("only an issued statement becomes an e-invoice")
    kind = document_kind(s)
    credit = kind == "CreditNote"
    sign = -1 if credit else 1
    issue_date = local_date(s.issued_at)
    # The document's own namespace is the default one, as in the official examples (the
    # stubs do not know lxml's None key for it).
    nsmap: Any = {None: _ROOT_NS[kind], **_NS}
    root = etree.Element(f"{{{_ROOT_NS[kind]}}}{kind}", nsmap=nsmap)
    _cbc(root, "UBLVersionID", "2.1")
    _cbc(root, "CustomizationID", "OIOUBL-2.1")
    _cbc(
        root, "ProfileID", "urn:www.nesubl.eu:profiles:profile5:ver2.0",
        schemeAgencyID="320", schemeID="urn:oioubl:id:profileid-1.2",
    )  # fmt: skip
    _cbc(root, "ID", statement_number(s))
    _cbc(root, "CopyIndicator", "false")
    _cbc(root, "UUID", str(uuid.uuid5(_DOCUMENT_UUIDS, s.hash)))
    _cbc(root, "IssueDate", issue_date.isoformat())
    if not credit:
        _cbc(
            root, "InvoiceTypeCode", "380",
            listAgencyID="320", listID="urn:oioubl:codelist:invoicetypecode-1.1",
        )  # fmt: skip
    _cbc(root, "Note", _note(s))
    _cbc(root, "DocumentCurrencyCode", CURRENCY)
    _cbc(root, "AccountingCost", doc.terms.accounting_cost or "")
    order = _cac(root, "OrderReference")
    _cbc(order, "ID", doc.terms.order_reference or "")
    if credit:
        for number, issued_on in doc.credited:
            reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
            _cbc(reference, "ID", number)
            _cbc(reference, "IssueDate", issued_on.isoformat())
    _party(_cac(root, "AccountingSupplierParty"), doc.supplier)
    customer = _party(_cac(root, "AccountingCustomerParty"), doc.customer)
    _cbc(_cac(customer, "Contact"), "ID", doc.terms.contact_reference or "")
    if not credit:
        means = _cac(root, "PaymentMeans")
        _cbc(means, "ID", "1")
        _cbc(means, "PaymentMeansCode", "97")
        _cbc(means, "PaymentDueDate", (issue_date + timedelta(days=PAYMENT_DAYS)).isoformat())
        _cbc(
            means, "PaymentChannelCode", "DK:NEMKONTO",
            listAgencyID="320", listID="urn:oioubl:codelist:paymentchannelcode-1.1",
        )  # fmt: skip
    total = Decimal(s.total) * sign
    _tax_total(root, total)
    monetary = _cac(root, "LegalMonetaryTotal")
    _amount(monetary, "LineExtensionAmount", total)
    _amount(monetary, "TaxExclusiveAmount", Decimal(0))
    _amount(monetary, "TaxInclusiveAmount", total)
    _amount(monetary, "PayableAmount", total)
    for index, line in enumerate(s.lines, start=1):
        _line(root, kind, index, line, sign)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _note(s: StatementView) -> str:
    parts = [
        f"Afregning af IV-behandling i kommunalt regi, {period_label(s.period)}, "
        f"{s.municipality_name} Kommune (opgørelse {statement_number(s)}).",
        f"Opgørelsens SHA-256: {s.hash}.",
    ]
    if s.chain is not None:
        parts.append(f"Kædehash: {s.chain.issue} (forrige: {s.chain.previous}).")
    return " ".join(parts)


def _line(root: etree._Element, kind: str, index: int, line: LineView, sign: int) -> None:
    element = _cac(root, f"{kind}Line")
    _cbc(element, "ID", str(index))
    quantity = "CreditedQuantity" if kind == "CreditNote" else "InvoicedQuantity"
    _cbc(element, quantity, str(line.quantity * sign), unitCode=_unit(line))
    amount = Decimal(line.amount) * sign
    _amount(element, "LineExtensionAmount", amount)
    _tax_total(element, amount)
    item = _cac(element, "Item")
    _cbc(item, "Description", _description(line))
    _cbc(item, "Name", f"{KIND_LABELS.get(line.kind, line.kind)} {course_label(line)}")
    seller = _cac(item, "SellersItemIdentification")
    _cbc(seller, "ID", f"{line.kind}-{line.treatment_type}-{line.tier}")
    price = _cac(element, "Price")
    _amount(price, "PriceAmount", Decimal(line.unit_price))
    _cbc(price, "BaseQuantity", "1", unitCode=_unit(line))
    _cbc(price, "OrderableUnitFactorRate", "1")


def _description(line: LineView) -> str:
    text = (
        f"{KIND_LABELS.get(line.kind, line.kind)}, {treatment_label(line.treatment_type)}, "
        f"forløb {course_label(line)}, {period_label(line.period)}, trin {line.tier}"
    )
    if line.adjustment:
        text += f", efterregulering ({reason_label(line.reason)})"
    return text


def _unit(line: LineView) -> str:
    """A course fee is one piece ("EA"), a day fee a number of days ("DAY")."""
    return "DAY" if line.kind == "day_fee" else "EA"


def _party(parent: etree._Element, party: Party) -> etree._Element:
    element = _cac(parent, "Party")
    _cbc(element, "EndpointID", party.gln or "", schemeAgencyID="9", schemeID="GLN")
    identification = _cac(element, "PartyIdentification")
    _cbc(identification, "ID", f"DK{party.cvr or ''}", schemeID="DK:CVR")
    _cbc(_cac(element, "PartyName"), "Name", party.name)
    address = _cac(element, "PostalAddress")
    _cbc(
        address, "AddressFormatCode", "StructuredDK",
        listAgencyID="320", listID="urn:oioubl:codelist:addressformatcode-1.1",
    )  # fmt: skip
    _cbc(address, "StreetName", party.address.street_name or "")
    _cbc(address, "BuildingNumber", party.address.building_number or "")
    _cbc(address, "CityName", party.address.city_name or "")
    _cbc(address, "PostalZone", party.address.postal_zone or "")
    _cbc(_cac(address, "Country"), "IdentificationCode", "DK")
    legal = _cac(element, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name)
    _cbc(legal, "CompanyID", f"DK{party.cvr or ''}", schemeID="DK:CVR")
    return element


def _tax_total(parent: etree._Element, taxable: Decimal) -> None:
    total = _cac(parent, "TaxTotal")
    _amount(total, "TaxAmount", Decimal(0))
    subtotal = _cac(total, "TaxSubtotal")
    _amount(subtotal, "TaxableAmount", taxable)
    _amount(subtotal, "TaxAmount", Decimal(0))
    category = _cac(subtotal, "TaxCategory")
    _cbc(
        category, "ID", "ZeroRated",
        schemeAgencyID="320", schemeID="urn:oioubl:id:taxcategoryid-1.1",
    )  # fmt: skip
    _cbc(category, "Percent", "0")
    scheme = _cac(category, "TaxScheme")
    _cbc(scheme, "ID", "63", schemeAgencyID="320", schemeID="urn:oioubl:id:taxschemeid-1.1")
    _cbc(scheme, "Name", "Moms")


def _amount(parent: etree._Element, name: str, value: Decimal) -> None:
    _cbc(parent, name, f"{value:.2f}", currencyID=CURRENCY)


def _cbc(parent: etree._Element, name: str, text: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{_NS['cbc']}}}{name}", attributes)
    element.text = text
    return element


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{_NS['cac']}}}{name}")
