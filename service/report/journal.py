"""A booking journal as CSV and XLSX, the way finance imports it into its ERP.

One row per entry: posting date (ISO), account string, amount in kr. with øre (a decimal
comma in the CSV, a number in the XLSX), expense or income, text, counterpart CVR and
EAN/GLN, and the statement, municipality and treatment type it books. The CSV is a pure
table like the statements' (UTF-8 with BOM, `;`, CRLF); the amounts sum to the totals of
the statements booked.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from service.domain.journal import JournalEntry
from service.report.workbook import new_workbook, table, workbook_bytes

HEADINGS: Final = (
    "Bogføringsdato",
    "Kontostreng",
    "Beløb (kr.)",
    "Art",
    "Tekst",
    "Modpart CVR",
    "Modpart EAN",
    "Opgørelse",
    "Kommune",
    "Behandling",
)


def _cells(entry: JournalEntry) -> tuple[str | Decimal, ...]:
    return (
        entry.posting_date.isoformat(),
        entry.account,
        Decimal(entry.amount_ore) / 100,
        entry.kind,
        entry.text,
        entry.counterpart.cvr or "",
        entry.counterpart.gln or "",
        entry.statement_number,
        entry.municipality_code,
        entry.treatment_type,
    )


def journal_csv(entries: Sequence[JournalEntry]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADINGS)
    for entry in entries:
        writer.writerow(
            [f"{c:.2f}".replace(".", ",") if isinstance(c, Decimal) else c for c in _cells(entry)]
        )
    return buffer.getvalue().encode("utf-8-sig")


def journal_xlsx(entries: Sequence[JournalEntry], title: str, when: datetime | None) -> bytes:
    wb = new_workbook(title, when)
    ws = wb.active
    assert ws is not None
    ws.title = "Posteringer"
    table(ws, HEADINGS, (_cells(entry) for entry in entries))
    return workbook_bytes(wb, when)
