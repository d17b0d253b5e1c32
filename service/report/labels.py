"""Danish labels and number/date formatting shared by the report renderers.

Everything here is a pure function of its arguments: no clock, no database, no locale
(Python's `locale` is process-global and differs between machines, so Danish formatting
is done by hand). Amounts arrive as the API's decimal strings in kr. ("6915.00") and are
turned into integer øre with `service.domain.money.parse_kr` before any formatting, so no
float ever touches money.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from service.domain.money import ORE_PER_KRONE, parse_kr
from service.report.views import LineView, StatementView

COPENHAGEN: Final = ZoneInfo("Europe/Copenhagen")

#: The document date of a draft (which has no issue time): a fixed instant, so a draft's
#: files are as reproducible as an issued statement's. 1980-01-01 is the earliest time a
#: zip entry can carry.
DRAFT_EPOCH: Final = datetime(1980, 1, 1, tzinfo=UTC)

# Danish names of the words of `service.domain.vocabulary`; a word without one prints as is.
TREATMENT_LABELS: Final[dict[str, str]] = {
    "antibiotics": "IV-antibiotika",
    "fluids": "IV-væske",
    "pump": "IV-pumpe",
}
KIND_LABELS: Final[dict[str, str]] = {
    "course_fee": "Forløbstakst",
    "day_fee": "Dagstakst",
}
REASON_LABELS: Final[dict[str, str]] = {
    "late_registration": "Efterregistrering",
    "correction": "Rettelse",
    "cancellation": "Annullering",
    "tariff_change": "Taksændring",
    "index_change": "Indeksændring",
}
STATE_LABELS: Final[dict[str, str]] = {"draft": "Udkast", "issued": "Udstedt"}
SETTING_LABELS: Final[dict[str, str]] = {"home": "Hjemme", "clinic": "Klinik"}
COURSE_STATUS_LABELS: Final[dict[str, str]] = {
    "active": "Aktivt",
    "completed": "Afsluttet",
    "cancelled": "Annulleret",
}
END_REASON_LABELS: Final[dict[str, str]] = {
    "completed": "Behandlingen er gennemført",
    "readmitted": "Genindlagt",
    "switched_to_oral": "Skiftet til tabletter",
    "deceased": "Død",
    "other": "Andet",
}
DEVIATION_LABELS: Final[dict[str, str]] = {
    "outside_hours": "Uden for tidsrummet",
    "over_60_minutes": "Over 60 minutter",
    "over_4_visits_per_day": "Over 4 besøg samme dag",
    "outside_course_dates": "Uden for forløbets datoer",
}
OBJECTION_REASON_LABELS: Final[dict[str, str]] = {
    "not_our_patient": "Ikke kommunens borger",
    "dates_wrong": "Forkerte datoer",
    "not_treated": "Ingen behandling givet",
    "duplicate": "Faktureret to gange",
    "wrong_treatment_type": "Forkert behandlingstype",
    "other": "Andet",
}
OBJECTION_STATUS_LABELS: Final[dict[str, str]] = {
    "open": "Åben",
    "accepted": "Imødekommet",
    "rejected": "Afvist",
}
MONTHS: Final = (
    "januar",
    "februar",
    "marts",
    "april",
    "maj",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "december",
)

#: The columns of a statement's line table, in order (CSV and the XLSX sheet "Linjer").
LINE_HEADINGS: Final = (
    "Forløb",
    "Periode",
    "Ydelse",
    "Antal",
    "Enhedspris (kr.)",
    "Beløb (kr.)",
    "Trin",
    "Position",
    "Behandling",
    "Hospital",
    "Takstversion",
    "Efterregulering",
    "Årsag",
    # What finance traces a line by; added after the columns above so that a reader of
    # the earlier files finds every column where it was. Empty in lines issued before.
    "Forløbsnummer",
    "Forløbsstart",
    "Forløbsslut",
    "Hospitalets navn",
    "Hospitalets reference",
    "Afdeling",
    "Kommunens reference",
)

Cell = str | int | Decimal

#: The issue chain as a statement's files print it (`ivsettle verify --expect-head`).
CHAIN_ISSUE_LABEL: Final = "Kædehash (denne udstedelse)"
CHAIN_PREVIOUS_LABEL: Final = "Kædehash (forrige udstedelse)"


def treatment_label(key: str) -> str:
    """The Danish name of a treatment type; an unknown type (the tariff is data) as is."""
    return TREATMENT_LABELS.get(key, key)


def reason_label(reason: str | None) -> str:
    """The Danish name of an adjustment reason; "" for a regular line."""
    return "" if reason is None else REASON_LABELS.get(reason, reason)


def tier_label(key: str) -> str:
    """ "1" → "Trin 1"."""
    return f"Trin {key}"


def yes_no(flag: bool) -> str:
    """A flag in Danish."""
    return "ja" if flag else "nej"


def ore(amount: str) -> int:
    """An API amount in kr. ("-2970.00") as integer øre (-297000)."""
    return parse_kr(amount)


def kr_decimal(amount: str) -> Decimal:
    """An API amount as an exact `Decimal` in kr. with two decimals."""
    return Decimal(ore(amount)).scaleb(-2).quantize(Decimal("0.01"))


def kr_text(amount: str) -> str:
    """Amount as Danish prose prints it: "6.915,00 kr.", "-2.970,00 kr."."""
    value = ore(amount)
    whole, rest = divmod(abs(value), ORE_PER_KRONE)
    grouped = f"{whole:,}".replace(",", ".")
    return f"{'-' if value < 0 else ''}{grouped},{rest:02d} kr."


def period_label(period: str) -> str:
    """ "2025-01" → "januar 2025"."""
    year, month = period.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def document_time(issued_at: datetime | None) -> datetime:
    """The instant a file is stamped with: the issue time, or the fixed draft epoch.

    Always aware and in UTC (a naive value is taken to be UTC, as the service stores it).
    """
    if issued_at is None:
        return DRAFT_EPOCH
    if issued_at.tzinfo is None:
        return issued_at.replace(tzinfo=UTC)
    return issued_at.astimezone(UTC)


def local_date(issued_at: datetime) -> date:
    """The Copenhagen calendar date of an instant (an issue at 00:30 is that day's)."""
    return document_time(issued_at).astimezone(COPENHAGEN).date()


def date_text(issued_at: datetime | None) -> str:
    """The issue time in Copenhagen local time, Danish style ("05.02.2025 kl. 10:30")."""
    if issued_at is None:
        return "Ikke udstedt"
    local = document_time(issued_at).astimezone(COPENHAGEN)
    return local.strftime("%d.%m.%Y kl. %H:%M")


def statement_number(s: StatementView) -> str:
    """ "2025-0001" for an issued statement, "Kladde" for a draft."""
    if s.number is None or s.number_year is None:
        return "Kladde"
    return f"{s.number_year}-{s.number:04d}"


def chain_rows(s: StatementView) -> tuple[tuple[str, str], ...]:
    """The issue chain's head as a file prints it: (label, hex hash) for the issue's own
    chain hash and the one it extends; nothing for a draft or an unchained issue."""
    if s.chain is None:
        return ()
    return ((CHAIN_ISSUE_LABEL, s.chain.issue), (CHAIN_PREVIOUS_LABEL, s.chain.previous))


def course_label(line: LineView) -> str:
    """How a line names its course: its number (the id in lines issued before numbers)."""
    return line.course_number or str(line.course_id)


def line_cells(line: LineView) -> tuple[Cell, ...]:
    """One line as typed cells in the order of `LINE_HEADINGS` (amounts as `Decimal`)."""
    return (
        str(line.course_id),
        line.period,
        KIND_LABELS.get(line.kind, line.kind),
        line.quantity,
        kr_decimal(line.unit_price),
        kr_decimal(line.amount),
        line.tier,
        line.position,
        treatment_label(line.treatment_type),
        line.hospital_code,
        line.tariff_version_id,
        yes_no(line.adjustment),
        reason_label(line.reason),
        line.course_number or "",
        line.course_start.isoformat() if line.course_start is not None else "",
        line.course_end.isoformat() if line.course_end is not None else "",
        line.hospital_name or "",
        line.external_ref or "",
        line.department or "",
        line.municipality_ref or "",
    )
