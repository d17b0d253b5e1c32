"""Choosing a renderer and naming the file."""

from __future__ import annotations

import pytest

from service.report import statement_csv
from service.report.files import render_statement, statement_filename
from tests.support.report_builders import small_lines, statement


def test_filename_carries_the_identity_in_ascii() -> None:
    s = statement(small_lines())
    assert (
        statement_filename(s, "pdf") == "afregning-2025-01-169-Hoeje-Taastrup-Kommune-2025-0007.pdf"
    )
    draft = statement(small_lines(), issued=False)
    assert statement_filename(draft, "csv").endswith("-kladde.csv")
    assert statement_filename(s, "xlsx").isascii()


def test_render_statement_dispatches() -> None:
    s = statement(small_lines())
    assert render_statement(s, "csv") == statement_csv(s)
    assert render_statement(s, "pdf").startswith(b"%PDF-")
    assert render_statement(s, "xlsx").startswith(b"PK")
    with pytest.raises(ValueError):
        render_statement(s, "docx")
    with pytest.raises(ValueError):
        statement_filename(s, "docx")
