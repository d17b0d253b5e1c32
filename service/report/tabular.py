"""A statement's lines as CSV, the way Excel in Denmark opens it.

Format decisions:

- UTF-8 with a byte-order mark: Danish Excel otherwise reads the file as Windows-1252 and
  mangles æ, ø and å.
- Semicolon-separated, CRLF line ends: Danish Excel's list separator is ";" because the
  comma is the decimal sign.
- Amounts in kr. with øre and a *decimal comma*, no thousands separator ("6915,00",
  "-2970,00"). Danish Excel reads these as numbers; a program reads them back with
  `Decimal(text.replace(",", "."))`, exactly, with no grouping to strip.
- A pure table: one header row, then one row per statement line, in the statement's own
  order. No title block and no total row; the statement's identity (period, municipality,
  number) belongs in the file name, which the caller chooses, and the totals follow from
  the lines (and are in the XLSX and PDF).
- Periods stay ISO ("2025-01"); texts are Danish labels (see `labels`).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from service.report.labels import LINE_HEADINGS, Cell, line_cells
from service.report.views import StatementView


def _csv_text(cell: Cell) -> str:
    if isinstance(cell, Decimal):
        return f"{cell:.2f}".replace(".", ",")
    return str(cell)


def statement_csv(s: StatementView) -> bytes:
    """The statement's lines as a semicolon-separated UTF-8 (BOM) table."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(LINE_HEADINGS)
    for line in s.lines:
        writer.writerow([_csv_text(cell) for cell in line_cells(line)])
    return buffer.getvalue().encode("utf-8-sig")
