"""An issued statement as an OIOUBL 2.1 e-invoice: its parties from the master data, the
payer's terms, and for a credit note the issued statements it references.

The document itself is a pure rendering (service.report.oioubl). What it needs and is not
known yet (a CVR, an EAN/GLN, an address, the payer's order reference) is never guessed:
the export refuses with 409 `master_data_missing`, naming every field to set first.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from service.domain.parties import Address, Party, PayerTerms, missing, missing_terms
from service.domain.settlement import Period
from service.errors import Conflict
from service.models import Municipality, Payer
from service.reference import repository as reference_repository
from service.report.labels import local_date
from service.report.oioubl import EInvoice, document_kind, statement_oioubl
from service.settlement import repository
from service.settlement.schemas import StatementOut


async def statement_document(session: AsyncSession, statement: StatementOut) -> bytes:
    """The OIOUBL document of an issued statement (409 when it cannot be one yet)."""
    if statement.state != "issued":
        raise Conflict(
            "statement_not_issued", "a draft is no e-invoice: the period must be issued first"
        )
    if not statement.lines:
        raise Conflict("nothing_to_invoice", "the statement has no lines: nothing to invoice")
    municipality = await repository.municipality(session, statement.municipality_code)
    payer = await reference_repository.payer(session, statement.payer.cvr)
    assert municipality is not None
    supplier = _party(municipality, municipality.legal_name or "", municipality.cvr)
    customer = _party(payer, statement.payer.name, statement.payer.cvr)
    terms = PayerTerms(
        order_reference=payer.order_reference if payer else None,
        accounting_cost=payer.accounting_cost if payer else None,
        contact_reference=payer.contact_reference if payer else None,
    )
    absent = (["municipality.legal_name"] if not municipality.legal_name else []) + [
        *missing("municipality", supplier),
        *missing("payer", customer),
        *missing_terms(terms),
    ]
    if absent:
        raise Conflict(
            "master_data_missing",
            "the e-invoice needs master data that is not set yet: an admin sets it "
            "(PATCH /api/v1/municipalities/{code}, PATCH /api/v1/payers/{cvr}, or "
            "`ivsettle parties`)",
            missing=absent,
        )
    credited: list[tuple[str, date]] = []
    if document_kind(statement) == "CreditNote":
        # The earlier statements its adjustments concern (not itself: its own month's
        # lines are new, not credited).
        periods = sorted({Period.parse(x.period) for x in statement.lines if x.adjustment})
        credited = [
            (f"{s.number_year}-{s.number:04d}", local_date(s.issued_at))
            for s in await repository.issued_statements_of(
                session, statement.municipality_code, [str(p) for p in periods]
            )
        ]
    return statement_oioubl(EInvoice(statement, supplier, customer, terms, credited))


def _party(row: Municipality | Payer | None, name: str, cvr: str | None) -> Party:
    if row is None:
        return Party(name=name, cvr=cvr)
    return Party(
        name=name,
        cvr=cvr,
        gln=row.gln,
        address=Address(row.street_name, row.building_number, row.postal_zone, row.city_name),
    )
