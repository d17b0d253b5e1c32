"""Choosing a renderer and naming the file, for callers that serve or write statements.

A CSV is a pure table, so a statement's identity (period, municipality, number or draft)
lives in its file name. File names are ASCII (æ → ae, ø → oe, å → aa), carry no personal
data, and like the contents are a pure function of the statement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from service.report.pdf import statement_pdf
from service.report.tabular import statement_csv
from service.report.views import StatementView
from service.report.workbook import statement_xlsx

Format = Literal["csv", "xlsx", "pdf"]

RENDERERS: Final[dict[str, Callable[[StatementView], bytes]]] = {
    "csv": statement_csv,
    "xlsx": statement_xlsx,
    "pdf": statement_pdf,
}
MEDIA_TYPES: Final[dict[str, str]] = {
    "xml": "application/xml",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
_DANISH: Final = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})


@dataclass(frozen=True)
class File:
    """A rendered file as it is handed out: its bytes, name and media type."""

    content: bytes
    filename: str
    media_type: str


def render_statement(s: StatementView, format: str) -> bytes:
    """The statement as "csv", "xlsx" or "pdf" bytes (ValueError for anything else)."""
    try:
        renderer = RENDERERS[format]
    except KeyError:
        raise ValueError(f"unknown format {format!r}: one of csv, xlsx, pdf") from None
    return renderer(s)


def slug(text: str) -> str:
    """A name for a file name: ASCII (æ → ae, ø → oe, å → aa), words joined by "-"."""
    ascii_text = text.translate(_DANISH).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-")


def statement_filename(s: StatementView, format: str) -> str:
    """E.g. "afregning-2025-01-169-Hoeje-Taastrup-2025-0001.pdf", or "...-kladde.csv"."""
    if format not in MEDIA_TYPES:
        raise ValueError(f"unknown format {format!r}: one of csv, xlsx, pdf, xml")
    if s.number is None or s.number_year is None:
        number = "kladde"
    else:
        number = f"{s.number_year}-{s.number:04d}"
    name = slug(s.municipality_name)
    return f"afregning-{s.period}-{s.municipality_code}-{name}-{number}.{format}"
