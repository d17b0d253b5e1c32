"""The statement CSV: a pure, Danish-Excel-friendly table that parses back to the model."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from service.report import statement_csv
from service.report.labels import LINE_HEADINGS
from tests.support.report_builders import many_lines, ore, small_lines, statement

TREATMENTS = {"IV-antibiotika": "antibiotics", "IV-væske": "fluids", "IV-pumpe": "pump"}
KINDS = {"Forløbstakst": "course_fee", "Dagstakst": "day_fee"}
REASONS = {
    "": None,
    "Efterregistrering": "late_registration",
    "Rettelse": "correction",
    "Annullering": "cancellation",
    "Taksændring": "tariff_change",
    "Indeksændring": "index_change",
}


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 byte-order mark for Excel"
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def _kr_ore(text: str) -> int:
    assert "." not in text, "decimal comma, no thousands separator"
    value = Decimal(text.replace(",", "."))
    assert value == value.quantize(Decimal("0.01"))
    return int(value * 100)


def test_header_row_is_danish() -> None:
    rows = _rows(statement_csv(statement(small_lines())))
    assert tuple(rows[0]) == LINE_HEADINGS
    assert rows[0][:3] == ["Forløb", "Periode", "Ydelse"]
    assert "Beløb (kr.)" in rows[0]
    assert "Årsag" in rows[0]


def test_lines_and_totals_parse_back() -> None:
    for lines in (small_lines(), many_lines()):
        s = statement(lines)
        header, *rows = _rows(statement_csv(s))
        col = {name: i for i, name in enumerate(header)}
        assert len(rows) == len(s.lines)
        for row, line in zip(rows, s.lines, strict=True):
            assert row[col["Forløb"]] == str(line.course_id)
            assert row[col["Periode"]] == line.period
            assert KINDS[row[col["Ydelse"]]] == line.kind
            assert int(row[col["Antal"]]) == line.quantity
            assert _kr_ore(row[col["Enhedspris (kr.)"]]) == ore(line.unit_price)
            assert _kr_ore(row[col["Beløb (kr.)"]]) == ore(line.amount)
            assert int(row[col["Trin"]]) == line.tier
            assert int(row[col["Position"]]) == line.position
            assert TREATMENTS[row[col["Behandling"]]] == line.treatment_type
            assert row[col["Hospital"]] == line.hospital_code
            assert int(row[col["Takstversion"]]) == line.tariff_version_id
            assert row[col["Efterregulering"]] == ("ja" if line.adjustment else "nej")
            assert REASONS[row[col["Årsag"]]] == line.reason
        amounts = [_kr_ore(row[col["Beløb (kr.)"]]) for row in rows]
        adjusted = [
            a for a, row in zip(amounts, rows, strict=True) if row[col["Efterregulering"]] == "ja"
        ]
        assert sum(amounts) == ore(s.total)
        assert sum(adjusted) == ore(s.adjustment_total)
        assert sum(amounts) - sum(adjusted) == ore(s.regular_total)


def test_negative_amount_and_danish_letters() -> None:
    s = statement(small_lines(), name="Høje-Taastrup Kommune")
    text = statement_csv(s).decode("utf-8-sig")
    assert ";-2970,00;" in text
    assert "IV-væske" in text and "Årsag" in text
    assert text.endswith("\r\n")


def test_empty_statement_is_just_the_header() -> None:
    rows = _rows(statement_csv(statement([])))
    assert rows == [list(LINE_HEADINGS)]
