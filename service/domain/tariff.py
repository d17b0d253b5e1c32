"""The tariff of the agreement (§3.2, table 1) as data: versions, tiers, rates, price level.

A tariff version is loaded from an agreement file (`contracts/tariffs/*.json`), whose one
set of rules is `tariff_from_document` (the API's schema runs it too); nothing here knows
a rate. Versions form a timeline: each is valid from its `valid_from` until the next
version's `valid_from`, and a course is priced by the version valid on its start date.

Exceptions raised here:

    DomainError                 base of the errors a use case reports with a stable `code`
      OutsideAgreement          "before_agreement": a course starts before the first version
      MissingPriceIndex         "missing_price_index": an indexed price needs a year not loaded
    TariffDocumentError         a ValueError: an agreement file is malformed; lists every problem
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from types import MappingProxyType
from typing import Any, ClassVar, TypeGuard

from service.domain.money import InvalidAmount, parse_kr, round_half_up
from service.domain.vocabulary import TREATMENT_TYPES

TIER_COUNT = 3
"""§3.2: the staircase has three successive tiers."""

IndexValue = Fraction | Decimal | int
PriceIndex = Mapping[int, IndexValue]
"""Finance's price-index table: year → index (any positive scale, e.g. 2020 = 100)."""


class DomainError(Exception):
    """An error of the agreement's rules; `code` is stable and safe to show to a client."""

    code: ClassVar[str] = "domain_error"


class OutsideAgreement(DomainError):
    """A course that starts before the first tariff version is outside the agreement."""

    code: ClassVar[str] = "before_agreement"

    def __init__(self, start: date, first_valid_from: date | None) -> None:
        self.start = start
        self.first_valid_from = first_valid_from
        if first_valid_from is None:
            message = f"no tariff version is loaded: {start.isoformat()} is outside the agreement"
        else:
            message = (
                f"{start.isoformat()} is before the agreement's first tariff version "
                f"(valid from {first_valid_from.isoformat()})"
            )
        super().__init__(message)


class MissingPriceIndex(DomainError):
    """An indexed unit price needs the price index of a year that is not loaded."""

    code: ClassVar[str] = "missing_price_index"

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(f"the price index for {year} is missing; finance must load it first")


class TariffDocumentError(ValueError):
    """An agreement file that does not describe a valid tariff version; lists every problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid tariff document: " + "; ".join(self.problems))


@dataclass(frozen=True)
class TierRates:
    """One tier's rates of one treatment type, in øre."""

    course_fee: int
    """Forløbstakst: once per course, covering its first included days."""
    day_fee: int
    """Dagstakst: each day after the included days."""


@dataclass(frozen=True)
class TreatmentTariff:
    """One treatment type's rates: the days the course fee covers and the three tiers."""

    included_days: int
    tiers: tuple[TierRates, TierRates, TierRates]

    def rates(self, tier: int) -> TierRates:
        """The rates of `tier` (1, 2 or 3)."""
        if not 1 <= tier <= TIER_COUNT:
            raise ValueError(f"tier must be 1..{TIER_COUNT}, not {tier}")
        return self.tiers[tier - 1]


@dataclass(frozen=True)
class Payer:
    """The paying region, as it must appear on a statement."""

    name: str
    cvr: str
    """The CVR number (Danish business register), 8 digits."""
    gln: str
    """The GLN (EAN location number), 13 digits: where an e-invoice is addressed."""


@dataclass(frozen=True)
class TariffVersion:
    """One version of the agreement's tariff, valid from `valid_from` until the next one."""

    id: int
    valid_from: date
    price_level_year: int
    indexed: bool
    payer: Payer
    tier_thresholds: tuple[int, int]
    treatments: Mapping[str, TreatmentTariff] = field(hash=False)
    name: str = ""

    def __post_init__(self) -> None:
        # A read-only copy: a frozen version must not change through the caller's dict.
        object.__setattr__(self, "treatments", MappingProxyType(dict(self.treatments)))

    def treatment(self, treatment_type: str) -> TreatmentTariff:
        """The tariff of one treatment type."""
        try:
            return self.treatments[treatment_type]
        except KeyError:
            raise ValueError(f"tariff version {self.id} has no {treatment_type!r} rates") from None

    def rates(self, treatment_type: str, tier: int) -> TierRates:
        """The rates of one treatment type at one tier."""
        return self.treatment(treatment_type).rates(tier)


# --- the timeline ----------------------------------------------------------------------


def version_for(versions: Sequence[TariffVersion], start: date) -> TariffVersion:
    """§3.2 and §5.2: a course is priced by the version valid on its start date.

    Each version is valid from its `valid_from` until the next one's; a start before the
    first version is outside the agreement (`OutsideAgreement`, code "before_agreement").
    Two versions with the same `valid_from` are a data error, not something to choose between.
    """
    ordered = sorted(versions, key=lambda version: version.valid_from)
    for earlier, later in pairwise(ordered):
        if earlier.valid_from == later.valid_from:
            raise ValueError(
                f"tariff versions {earlier.id} and {later.id} are both valid from "
                f"{earlier.valid_from.isoformat()}"
            )
    valid = [version for version in ordered if version.valid_from <= start]
    if not valid:
        raise OutsideAgreement(start, ordered[0].valid_from if ordered else None)
    return valid[-1]


def payer_on(versions: Sequence[TariffVersion], day: date) -> Payer:
    """DESIGN "The agreement's timeline": a statement names the payer of the version valid
    on the first day of its period (so January 2027 names Region Østdanmark)."""
    return version_for(versions, day).payer


# --- the staircase tiers ---------------------------------------------------------------


def tier_for_position(thresholds: tuple[int, int], position: int) -> int:
    """§3.2: courses 1-1,500 of a year are tier 1, 1,501-3,000 tier 2, 3,001 on tier 3.

    `position` is 1-based; `thresholds` are the last positions of tiers 1 and 2.
    """
    if position < 1:
        raise ValueError(f"a staircase position is 1 or more, not {position}")
    first, second = thresholds
    if position <= first:
        return 1
    if position <= second:
        return 2
    return 3


# --- price level -----------------------------------------------------------------------


def _index(index_by_year: PriceIndex, year: int) -> Fraction:
    try:
        value = Fraction(index_by_year[year])
    except KeyError:
        raise MissingPriceIndex(year) from None
    if value <= 0:
        raise ValueError(f"the price index for {year} must be positive, not {value}")
    return value


def unit_price(
    base_ore: int,
    *,
    indexed: bool,
    price_level_year: int,
    line_year: int,
    index_by_year: PriceIndex,
) -> int:
    """§3.2 ("i kr. 2020-niveau"): an indexed rate is base * index(line year) / index(price
    level year), computed exactly and rounded half-up to whole øre once.

    Not indexed → the base rate. A line in the price-level year itself costs the base rate
    (the ratio is 1 whatever the index). A missing index raises `MissingPriceIndex(year)`.
    """
    if not indexed or line_year == price_level_year:
        return base_ore
    ratio = _index(index_by_year, line_year) / _index(index_by_year, price_level_year)
    return round_half_up(base_ore * ratio)


# --- agreement files -------------------------------------------------------------------
# The one set of rules of an agreement file. `tariff_from_document` applies them all; the
# API's schema (service/tariff/schemas.py) declares the same bounds, so that the contract
# shows them and a refused field is named by its path, and then runs this parser.

MAX_NAME_LENGTH = 200
FIRST_PRICE_LEVEL_YEAR, LAST_PRICE_LEVEL_YEAR = 2000, 2100
MAX_INCLUDED_DAYS = 365
MAX_THRESHOLD = 1_000_000
"""Courses per year and region; stored as 32-bit integers (a larger one was a 500)."""
# [0-9], not \d: in Python and in Pydantic's regex engine \d takes any Unicode digit.
CVR_PATTERN = r"^[0-9]{8}$"
GLN_PATTERN = r"^[0-9]{13}$"
AMOUNT_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,2})?$"
"""A rate in kr.: whole kroner, at most two decimals (øre), no sign, no exponent."""

_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DOCUMENT_FIELDS = (
    "name",
    "valid_from",
    "price_level_year",
    "indexed",
    "payer",
    "tier_thresholds",
    "treatments",
    "sources",
)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: object, pattern: str) -> TypeGuard[str]:
    # fullmatch: `$` alone would let a trailing newline through.
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def _is_name(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 1 <= len(value) <= MAX_NAME_LENGTH


def _object(
    raw: object, where: str, fields: Sequence[str], problems: list[str]
) -> TypeGuard[Mapping[Any, Any]]:
    """Whether `raw` is an object; an object with fields other than `fields` is a problem."""
    if not isinstance(raw, Mapping):
        problems.append(f"{where} must be an object with {', '.join(fields)}")
        return False
    unknown = sorted(str(key) for key in raw if key not in fields)
    if unknown:
        problems.append(f"{where} has unknown fields {', '.join(unknown)}")
    return True


def _parse_rate(value: object, where: str, problems: list[str]) -> int:
    if not isinstance(value, str):
        problems.append(f'{where} must be a decimal string in kr. (e.g. "6915.00")')
        return 0
    try:
        ore = parse_kr(value)
    except InvalidAmount as exc:
        problems.append(f"{where}: {exc}")
        return 0
    if ore < 0:
        problems.append(f"{where} must not be negative")
    elif not _is_text(value, AMOUNT_PATTERN):
        problems.append(f'{where} must be digits in kr. with at most two decimals ("6915.00")')
    return ore


def _parse_tiers(raw: object, where: str, problems: list[str]) -> list[TierRates]:
    if not isinstance(raw, list) or len(raw) != TIER_COUNT:
        problems.append(f"{where}.tiers must be a list of exactly {TIER_COUNT} tiers")
        return []
    tiers = []
    for number, tier in enumerate(raw, start=1):
        here = f"{where}.tiers[{number}]"
        if _object(tier, here, ("course_fee", "day_fee"), problems):
            course_fee = _parse_rate(tier.get("course_fee"), f"{here}.course_fee", problems)
            day_fee = _parse_rate(tier.get("day_fee"), f"{here}.day_fee", problems)
            tiers.append(TierRates(course_fee=course_fee, day_fee=day_fee))
    return tiers


def _parse_treatment(raw: object, where: str, problems: list[str]) -> TreatmentTariff | None:
    if not _object(raw, where, ("included_days", "tiers"), problems):
        return None
    included_days = raw.get("included_days")
    if not _is_int(included_days) or not 1 <= included_days <= MAX_INCLUDED_DAYS:
        problems.append(
            f"{where}.included_days must be a whole number of days, 1 to {MAX_INCLUDED_DAYS}"
        )
        included_days = 1
    tiers = _parse_tiers(raw.get("tiers"), where, problems)
    if len(tiers) != TIER_COUNT:
        return None
    return TreatmentTariff(included_days=included_days, tiers=(tiers[0], tiers[1], tiers[2]))


def _parse_treatments(raw: object, problems: list[str]) -> dict[str, TreatmentTariff]:
    if not isinstance(raw, Mapping):
        problems.append("treatments must be an object keyed by treatment type")
        return {}
    missing = [name for name in TREATMENT_TYPES if name not in raw]
    unknown = sorted(str(name) for name in raw if name not in TREATMENT_TYPES)
    if missing:
        problems.append(f"treatments lacks {', '.join(missing)}")
    if unknown:
        problems.append(
            f"treatments has unknown types {', '.join(unknown)} "
            f"(exactly {', '.join(TREATMENT_TYPES)})"
        )
    treatments: dict[str, TreatmentTariff] = {}
    for name in TREATMENT_TYPES:
        if name in raw:
            parsed = _parse_treatment(raw[name], f"treatments.{name}", problems)
            if parsed is not None:
                treatments[name] = parsed
    return treatments


def _parse_thresholds(raw: object, problems: list[str]) -> tuple[int, int]:
    if (
        isinstance(raw, list)
        and len(raw) == TIER_COUNT - 1
        and all(_is_int(value) and value <= MAX_THRESHOLD for value in raw)
        and 0 < raw[0] < raw[1]
    ):
        return (raw[0], raw[1])
    problems.append(
        f"tier_thresholds must be two strictly increasing whole numbers from 1 to "
        f"{MAX_THRESHOLD} (the last positions of tiers 1 and 2, e.g. [1500, 3000])"
    )
    return (1, 2)


def _parse_payer(raw: object, problems: list[str]) -> Payer:
    if not _object(raw, "payer", ("name", "cvr", "gln"), problems):
        return Payer("", "", "")
    name, cvr, gln = raw.get("name"), raw.get("cvr"), raw.get("gln")
    if not _is_name(name):
        problems.append(f"payer.name must be a string of 1 to {MAX_NAME_LENGTH} characters")
    if not _is_text(cvr, CVR_PATTERN):
        problems.append("payer.cvr must be a string of 8 digits")
    if not _is_text(gln, GLN_PATTERN):
        problems.append("payer.gln must be a string of 13 digits (EAN/GLN)")
    return Payer(str(name), str(cvr), str(gln))


def _parse_valid_from(raw: object, problems: list[str]) -> date:
    if _is_text(raw, _DATE_PATTERN):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    problems.append("valid_from must be a date as YYYY-MM-DD")
    return date.min


def _check_sources(raw: object, problems: list[str]) -> None:
    """`sources` is documentation only: where each value comes from, free text per field."""
    if raw is not None and not (
        isinstance(raw, Mapping)
        and all(isinstance(key, str) and isinstance(text, str) for key, text in raw.items())
    ):
        problems.append("sources must be an object of texts (field → where it comes from)")


def tariff_from_document(id: int, doc: Mapping[str, Any]) -> TariffVersion:
    """Read an agreement file (§3.2, table 1, as data) into a `TariffVersion`.

    Amounts are decimal strings in kr. and become øre. Every problem is collected and
    reported at once in a `TariffDocumentError`: exactly the three treatment types, exactly
    three tiers each, strictly increasing thresholds of at most `MAX_THRESHOLD`, included
    days 1 to 365, non-negative rates of at most two decimals, a price level year 2000 to
    2100, a payer with CVR (8 digits) and GLN (13 digits), and no unknown fields.
    """
    problems: list[str] = []
    if not _object(doc, "the document", _DOCUMENT_FIELDS, problems):
        raise TariffDocumentError(problems)
    name = doc.get("name")
    if not _is_name(name):
        problems.append(f"name must be a string of 1 to {MAX_NAME_LENGTH} characters")
    valid_from = _parse_valid_from(doc.get("valid_from"), problems)
    price_level_year = doc.get("price_level_year")
    if not _is_int(price_level_year) or not (
        FIRST_PRICE_LEVEL_YEAR <= price_level_year <= LAST_PRICE_LEVEL_YEAR
    ):
        problems.append(
            f"price_level_year must be a year such as 2020 "
            f"({FIRST_PRICE_LEVEL_YEAR} to {LAST_PRICE_LEVEL_YEAR})"
        )
        price_level_year = 0
    indexed = doc.get("indexed")
    if not isinstance(indexed, bool):
        problems.append("indexed must be true or false")
        indexed = False
    payer = _parse_payer(doc.get("payer"), problems)
    thresholds = _parse_thresholds(doc.get("tier_thresholds"), problems)
    treatments = _parse_treatments(doc.get("treatments"), problems)
    _check_sources(doc.get("sources"), problems)
    if problems:
        raise TariffDocumentError(problems)
    return TariffVersion(
        id=id,
        valid_from=valid_from,
        price_level_year=price_level_year,
        indexed=indexed,
        payer=payer,
        tier_thresholds=thresholds,
        treatments=treatments,
        name=str(name),
    )
