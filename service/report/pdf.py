"""A statement as a formal A4 PDF (ReportLab platypus), byte-for-byte stable.

The document finance files: title, payer (name, CVR, EAN/GLN) and payee (municipality and
kommunekode), period, statement number ("2025-0001", or "Kladde" for a draft, which is
also marked UDKAST in the heading and as a watermark on every page), issue date, totals
(regular, adjustments, grand total; by treatment type, tier and hospital), the issue
chain's head of an issued statement (its issue's chain hash and the one before), the regular
lines and the adjustments in separate tables (adjustments with the period they concern
and the reason), and the SHA-256 hash of the statement in every page's footer together
with "Side x af y". Long tables break across pages with their header row repeated.

Fonts are the PDF standard Helvetica family (WinAnsi encoding covers æ, ø, å and the en
dash), so nothing depends on fonts installed on the host.

Determinism: ReportLab runs in invariant mode (no random file identifier, no clock, no
comments with build details), and the document's creation/modification date is set
from the model: the issue time, or a fixed epoch for a draft. The same model therefore
always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from service.report.labels import (
    KIND_LABELS,
    STATE_LABELS,
    chain_rows,
    course_label,
    date_text,
    document_time,
    kr_text,
    period_label,
    reason_label,
    statement_number,
    tier_label,
    treatment_label,
)
from service.report.views import LineView, StatementView, TotalView

TITLE: Final = "Afregningsopgørelse – IV-behandling i kommunalt regi"
MARGIN: Final = 18 * mm
FOOTER_Y: Final = 10 * mm
BODY_WIDTH: Final = A4[0] - 2 * MARGIN
FONT: Final = "Helvetica"
FONT_BOLD: Final = "Helvetica-Bold"
LINE_FONT_SIZE: Final = 6.5
HEADER_BG: Final = colors.HexColor("#DDE3EA")
DRAFT_RED: Final = colors.HexColor("#B00020")

_STYLES = getSampleStyleSheet()
TITLE_STYLE: Final = ParagraphStyle("title", parent=_STYLES["Title"], fontSize=15, leading=19)
H2: Final = ParagraphStyle("h2", parent=_STYLES["Heading2"], fontSize=11, leading=14)
BODY: Final = ParagraphStyle("body", parent=_STYLES["BodyText"], fontSize=9, leading=11)
DRAFT_STYLE: Final = ParagraphStyle(
    "draft", parent=BODY, textColor=DRAFT_RED, fontName=FONT_BOLD, fontSize=11, leading=14
)
TOTAL_STYLE: Final = ParagraphStyle(
    "total", parent=BODY, fontName=FONT_BOLD, fontSize=11, leading=14, alignment=TA_RIGHT
)

# Column widths (mm) of the line tables; they add up to the body width (174 mm).
REGULAR_COLUMNS: Final = (
    ("Forløb", 48),
    ("Ydelse", 18),
    ("Behandling", 20),
    ("Hospital", 14),
    ("Trin", 9),
    ("Position", 13),
    ("Antal", 10),
    ("Enhedspris (kr.)", 21),
    ("Beløb (kr.)", 21),
)
ADJUSTMENT_COLUMNS: Final = (
    ("Forløb", 47),
    ("Vedrører", 13),
    ("Årsag", 21),
    ("Ydelse", 17),
    ("Behandling", 18),
    ("Hosp.", 10),
    ("Trin", 7),
    ("Antal", 9),
    ("Enhedspris", 16),
    ("Beløb (kr.)", 16),
)


def _kr(amount: str) -> str:
    """An amount for a table cell whose heading says "kr.": "6.915,00"."""
    return kr_text(amount).removesuffix(" kr.")


def _para(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(text), style)


# --- page furniture -----------------------------------------------------------------------


class _Pages:
    """What is drawn on every page: the footer ("Side x af y", the hash) and, on a draft,
    the UDKAST watermark. The page count is learnt from a first rendering."""

    def __init__(self, s: StatementView, count: int | None) -> None:
        number = statement_number(s)
        marked = "" if s.state == "issued" else " (UDKAST)"
        self.footer = (
            f"Afregningsopgørelse {number}{marked} · {s.municipality_name} "
            f"({s.municipality_code}) · {period_label(s.period)}"
        )
        self.hash_line = f"SHA-256: {s.hash}" if s.hash else "SHA-256: ingen (udkast, ikke udstedt)"
        self.draft = s.state == "draft"
        self.count = count
        self.date = _pdf_date(s)

    def first(self, canvas: Canvas, doc: object) -> None:
        canvas.setDateFormatter(lambda *_: self.date)
        self.later(canvas, doc)

    def later(self, canvas: Canvas, _doc: object) -> None:
        if self.draft:
            _draft_watermark(canvas)
        self._footer(canvas)

    def _footer(self, canvas: Canvas) -> None:
        page = canvas.getPageNumber()
        of = "" if self.count is None else f" af {self.count}"
        canvas.saveState()
        canvas.setStrokeColor(colors.grey)
        canvas.setLineWidth(0.4)
        canvas.line(MARGIN, FOOTER_Y + 9, A4[0] - MARGIN, FOOTER_Y + 9)
        canvas.setFont(FONT, 7)
        canvas.drawString(MARGIN, FOOTER_Y + 2, self.footer)
        canvas.drawRightString(A4[0] - MARGIN, FOOTER_Y + 2, f"Side {page}{of}")
        canvas.drawString(MARGIN, FOOTER_Y - 6, self.hash_line)
        canvas.restoreState()


def _draft_watermark(canvas: Canvas) -> None:
    canvas.saveState()
    canvas.setFont(FONT_BOLD, 90)
    canvas.setFillColor(colors.Color(0.85, 0.1, 0.1, alpha=0.12))
    canvas.translate(A4[0] / 2, A4[1] / 2)
    canvas.rotate(45)
    canvas.drawCentredString(0, -30, "UDKAST")
    canvas.restoreState()


def _pdf_date(s: StatementView) -> str:
    return document_time(s.issued_at).strftime("D:%Y%m%d%H%M%S+00'00'")


# --- blocks -------------------------------------------------------------------------------


def _grid(
    data: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    header: bool = True,
    total_row: bool = False,
    right_from: int | None = None,
    font_size: float = 8.5,
) -> Table:
    rows = [list(row) for row in data]
    table = Table(rows, colWidths=list(widths), repeatRows=1 if header else 0)
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, font_size),
        ("LEADING", (0, 0), (-1, -1), font_size + 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, -1), (-1, -1), 0.4, colors.grey),
    ]
    if header:
        style += [
            ("FONT", (0, 0), (-1, 0), FONT_BOLD, font_size),
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ]
    if right_from is not None:
        style.append(("ALIGN", (right_from, 0), (-1, -1), "RIGHT"))
    if total_row:
        style += [
            ("FONT", (0, -1), (-1, -1), FONT_BOLD, font_size),
            ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black),
        ]
    table.setStyle(TableStyle(style))
    return table


def _parties(s: StatementView) -> Table:
    data = [
        ["Betaler", "Modtager"],
        [s.payer.name, s.municipality_name],
        [f"CVR: {s.payer.cvr}", f"Kommunekode: {s.municipality_code}"],
        [f"EAN/GLN: {s.payer.gln}", ""],
    ]
    return _grid(data, (BODY_WIDTH / 2, BODY_WIDTH / 2), font_size=9.5)


def _facts(s: StatementView) -> Table:
    data = [
        ["Opgørelsesnummer", "Periode", "Udstedt", "Status"],
        [
            statement_number(s),
            f"{period_label(s.period)} ({s.period})",
            date_text(s.issued_at),
            STATE_LABELS[s.state],
        ],
    ]
    return _grid(data, [BODY_WIDTH / 4] * 4, font_size=9.5)


def _chain(s: StatementView) -> list[Flowable]:
    """The issue chain's head (an issued statement): the hashes `ivsettle verify
    --expect-head` takes, so every municipality holds a copy of the chain."""
    rows = chain_rows(s)
    if not rows:
        return []
    data = [["Udstedelseskæde", "SHA-256"], *[list(row) for row in rows]]
    return [Spacer(1, 3 * mm), _grid(data, (50 * mm, BODY_WIDTH - 50 * mm), font_size=8)]


def _summary(s: StatementView) -> Table:
    data = [
        ["Sammendrag", "Beløb"],
        [f"Ordinære linjer for {period_label(s.period)}", kr_text(s.regular_total)],
        ["Efterreguleringer af tidligere perioder", kr_text(s.adjustment_total)],
        ["I alt", kr_text(s.total)],
    ]
    return _grid(data, (BODY_WIDTH - 45 * mm, 45 * mm), total_row=True, right_from=1, font_size=9)


def _breakdown(heading: str, rows: Sequence[tuple[str, str]], total: str) -> Table:
    data = [[heading, "Beløb"], *([label, kr_text(amount)] for label, amount in rows)]
    data.append(["I alt", kr_text(total)])
    width = (BODY_WIDTH - 8 * mm) / 3
    return _grid(data, (width - 26 * mm, 26 * mm), total_row=True, right_from=1, font_size=8)


def _breakdowns(s: StatementView) -> Table:
    def rows(totals: Sequence[TotalView], label: Callable[[str], str]) -> list[tuple[str, str]]:
        return [(label(t.key), t.amount) for t in totals]

    inner = [
        _breakdown("Behandling", rows(s.totals_by_type, treatment_label), s.total),
        _breakdown("Trin", rows(s.totals_by_tier, tier_label), s.total),
        _breakdown("Hospital", rows(s.totals_by_hospital, str), s.total),
    ]
    outer = Table([inner], colWidths=[(BODY_WIDTH - 8 * mm) / 3 + 4 * mm] * 3)
    outer.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4 * mm),
            ]
        )
    )
    outer.hAlign = "LEFT"
    return outer


def _course_cell(line: LineView) -> str:
    """The course's number and dates (lines issued before numbers: its id)."""
    if line.course_start is None:
        return course_label(line)
    end = line.course_end.strftime("%d.%m.%y") if line.course_end is not None else "…"
    return f"{course_label(line)} {line.course_start.strftime('%d.%m.%y')}–{end}"


def _regular_row(line: LineView) -> list[str]:
    return [
        _course_cell(line),
        KIND_LABELS.get(line.kind, line.kind),
        treatment_label(line.treatment_type),
        line.hospital_code,
        str(line.tier),
        str(line.position),
        str(line.quantity),
        _kr(line.unit_price),
        _kr(line.amount),
    ]


def _adjustment_row(line: LineView) -> list[str]:
    return [
        _course_cell(line),
        line.period,
        reason_label(line.reason),
        KIND_LABELS.get(line.kind, line.kind),
        treatment_label(line.treatment_type),
        line.hospital_code,
        str(line.tier),
        str(line.quantity),
        _kr(line.unit_price),
        _kr(line.amount),
    ]


def _line_table(
    columns: Sequence[tuple[str, int]],
    rows: list[list[str]],
    total_label: str,
    total: str,
    numeric_from: int,
) -> Table:
    """A line table with its header row repeated on every page and a bold total row."""
    headings = [name for name, _ in columns]
    footer = [total_label, *[""] * (len(columns) - 2), total]
    table = _grid(
        [headings, *rows, footer],
        [width * mm for _, width in columns],
        total_row=True,
        font_size=LINE_FONT_SIZE,
    )
    table.setStyle(TableStyle([("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT")]))
    return table


def _lines_section(
    heading: str,
    empty: str,
    lines: Sequence[LineView],
    columns: Sequence[tuple[str, int]],
    numeric_from: int,
    row: Callable[[LineView], list[str]],
    total_label: str,
    total: str,
) -> list[Flowable]:
    flow: list[Flowable] = [_para(heading, H2)]
    if not lines:
        return [*flow, _para(empty)]
    rows = [row(line) for line in lines]
    return [*flow, _line_table(columns, rows, total_label, _kr(total), numeric_from)]


def _story(s: StatementView) -> list[Flowable]:
    regular = [line for line in s.lines if not line.adjustment]
    adjustments = [line for line in s.lines if line.adjustment]
    story: list[Flowable] = [_para(TITLE, TITLE_STYLE)]
    if s.state == "draft":
        story.append(
            _para(
                "UDKAST – kladde, ikke udstedt. Beløbene kan ændre sig indtil perioden udstedes.",
                DRAFT_STYLE,
            )
        )
    story += [
        Spacer(1, 3 * mm),
        _parties(s),
        Spacer(1, 3 * mm),
        _facts(s),
        *_chain(s),
        Spacer(1, 4 * mm),
        _summary(s),
        Spacer(1, 4 * mm),
        _breakdowns(s),
        Spacer(1, 2 * mm),
    ]
    story += _lines_section(
        f"Ordinære linjer – {period_label(s.period)}",
        "Ingen ordinære linjer i perioden.",
        regular,
        REGULAR_COLUMNS,
        4,
        _regular_row,
        "I alt ordinære linjer",
        s.regular_total,
    )
    story += _lines_section(
        "Efterreguleringer",
        "Ingen efterreguleringer.",
        adjustments,
        ADJUSTMENT_COLUMNS,
        6,
        _adjustment_row,
        "I alt efterreguleringer",
        s.adjustment_total,
    )
    story += [Spacer(1, 5 * mm), _para(f"I alt: {kr_text(s.total)}", TOTAL_STYLE)]
    return story


def _render(s: StatementView, pages: _Pages) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    number = statement_number(s)
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 6 * mm,
        title=f"{TITLE} – {s.municipality_name} {s.period}",
        author=s.payer.name,
        subject=f"Afregningsopgørelse {number}, {s.municipality_name}, {period_label(s.period)}",
        creator="ivsettle",
        producer="ivsettle (ReportLab)",
        keywords=([f"SHA-256 {s.hash}"] if s.hash else [])
        + ([f"Kæde {s.chain.issue}"] if s.chain else []),
        invariant=1,
        pageCompression=1,
        lang="da-DK",
    )
    doc.build(_story(s), onFirstPage=pages.first, onLaterPages=pages.later)
    return buffer.getvalue(), doc.page


def statement_pdf(s: StatementView) -> bytes:
    """The statement as a formal A4 PDF document.

    Rendered twice: the first pass counts the pages for the footer's "Side x af y" (the
    footer lies outside the text frame, so the layout of both passes is the same).
    """
    _, count = _render(s, _Pages(s, None))
    pdf, final_count = _render(s, _Pages(s, count))
    if final_count != count:  # pragma: no cover - the footer cannot move the text
        raise RuntimeError("the PDF's page count changed between passes")
    return pdf
