"""The quarterly monitoring (agreement §4.1) as CSV and XLSX, with Danish headings.

Pure functions of `MonitoringOut`: the same model gives the same bytes (the XLSX is
stamped with the time the figures were counted, not the clock; see
`service.report.workbook`). Both files hold the same table, one row per scope (the region
total first, when there is one, then each municipality by code) and one column per
figure, so finance can filter, pivot and chart it; the XLSX adds an overview sheet with
the first row's figures one per line and the definitions. The format decisions of the
statement CSV hold (`service.report.tabular`): UTF-8 with BOM, ";" and CRLF, decimal
comma, no thousands separator, empty cell where a figure has no value. Shares are
fractions 0-1 (in the XLSX shown as percentages), means have 2 decimals. No patient-level
row or CPR number exists in the model, so none can reach a file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Final

from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from service.monitoring.schemas import CountOut, FiguresOut, MonitoringOut
from service.report.files import slug
from service.report.labels import MONTHS, Cell, date_text, treatment_label
from service.report.workbook import new_workbook, workbook_bytes

REASON_LABELS: Final[dict[str, str]] = {
    "capacity": "kapacitet",
    "competence": "kompetencer",
    "home_unsuitable": "hjemmet uegnet",
    "patient_declined": "borgeren takker nej",
    "parenteral_nutrition_policy": "parenteral ernæring (kommunens politik)",
    "other": "anden årsag",
}
SETTING_LABELS: Final[dict[str, str]] = {"home": "eget hjem", "clinic": "kommunal klinik"}
DEVIATION_LABELS: Final[dict[str, str]] = {
    "outside_hours": "uden for kl. 07-23",
    "over_60_minutes": "over 60 minutter",
    "over_4_visits_per_day": "over 4 besøg pr. dag",
    "outside_course_dates": "uden for forløbets datoer",
}
SCOPE_HEADINGS: Final = ("Kommunekode", "Kommune")
REGION_LABEL: Final = "Region i alt"
SHARE_FORMAT: Final = "0.00%"
MEAN_FORMAT: Final = "0.00"
BOLD: Final = Font(bold=True)

DEFINITIONS: Final = (
    "Kvartalet: lokale datoer (Europe/Copenhagen), første til sidste dag.",
    "Henviste: henvisninger modtaget i kvartalet (også de automatisk afviste); "
    "visiteret, afvist, tilbagekaldt og afventer er deres status ved opgørelsen.",
    "Startede forløb: forløb med startdato i kvartalet; annullerede forløb og deres besøg "
    "tælles aldrig med.",
    "Afsluttede forløb: slutdato i kvartalet; længden tæller start- og slutdato med.",
    "Besøg: lokal dato i kvartalet. En indgift er et besøg, hvor dosis er givet.",
    "Indgifter pr. forløbsdag: indgifter delt med forløbsdage med mindst én indgift.",
    "Median og 90. percentil: nærmeste rang (værdien på plads ⌈p/100 × N⌉ i stigende orden).",
    "Andele er brøker 0-1 (vist som procent i regnearket).",
)

Getter = Callable[[FiguresOut], Cell | None]


# --- the columns -------------------------------------------------------------------------


def _count(counts: Sequence[CountOut], key: str) -> int:
    return next((c.count for c in counts if c.key == key), 0)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


Pick = Callable[[FiguresOut], Sequence[CountOut]]


def _counted(pick: Pick, key: str) -> Getter:
    return lambda f: _count(pick(f), key)


def _keys(rows: Sequence[FiguresOut], pick: Pick) -> list[str]:
    """Every key of a `{key, count}` list over all rows, in order of first appearance."""
    keys: dict[str, None] = {}
    for row in rows:
        keys.update((c.key, None) for c in pick(row))
    return list(keys)


def _types(rows: Sequence[FiguresOut]) -> list[str]:
    keys: dict[str, None] = {}
    for row in rows:
        keys.update((t.treatment_type, None) for t in row.by_treatment)
    return list(keys)


def _treatment(kind: str, attribute: str) -> Getter:
    def get(f: FiguresOut) -> int:
        found = next((t for t in f.by_treatment if t.treatment_type == kind), None)
        return 0 if found is None else int(getattr(found, attribute))

    return get


def _spread(
    rows: Sequence[FiguresOut], pick: Pick, heading: Callable[[str], str]
) -> list[tuple[str, Getter]]:
    """One column per key of a `{key, count}` list."""
    return [(heading(key), _counted(pick, key)) for key in _keys(rows, pick)]


def columns(rows: Sequence[FiguresOut]) -> list[tuple[str, Getter]]:
    """The figure columns (heading, value), in order; keys are taken from the rows."""
    cols: list[tuple[str, Getter]] = [
        ("Henviste", lambda f: f.referrals.referred),
        ("Visiterede", lambda f: f.referrals.accepted),
        ("Afviste", lambda f: f.referrals.rejected),
        ("Tilbagekaldte", lambda f: f.referrals.withdrawn),
        ("Afventer visitation", lambda f: f.referrals.pending),
    ]
    cols += _spread(
        rows,
        lambda f: f.referrals.rejected_by_reason,
        lambda k: f"Afvist: {REASON_LABELS.get(k, k)}",
    )
    for kind in _types(rows):
        label = treatment_label(kind)
        cols += [
            (f"Henviste {label}", _treatment(kind, "referred")),
            (f"Visiterede {label}", _treatment(kind, "accepted")),
            (f"Startede forløb {label}", _treatment(kind, "courses_started")),
            (f"Indgifter {label}", _treatment(kind, "administrations")),
        ]
    cols.append(("Startede forløb", lambda f: f.courses.started))
    cols += _spread(
        rows,
        lambda f: f.courses.started_by_setting,
        lambda k: f"Startede forløb: {SETTING_LABELS.get(k, k)}",
    )
    cols.append(("Andel startede forløb i eget hjem", lambda f: _decimal(f.courses.home_share)))
    cols += _spread(
        rows, lambda f: f.courses.planned_visits_per_day, lambda k: f"Planlagt {k} besøg pr. dag"
    )
    cols += [
        (
            "Planlagte besøg pr. dag, gennemsnit",
            lambda f: _decimal(f.courses.planned_visits_per_day_mean),
        ),
        ("Afsluttede forløb", lambda f: f.courses.completed),
    ]
    cols += _spread(rows, lambda f: f.courses.length_days, lambda k: f"Forløbslængde {k} dage")
    cols += [
        ("Forløbslængde, median (dage)", lambda f: f.courses.length_days_median),
        ("Besøg", lambda f: f.administrations.visits),
        ("Indgifter", lambda f: f.administrations.administrations),
    ]
    cols += _spread(
        rows,
        lambda f: f.administrations.by_setting,
        lambda k: f"Indgifter: {SETTING_LABELS.get(k, k)}",
    )
    cols += [
        ("Andel indgifter i eget hjem", lambda f: _decimal(f.administrations.home_share)),
        ("Forløbsdage med indgift", lambda f: f.administrations.course_days),
    ]
    cols += _spread(
        rows,
        lambda f: f.administrations.per_course_day,
        lambda k: f"Forløbsdage med {k} indgift(er)",
    )
    cols += [
        (
            "Indgifter pr. forløbsdag, gennemsnit",
            lambda f: _decimal(f.administrations.per_course_day_mean),
        ),
        ("Minutter pr. indgift, median", lambda f: f.administrations.minutes_median),
        ("Minutter pr. indgift, 90. percentil", lambda f: f.administrations.minutes_p90),
    ]
    cols += _spread(
        rows, lambda f: f.deviations, lambda k: f"Afvigelse: {DEVIATION_LABELS.get(k, k)}"
    )
    return cols


def _scoped(m: MonitoringOut) -> list[tuple[str, str, FiguresOut]]:
    rows = [("", REGION_LABEL, m.region)] if m.region is not None else []
    rows += [(x.municipality_code, x.municipality_name, x.figures) for x in m.municipalities]
    return rows


def table(m: MonitoringOut) -> tuple[list[str], list[list[Cell | None]]]:
    """The headings and the rows (typed cells) both files hold."""
    scoped = _scoped(m)
    cols = columns([figures for _, _, figures in scoped])
    headings = [*SCOPE_HEADINGS, *(heading for heading, _ in cols)]
    rows = [[code, name, *(get(figures) for _, get in cols)] for code, name, figures in scoped]
    return headings, rows


# --- CSV ----------------------------------------------------------------------------------


def _csv_text(cell: Cell | None) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Decimal):
        return str(cell).replace(".", ",")
    return str(cell)


def monitoring_csv(m: MonitoringOut) -> bytes:
    """The table as a semicolon-separated UTF-8 (BOM) file, the way Danish Excel opens it."""
    headings, rows = table(m)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(headings)
    for row in rows:
        writer.writerow([_csv_text(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")


# --- XLSX ---------------------------------------------------------------------------------


def _is_share(heading: str) -> bool:
    return heading.startswith("Andel")


def _append(ws: Worksheet, headings: Sequence[str], row: Sequence[Cell | None]) -> None:
    ws.append(list(row))
    for heading, cell in zip(headings, ws[ws.max_row], strict=False):
        if isinstance(cell.value, Decimal | float):
            cell.number_format = SHARE_FORMAT if _is_share(heading) else MEAN_FORMAT


def _day_text(day: date) -> str:
    return f"{day.day}. {MONTHS[day.month - 1]} {day.year}"


def _overview(
    ws: Worksheet, m: MonitoringOut, headings: list[str], first: list[Cell | None]
) -> None:
    ws.title = "Oversigt"
    ws.append(["Monitorering af IV-behandling i kommunalt regi (aftalens § 4.1)"])
    ws["A1"].font = BOLD
    ws.append([])
    scope = "Regionen og alle kommuner" if m.region is not None else first[1]
    for label, value in (
        ("Kvartal", m.quarter),
        ("Periode", f"{_day_text(m.first_day)} - {_day_text(m.last_day)}"),
        ("Omfang", scope),
        ("Opgjort", date_text(m.computed_at)),
    ):
        ws.append([label, value])
    ws.append([])
    ws.append(["Nøgletal", first[1]])
    for cell in ws[ws.max_row]:
        cell.font = BOLD
    for heading, value in zip(headings[2:], first[2:], strict=True):
        _append(ws, ("", heading), (heading, value))
    ws.append([])
    ws.append(["Definitioner"])
    ws.cell(ws.max_row, 1).font = BOLD
    for line in DEFINITIONS:
        ws.append([line])
    ws.column_dimensions["A"].width = 44
    ws.column_dimensions["B"].width = 28


def monitoring_xlsx(m: MonitoringOut) -> bytes:
    """A workbook: "Oversigt" (the first row's figures, one per line, and the definitions)
    and "Nøgletal" (the table of the CSV, one row per scope)."""
    headings, rows = table(m)
    wb = new_workbook(f"Monitorering {m.quarter}", m.computed_at)
    overview = wb.active
    assert overview is not None  # a new workbook always has its first sheet
    if rows:
        _overview(overview, m, headings, rows[0])
    ws = wb.create_sheet("Nøgletal")
    ws.append(headings)
    for cell in ws[1]:
        cell.font = BOLD
    for row in rows:
        _append(ws, headings, row)
    ws.freeze_panes = "C2"
    for index, heading in enumerate(headings, start=1):
        ws.column_dimensions[get_column_letter(index)].width = max(10, min(len(heading) + 2, 40))
    return workbook_bytes(wb, m.computed_at)


# --- file names ---------------------------------------------------------------------------


def monitoring_filename(m: MonitoringOut, fmt: str) -> str:
    """E.g. "monitorering-2024Q1-region.xlsx" or "monitorering-2024Q1-157-Gentofte.csv"."""
    if m.region is not None or len(m.municipalities) != 1:
        return f"monitorering-{m.quarter}-region.{fmt}"
    one = m.municipalities[0]
    return f"monitorering-{m.quarter}-{one.municipality_code}-{slug(one.municipality_name)}.{fmt}"
