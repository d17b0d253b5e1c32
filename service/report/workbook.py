"""Statements and the region summary as XLSX workbooks (openpyxl), byte-for-byte stable.

An issued statement never changes, so neither may its files: rendering the same model
twice, on any machine, at any time, must give identical bytes. openpyxl alone does not:
`Workbook.save` stamps the current time into docProps/core.xml (created, modified) and the
zip entries carry the current local time. So here:

- the workbook's created/modified properties are the statement's issue time (a fixed
  epoch for drafts), and the workbook is written with openpyxl's `ExcelWriter` directly,
  which, unlike `save_workbook`, does not overwrite `modified` with the clock;
- the archive is then re-packed: entries in a fixed order ([Content_Types].xml first, the
  rest by name), each with the same document time as its zip timestamp, fixed
  permissions and the same compression.

Amounts are stored as numbers in kr. with the number format ``#,##0.00`` (Danish Excel
shows "6.915,00"), since finance wants to sum and filter them. They are handed to openpyxl
as exact `Decimal`s, but a spreadsheet number is a binary double and openpyxl writes it
with 16 significant digits, so 682.06 may be stored as "682.0599999999999". That is for
display and arithmetic in Excel only: it is within 1e-9 kr. of the amount and rounds back
to the exact øre (the tests check both for every line); the exact amounts of record are
the API's decimal strings, the CSV and the PDF. Headings and labels are Danish.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from service.report.labels import (
    LINE_HEADINGS,
    STATE_LABELS,
    Cell,
    chain_rows,
    date_text,
    document_time,
    kr_decimal,
    line_cells,
    ore,
    period_label,
    statement_number,
    tier_label,
    treatment_label,
)
from service.report.views import RegionSummaryView, StatementView, TotalView

AMOUNT_FORMAT: Final = "#,##0.00"
BOLD: Final = Font(bold=True)
CREATOR: Final = "ivsettle"

Row = Sequence[Cell | None]


# --- writing a workbook deterministically ------------------------------------------------


def new_workbook(title: str, when: datetime | None) -> Workbook:
    wb = Workbook()
    stamp = document_time(when).replace(tzinfo=None)  # openpyxl takes naive UTC
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = CREATOR
    wb.properties.lastModifiedBy = CREATOR
    wb.properties.title = title
    return wb


def _entry_order(name: str) -> tuple[int, str]:
    return (0 if name == "[Content_Types].xml" else 1, name)


def _repack(raw: bytes, when: datetime | None) -> bytes:
    """The archive again, with fixed entry order, timestamps and attributes."""
    stamp = document_time(when)
    date_time = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(raw)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for name in sorted(source.namelist(), key=_entry_order):
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever the host
            target.writestr(info, source.read(name))
    return out.getvalue()


def workbook_bytes(wb: Workbook, when: datetime | None) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    return _repack(raw.getvalue(), when)


# --- sheets -------------------------------------------------------------------------------


def _append(ws: Worksheet, row: Row, *, bold: bool = False) -> None:
    ws.append(list(row))
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, Decimal):
            cell.number_format = AMOUNT_FORMAT
        if bold:
            cell.font = BOLD


def table(ws: Worksheet, headings: Sequence[str], rows: Iterable[Row]) -> None:
    _append(ws, headings, bold=True)
    for row in rows:
        _append(ws, row)
    ws.freeze_panes = "A2"


def _widths(ws: Worksheet, widths: Sequence[int]) -> None:
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width


def _total_rows(totals: Sequence[TotalView], label: str) -> list[Row]:
    return [(name, kr_decimal(t.amount)) for t, name in _labelled(totals, label)]


def _labelled(totals: Sequence[TotalView], view: str) -> list[tuple[TotalView, str]]:
    if view == "type":
        return [(t, treatment_label(t.key)) for t in totals]
    if view == "tier":
        return [(t, tier_label(t.key)) for t in totals]
    return [(t, t.key) for t in totals]


def _number_text(number: int | None, year: int) -> str:
    return "Kladde" if number is None else f"{year}-{number:04d}"


# --- the statement ------------------------------------------------------------------------


def _statement_summary(ws: Worksheet, s: StatementView) -> None:
    ws.title = "Opsummering"
    _append(ws, ("Afregningsopgørelse – IV-behandling i kommunalt regi",), bold=True)
    _append(ws, ())
    facts: list[Row] = [
        ("Opgørelsesnummer", statement_number(s)),
        ("Status", STATE_LABELS[s.state]),
        ("Periode", s.period),
        ("Periode (tekst)", period_label(s.period)),
        ("Udstedt", date_text(s.issued_at)),
        ("Betaler", s.payer.name),
        ("Betalers CVR", s.payer.cvr),
        ("Betalers EAN/GLN", s.payer.gln),
        ("Modtager (kommune)", s.municipality_name),
        ("Kommunekode", s.municipality_code),
        ("Antal linjer", len(s.lines)),
        ("SHA-256", s.hash or "Ingen (udkast)"),
        *chain_rows(s),
    ]
    for row in facts:
        _append(ws, row)
    _append(ws, ())
    _append(ws, ("Beløb", "Kr."), bold=True)
    _append(ws, ("Ordinære linjer", kr_decimal(s.regular_total)))
    _append(ws, ("Efterreguleringer", kr_decimal(s.adjustment_total)))
    _append(ws, ("I alt", kr_decimal(s.total)), bold=True)
    for heading, totals, view in (
        ("Fordelt på behandling", s.totals_by_type, "type"),
        ("Fordelt på trin", s.totals_by_tier, "tier"),
        ("Fordelt på hospital", s.totals_by_hospital, "hospital"),
    ):
        _append(ws, ())
        _append(ws, (heading, "Kr."), bold=True)
        for row in _total_rows(totals, view):
            _append(ws, row)
    _widths(ws, (28, 70))


def statement_xlsx(s: StatementView) -> bytes:
    """The statement as a workbook: "Opsummering" (identity and totals), "Linjer" (lines)."""
    wb = new_workbook(f"Afregningsopgørelse {s.municipality_name} {s.period}", s.issued_at)
    summary = wb.active
    assert summary is not None  # a new workbook always has its first sheet
    _statement_summary(summary, s)
    lines = wb.create_sheet("Linjer")
    table(lines, LINE_HEADINGS, (line_cells(line) for line in s.lines))
    _widths(lines, (38, 10, 14, 8, 16, 16, 6, 10, 16, 10, 12, 15, 18))
    return workbook_bytes(wb, s.issued_at)


# --- the region summary -------------------------------------------------------------------


def _region_overview(ws: Worksheet, r: RegionSummaryView) -> None:
    ws.title = "Oversigt"
    _append(ws, ("Regionsoversigt – IV-behandling i kommunalt regi",), bold=True)
    _append(ws, ())
    for row in (
        ("Periode", r.period),
        ("Periode (tekst)", period_label(r.period)),
        ("Status", STATE_LABELS[r.state]),
        ("Udstedt", date_text(r.issued_at)),
        ("Betaler", r.payer.name),
        ("Betalers CVR", r.payer.cvr),
        ("Betalers EAN/GLN", r.payer.gln),
        ("Antal kommuner", len(r.municipalities)),
    ):
        _append(ws, row)
    _append(ws, ("I alt (kr.)", kr_decimal(r.total)), bold=True)
    _widths(ws, (24, 50))


def _municipality_rows(r: RegionSummaryView) -> list[Row]:
    year = int(r.period[:4])  # statements are numbered per year of their period
    rows: list[Row] = [
        (
            m.municipality_code,
            m.municipality_name,
            _number_text(m.number, year),
            kr_decimal(m.regular_total),
            kr_decimal(m.adjustment_total),
            kr_decimal(m.total),
            m.line_count,
            m.hash or "",
        )
        for m in r.municipalities
    ]
    ms = r.municipalities
    total_row: Row = (
        "",
        "I alt",
        "",
        _sum_kr(m.regular_total for m in ms),
        _sum_kr(m.adjustment_total for m in ms),
        kr_decimal(r.total),
        sum(m.line_count for m in ms),
        "",
    )
    return [*rows, total_row]


def _sum_kr(amounts: Iterable[str]) -> Decimal:
    """The exact sum of API amounts, in kr. (summed as integer øre)."""
    return Decimal(sum(ore(amount) for amount in amounts)).scaleb(-2).quantize(Decimal("0.01"))


def _staircase(ws: Worksheet, r: RegionSummaryView) -> None:
    st = r.staircase
    _append(ws, ("Trappemodel", ""), bold=True)
    _append(ws, ("År", st.year))
    _append(ws, ("Forløb talt i året (udstedt)", st.counted))
    _append(ws, ("Næste forløbs trin", st.current_tier))
    _append(
        ws,
        (
            "Forløb tilbage på nuværende trin",
            "Sidste trin" if st.until_next_tier is None else st.until_next_tier,
        ),
    )
    _append(ws, ())
    _append(ws, ("Trin", "Fra forløb nr.", "Til forløb nr."), bold=True)
    starts = [1, *(threshold + 1 for threshold in st.tier_thresholds)]
    for tier, start in enumerate(starts, start=1):
        end: Cell | None = st.tier_thresholds[tier - 1] if tier <= len(st.tier_thresholds) else None
        _append(ws, (tier_label(str(tier)), start, end))
    _widths(ws, (34, 16, 16))


def region_summary_xlsx(r: RegionSummaryView) -> bytes:
    """The region summary: an overview, the municipalities, totals by type, tier and
    hospital, and the staircase, one sheet each."""
    wb = new_workbook(f"Regionsoversigt {r.period}", r.issued_at)
    overview = wb.active
    assert overview is not None
    _region_overview(overview, r)
    municipalities = wb.create_sheet("Kommuner")
    table(
        municipalities,
        (
            "Kommunekode",
            "Kommune",
            "Opgørelsesnummer",
            "Ordinært (kr.)",
            "Efterregulering (kr.)",
            "I alt (kr.)",
            "Linjer",
            "SHA-256",
        ),
        _municipality_rows(r),
    )
    _widths(municipalities, (13, 22, 17, 16, 20, 16, 8, 70))
    for title, heading, totals, view in (
        ("Behandling", "Behandling", r.totals_by_type, "type"),
        ("Trin", "Trin", r.totals_by_tier, "tier"),
        ("Hospital", "Hospital", r.totals_by_hospital, "hospital"),
    ):
        ws = wb.create_sheet(title)
        table(ws, (heading, "Beløb (kr.)"), _total_rows(totals, view))
        _append(ws, ("I alt", kr_decimal(r.total)), bold=True)
        _widths(ws, (20, 16))
    _staircase(wb.create_sheet("Trappemodel"), r)
    return workbook_bytes(wb, r.issued_at)
