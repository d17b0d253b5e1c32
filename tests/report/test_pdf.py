"""The statement PDF: a filed document that pypdf opens and whose text carries the facts."""

from __future__ import annotations

import io

from pypdf import PdfReader

from service.report import statement_pdf
from service.report.labels import CHAIN_ISSUE_LABEL, CHAIN_PREVIOUS_LABEL, kr_text
from tests.report.chained import chained
from tests.support.report_builders import HASH, ISSUED_AT, many_lines, small_lines, statement


def _read(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_issued_statement_text() -> None:
    s = statement(small_lines())
    reader, text = _read(statement_pdf(s))
    assert len(reader.pages) == 1
    assert "Afregningsopgørelse – IV-behandling i kommunalt regi" in text
    assert kr_text(s.total) == "3.945,00 kr."
    assert "3.945,00 kr." in text
    assert "-5.940,00 kr." in text  # the adjustments, negative
    assert "2025-0007" in text
    assert "Region Hovedstaden" in text and "29190623" in text and "5798000000000" in text
    assert "Høje-Taastrup Kommune" in text and "169" in text
    assert f"SHA-256: {HASH}" in text
    assert "Efterreguleringer" in text and "Annullering" in text and "2024-12" in text
    assert "IV-væske" in text and "Trin 2" in text
    assert "Side 1 af 1" in text
    assert "UDKAST" not in text
    assert reader.metadata is not None
    assert reader.metadata.creation_date is not None
    assert reader.metadata.creation_date.replace(tzinfo=None) == ISSUED_AT.replace(tzinfo=None)


def test_draft_is_marked() -> None:
    s = statement(small_lines(), issued=False)
    _, text = _read(statement_pdf(s))
    assert "UDKAST" in text
    assert "Kladde" in text
    assert "Ikke udstedt" in text


def test_hundreds_of_lines_break_across_pages() -> None:
    s = statement(many_lines(500))
    reader, text = _read(statement_pdf(s))
    pages = len(reader.pages)
    assert pages > 5
    assert f"Side {pages} af {pages}" in text
    for page in reader.pages[1:]:
        page_text = page.extract_text()
        assert "Beløb (kr.)" in page_text  # the table header repeated
        assert HASH in page_text  # the footer on every page
    assert kr_text(s.total) in text
    assert str(s.lines[-1].course_id) in text
    assert "Indeksændring" in text and "Taksændring" in text


def test_empty_statement() -> None:
    _, text = _read(statement_pdf(statement([])))
    assert "Ingen ordinære linjer" in text and "Ingen efterreguleringer" in text
    assert "0,00 kr." in text


def test_no_cell_text_is_wider_than_its_column() -> None:
    """ReportLab does not wrap plain strings: check every table cell fits, with large
    amounts, every label and full course ids (reads the laid-out tables' cell styles)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import Table

    from service.report.pdf import _story
    from tests.support.report_builders import line

    huge = line(9999, quantity=3, unit_ore=987_654_321, treatment_type="fluids")
    s = statement([*many_lines(500), huge])
    pending = [f for f in _story(s) if isinstance(f, Table)]
    checked = 0
    while pending:
        table = pending.pop()
        for r, row in enumerate(table._cellvalues):
            for c, value in enumerate(row):
                if isinstance(value, Table):
                    pending.append(value)
                elif isinstance(value, str) and value:
                    style = table._cellStyles[r][c]
                    needed = stringWidth(value, style.fontname, style.fontsize)
                    room = table._argW[c] - style.leftPadding - style.rightPadding
                    assert needed <= room, (value, needed, room)
                    checked += 1
    assert checked > 4500


def test_issued_statement_prints_the_issue_chain() -> None:
    """The chain head is on the filed PDF (issue 12 item 3), in the facts area."""
    s = chained(statement(small_lines()))
    assert s.chain is not None
    _, text = _read(statement_pdf(s))
    assert f"{CHAIN_ISSUE_LABEL}\n{s.chain.issue}" in text
    assert f"{CHAIN_PREVIOUS_LABEL}\n{s.chain.previous}" in text
    _, draft = _read(statement_pdf(statement(small_lines(), issued=False)))
    assert "Kædehash" not in draft


def test_the_chain_fits_its_column() -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import Table

    from service.report.pdf import _chain

    s = chained(statement(small_lines()), issue="f" * 64, previous="d" * 64)
    (table,) = [f for f in _chain(s) if isinstance(f, Table)]
    for r, row in enumerate(table._cellvalues):
        for c, value in enumerate(row):
            style = table._cellStyles[r][c]
            needed = stringWidth(value, style.fontname, style.fontsize)
            assert needed <= table._argW[c] - style.leftPadding - style.rightPadding, value
