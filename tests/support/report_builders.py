"""Hand-built statements and region summaries for the renderer tests (no database)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from service.settlement.schemas import (
    InputsOut,
    LineOut,
    MunicipalityTotalOut,
    PayerOut,
    RegionSummaryOut,
    StaircaseOut,
    StatementOut,
    TotalOut,
)

Kind = Literal["course_fee", "day_fee"]
PAYER = PayerOut(name="Region Hovedstaden", cvr="29190623", gln="5798000000000")
ISSUED_AT = datetime(2025, 2, 3, 9, 30, tzinfo=UTC)
HASH = "3f" * 32
TYPES = ("antibiotics", "fluids", "pump")
HOSPITALS = ("RH", "BFH", "HGH", "AHH", "NOH")
COURSE_FEES = {"antibiotics": 691500, "fluids": 134300, "pump": 204900}
DAY_FEES = {"antibiotics": 148500, "fluids": 34100, "pump": 34100}


def kr(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    whole, rest = divmod(abs(ore), 100)
    return f"{sign}{whole}.{rest:02d}"


def ore(amount: str) -> int:
    whole, _, cents = amount.lstrip("-").partition(".")
    value = int(whole) * 100 + int(cents)
    return -value if amount.startswith("-") else value


def line(
    n: int,
    *,
    kind: Kind = "course_fee",
    quantity: int = 1,
    unit_ore: int = 691500,
    treatment_type: str = "antibiotics",
    hospital_code: str = "RH",
    period: str = "2025-01",
    tier: int = 1,
    adjustment: bool = False,
    reason: str | None = None,
) -> LineOut:
    return LineOut(
        course_id=uuid.UUID(int=n),
        kind=kind,
        period=period,
        quantity=quantity,
        unit_price=kr(unit_ore),
        amount=kr(quantity * unit_ore),
        tier=tier,
        position=n,
        treatment_type=treatment_type,
        hospital_code=hospital_code,
        tariff_version_id=1,
        adjustment=adjustment,
        reason=reason,
    )


def _totals(lines: Iterable[LineOut], key: str) -> list[TotalOut]:
    sums: dict[str, int] = defaultdict(int)
    for item in lines:
        sums[str(getattr(item, key))] += ore(item.amount)
    return [TotalOut(key=k, amount=kr(v)) for k, v in sorted(sums.items())]


def statement(
    lines: list[LineOut],
    *,
    issued: bool = True,
    code: str = "169",
    name: str = "Høje-Taastrup Kommune",
    number: int = 7,
) -> StatementOut:
    total = sum(ore(item.amount) for item in lines)
    adjustments = sum(ore(item.amount) for item in lines if item.adjustment)
    return StatementOut(
        number=number if issued else None,
        number_year=2025 if issued else None,
        period="2025-01",
        municipality_code=code,
        municipality_name=name,
        state="issued" if issued else "draft",
        issued_at=ISSUED_AT if issued else None,
        payer=PAYER,
        total=kr(total),
        regular_total=kr(total - adjustments),
        adjustment_total=kr(adjustments),
        totals_by_type=_totals(lines, "treatment_type"),
        totals_by_tier=_totals(lines, "tier"),
        totals_by_hospital=_totals(lines, "hospital_code"),
        lines=lines,
        inputs=InputsOut(
            issued_by="Regionens økonomi" if issued else None,
            tariff_versions={"1": "ab" * 32},
            price_indices={},
        ),
        hash=HASH if issued else None,
    )


def small_lines() -> list[LineOut]:
    """A regular course fee, a regular day fee and a negative adjustment (a cancellation)."""
    return [
        line(1),
        line(1, kind="day_fee", quantity=2, unit_ore=148500),
        line(
            2,
            kind="day_fee",
            quantity=-2,
            unit_ore=148500,
            period="2024-12",
            treatment_type="fluids",
            hospital_code="BFH",
            tier=2,
            adjustment=True,
            reason="cancellation",
        ),
        line(
            3,
            kind="day_fee",
            quantity=-6,
            unit_ore=49500,
            period="2024-11",
            treatment_type="pump",
            hospital_code="HGH",
            adjustment=True,
            reason="correction",
        ),
    ]


def many_lines(count: int = 500) -> list[LineOut]:
    """`count` lines of every type, tier and hospital, with every 10th an adjustment."""
    out: list[LineOut] = []
    reasons = ("late_registration", "correction", "cancellation", "tariff_change", "index_change")
    for n in range(count):
        kind: Kind = "course_fee" if n % 2 == 0 else "day_fee"
        treatment = TYPES[n % 3]
        adjustment = n % 10 == 9
        quantity = 1 if kind == "course_fee" else 1 + n % 5
        out.append(
            line(
                n + 1,
                kind=kind,
                quantity=-quantity if adjustment and n % 20 == 19 else quantity,
                unit_ore=(COURSE_FEES if kind == "course_fee" else DAY_FEES)[treatment] + n % 7,
                treatment_type=treatment,
                hospital_code=HOSPITALS[n % 5],
                period="2024-12" if adjustment else "2025-01",
                tier=1 + n % 3,
                adjustment=adjustment,
                reason=reasons[(n // 10) % 5] if adjustment else None,
            )
        )
    return out


MUNICIPALITIES = (
    ("101", "København"), ("147", "Frederiksberg"), ("151", "Ballerup"), ("153", "Brøndby"),
    ("155", "Dragør"), ("157", "Gentofte"), ("159", "Gladsaxe"), ("161", "Glostrup"),
    ("163", "Herlev"), ("165", "Albertslund"), ("167", "Hvidovre"), ("169", "Høje-Taastrup"),
    ("173", "Lyngby-Taarbæk"), ("175", "Rødovre"), ("183", "Ishøj"), ("185", "Tårnby"),
    ("187", "Vallensbæk"), ("190", "Furesø"), ("201", "Allerød"), ("210", "Fredensborg"),
    ("217", "Helsingør"), ("219", "Hillerød"), ("223", "Hørsholm"), ("230", "Rudersdal"),
    ("240", "Egedal"), ("250", "Frederikssund"), ("260", "Halsnæs"), ("270", "Gribskov"),
    ("400", "Bornholm"),
)  # fmt: skip


def region_summary(*, issued: bool = True) -> RegionSummaryOut:
    statements = [
        statement(
            [line(i * 10 + 1, treatment_type=TYPES[i % 3], hospital_code=HOSPITALS[i % 5])]
            + small_lines()[2:] * (i % 2),
            issued=issued,
            code=code,
            name=name,
            number=i + 1,
        )
        for i, (code, name) in enumerate(MUNICIPALITIES)
    ]
    all_lines = [item for s in statements for item in s.lines]
    return RegionSummaryOut(
        period="2025-01",
        state="issued" if issued else "draft",
        issued_at=ISSUED_AT if issued else None,
        payer=PAYER,
        total=kr(sum(ore(s.total) for s in statements)),
        municipalities=[
            MunicipalityTotalOut(
                municipality_code=s.municipality_code,
                municipality_name=s.municipality_name,
                number=s.number,
                total=s.total,
                regular_total=s.regular_total,
                adjustment_total=s.adjustment_total,
                line_count=len(s.lines),
                hash=s.hash,
            )
            for s in statements
        ],
        totals_by_type=_totals(all_lines, "treatment_type"),
        totals_by_tier=_totals(all_lines, "tier"),
        totals_by_hospital=_totals(all_lines, "hospital_code"),
        staircase=StaircaseOut(
            year=2025, counted=1498, current_tier=1, until_next_tier=2, tier_thresholds=[1500, 3000]
        ),
        registered_not_settled=3,
    )
