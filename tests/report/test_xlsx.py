"""The statement and region-summary workbooks open with openpyxl and equal the model."""

from __future__ import annotations

import io
import re
import zipfile
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from service.report import region_summary_xlsx, statement_xlsx
from service.report.labels import CHAIN_ISSUE_LABEL, CHAIN_PREVIOUS_LABEL, LINE_HEADINGS
from tests.report.chained import CHAIN_ISSUE, CHAIN_PREVIOUS, chained
from tests.support.report_builders import (
    ISSUED_AT,
    many_lines,
    ore,
    region_summary,
    small_lines,
    statement,
)


def _open(data: bytes) -> Workbook:
    return load_workbook(io.BytesIO(data))


def _ore(value: Any) -> int:
    """A cell amount (a float in kr. as openpyxl reads it) as øre, checked to be whole øre."""
    assert isinstance(value, int | float), value
    cents = round(value * 100)
    assert abs(value * 100 - cents) < 1e-6
    return cents


def _pairs(ws: Worksheet) -> dict[str, Any]:
    """Column A → column B of a label/value sheet (first occurrence wins)."""
    out: dict[str, Any] = {}
    for row in ws.iter_rows(min_col=1, max_col=2, values_only=True):
        if isinstance(row[0], str) and row[0] not in out:
            out[row[0]] = row[1]
    return out


def _section(ws: Worksheet, heading: str) -> dict[str, int]:
    rows = list(ws.iter_rows(min_col=1, max_col=2, values_only=True))
    start = next(i for i, row in enumerate(rows) if row[0] == heading) + 1
    section: dict[str, int] = {}
    for label, value in rows[start:]:
        if label is None:
            break
        section[str(label)] = _ore(value)
    return section


def test_statement_lines_equal_the_model() -> None:
    for lines in (small_lines(), many_lines()):
        s = statement(lines)
        wb = _open(statement_xlsx(s))
        assert wb.sheetnames == ["Opsummering", "Linjer"]
        ws = wb["Linjer"]
        header, *rows = list(ws.iter_rows(values_only=True))
        assert tuple(header) == LINE_HEADINGS
        assert len(rows) == len(s.lines)
        for row, line in zip(rows, s.lines, strict=True):
            assert row[0] == str(line.course_id)
            assert row[1] == line.period
            assert row[3] == line.quantity
            assert _ore(row[4]) == ore(line.unit_price)
            assert _ore(row[5]) == ore(line.amount)
            assert (row[6], row[7], row[9]) == (line.tier, line.position, line.hospital_code)
            assert row[11] == ("ja" if line.adjustment else "nej")
        assert sum(_ore(row[5]) for row in rows) == ore(s.total)
        assert ws.cell(row=2, column=6).number_format == "#,##0.00"


def test_amounts_in_the_xml_round_to_the_ore() -> None:
    """openpyxl writes numbers with 16 significant digits (682.06 may become
    "682.0599999999999"): every stored amount must round to the model's øre."""
    s = statement(small_lines() + many_lines(200))
    with zipfile.ZipFile(io.BytesIO(statement_xlsx(s))) as z:
        sheet = z.read("xl/worksheets/sheet2.xml").decode()
    for column, field in (("E", "unit_price"), ("F", "amount")):
        texts = re.findall(rf'<c r="{column}\d+"[^>]*><v>([^<]*)</v>', sheet)
        assert len(texts) == len(s.lines)
        for text, line in zip(texts, s.lines, strict=True):
            value = Decimal(text)
            assert abs(value - Decimal(getattr(line, field))) < Decimal("1e-9")
            assert round(float(text) * 100) == ore(getattr(line, field))


def test_statement_summary_equals_the_model() -> None:
    s = statement(small_lines())
    ws = _open(statement_xlsx(s))["Opsummering"]
    facts = _pairs(ws)
    assert facts["Opgørelsesnummer"] == "2025-0007"
    assert facts["Status"] == "Udstedt"
    assert facts["Periode"] == "2025-01"
    assert facts["Udstedt"] == "03.02.2025 kl. 10:30"  # Copenhagen time
    assert facts["Betaler"] == "Region Hovedstaden"
    assert facts["Betalers CVR"] == "29190623"
    assert facts["Betalers EAN/GLN"] == "5798000000000"
    assert facts["Modtager (kommune)"] == "Høje-Taastrup Kommune"
    assert facts["Kommunekode"] == "169"
    assert facts["SHA-256"] == s.hash
    assert _ore(facts["I alt"]) == ore(s.total)
    assert _ore(facts["Ordinære linjer"]) == ore(s.regular_total)
    assert _ore(facts["Efterreguleringer"]) == ore(s.adjustment_total)
    by_type = _section(ws, "Fordelt på behandling")
    assert by_type == {"IV-antibiotika": 988500, "IV-pumpe": -297000, "IV-væske": -297000}
    assert _section(ws, "Fordelt på trin") == {
        f"Trin {t.key}": ore(t.amount) for t in s.totals_by_tier
    }
    assert _section(ws, "Fordelt på hospital") == {
        t.key: ore(t.amount) for t in s.totals_by_hospital
    }
    assert sum(by_type.values()) == ore(s.total)


def test_workbook_properties_come_from_the_model() -> None:
    wb = _open(statement_xlsx(statement(small_lines())))
    assert wb.properties.created == ISSUED_AT.replace(tzinfo=None)
    assert wb.properties.modified == ISSUED_AT.replace(tzinfo=None)
    draft = _open(statement_xlsx(statement(small_lines(), issued=False)))
    assert _pairs(draft["Opsummering"])["Opgørelsesnummer"] == "Kladde"
    assert _pairs(draft["Opsummering"])["Status"] == "Udkast"
    assert draft.properties.created is not None and draft.properties.created.year == 1980


def test_region_summary_sheets() -> None:
    r = region_summary()
    wb = _open(region_summary_xlsx(r))
    assert wb.sheetnames == [
        "Oversigt",
        "Kommuner",
        "Behandling",
        "Trin",
        "Hospital",
        "Trappemodel",
    ]
    header, *rows, total = list(wb["Kommuner"].iter_rows(values_only=True))
    assert header[:3] == ("Kommunekode", "Kommune", "Opgørelsesnummer")
    assert len(rows) == 29
    for row, m in zip(rows, r.municipalities, strict=True):
        assert (row[0], row[1]) == (m.municipality_code, m.municipality_name)
        assert row[2] == f"2025-{m.number:04d}"
        assert (_ore(row[3]), _ore(row[4]), _ore(row[5])) == (
            ore(m.regular_total),
            ore(m.adjustment_total),
            ore(m.total),
        )
        assert (row[6], row[7]) == (m.line_count, m.hash)
    assert total[1] == "I alt"
    assert _ore(total[5]) == ore(r.total) == sum(_ore(row[5]) for row in rows)
    assert _ore(total[3]) + _ore(total[4]) == ore(r.total)
    assert "Høje-Taastrup" in [row[1] for row in rows]
    for sheet, totals in (
        ("Behandling", r.totals_by_type),
        ("Trin", r.totals_by_tier),
        ("Hospital", r.totals_by_hospital),
    ):
        _, *view, view_total = list(wb[sheet].iter_rows(values_only=True))
        assert len(view) == len(totals)
        assert [_ore(v[1]) for v in view] == [ore(t.amount) for t in totals]
        assert sum(_ore(v[1]) for v in view) == _ore(view_total[1]) == ore(r.total)
    staircase = _pairs(wb["Trappemodel"])
    assert staircase["År"] == 2025
    assert staircase["Forløb talt i året (udstedt)"] == 1498
    assert staircase["Næste forløbs trin"] == 1
    assert staircase["Forløb tilbage på nuværende trin"] == 2
    assert _ore(_pairs(wb["Oversigt"])["I alt (kr.)"]) == ore(r.total)
    assert Decimal(r.total) != 0


def test_issued_statement_carries_the_issue_chain() -> None:
    s = chained(statement(small_lines()))
    facts = _pairs(_open(statement_xlsx(s))["Opsummering"])
    assert facts[CHAIN_ISSUE_LABEL] == CHAIN_ISSUE
    assert facts[CHAIN_PREVIOUS_LABEL] == CHAIN_PREVIOUS
    draft = _pairs(_open(statement_xlsx(statement(small_lines(), issued=False)))["Opsummering"])
    assert CHAIN_ISSUE_LABEL not in draft and CHAIN_PREVIOUS_LABEL not in draft
