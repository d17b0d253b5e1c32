"""The tariff as data: agreement files, the timeline, tiers by position, price level."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.tariff import (
    DomainError,
    MissingPriceIndex,
    OutsideAgreement,
    Payer,
    TariffDocumentError,
    TariffVersion,
    TierRates,
    payer_on,
    tariff_from_document,
    tier_for_position,
    unit_price,
    version_for,
)

TARIFF_2021: dict[str, Any] = {
    "name": "Aftale om IV-behandling i kommunalt regi 2021",
    "valid_from": "2021-10-04",
    "price_level_year": 2020,
    "indexed": False,
    "payer": {"name": "Region Hovedstaden", "cvr": "29190623", "gln": "5798000000001"},
    "tier_thresholds": [1500, 3000],
    "treatments": {
        "antibiotics": {
            "included_days": 6,
            "tiers": [
                {"course_fee": "6915.00", "day_fee": "1485.00"},
                {"course_fee": "6411.00", "day_fee": "1366.00"},
                {"course_fee": "6159.00", "day_fee": "1306.00"},
            ],
        },
        "fluids": {
            "included_days": 3,
            "tiers": [
                {"course_fee": "1343.00", "day_fee": "341.00"},
                {"course_fee": "1274.00", "day_fee": "309.00"},
                {"course_fee": "1240.00", "day_fee": "292.00"},
            ],
        },
        "pump": {
            "included_days": 6,
            "tiers": [
                {"course_fee": "2049.00", "day_fee": "341.00"},
                {"course_fee": "1912.00", "day_fee": "309.00"},
                {"course_fee": "1843.00", "day_fee": "292.00"},
            ],
        },
    },
}


def document(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(TARIFF_2021)
    doc.update(changes)
    return doc


def version(id: int, valid_from: str, payer: str = "Region Hovedstaden") -> TariffVersion:
    doc = document(valid_from=valid_from)
    doc["payer"]["name"] = payer
    return tariff_from_document(id, doc)


# --- agreement files -------------------------------------------------------------------


def test_the_2021_agreement_file_gives_table_1_in_ore() -> None:
    tariff = tariff_from_document(1, TARIFF_2021)

    assert tariff.id == 1
    assert tariff.valid_from == date(2021, 10, 4)
    assert tariff.price_level_year == 2020
    assert tariff.indexed is False
    assert tariff.payer == Payer("Region Hovedstaden", "29190623", "5798000000001")
    assert tariff.tier_thresholds == (1500, 3000)
    assert [tariff.treatment(t).included_days for t in ("antibiotics", "fluids", "pump")] == [
        6,
        3,
        6,
    ]
    assert tariff.rates("antibiotics", 1) == TierRates(course_fee=691500, day_fee=148500)
    assert tariff.rates("fluids", 2) == TierRates(course_fee=127400, day_fee=30900)
    assert tariff.rates("pump", 3) == TierRates(course_fee=184300, day_fee=29200)


def test_a_version_does_not_change_through_the_callers_dict() -> None:
    tariff = tariff_from_document(1, TARIFF_2021)
    with pytest.raises(TypeError):
        tariff.treatments["pump"] = tariff.treatments["fluids"]  # type: ignore[index]


def _without_pump() -> dict[str, Any]:
    doc = document()
    del doc["treatments"]["pump"]
    return doc


def _with_two_tiers() -> dict[str, Any]:
    doc = document()
    doc["treatments"]["fluids"]["tiers"].pop()
    return doc


def _with_rate(value: object) -> dict[str, Any]:
    doc = document()
    doc["treatments"]["antibiotics"]["tiers"][1]["day_fee"] = value
    return doc


def _with_included_days(value: object) -> dict[str, Any]:
    doc = document()
    doc["treatments"]["pump"]["included_days"] = value
    return doc


def _with_extra_type() -> dict[str, Any]:
    doc = document()
    doc["treatments"]["parenteral_nutrition"] = doc["treatments"]["fluids"]
    return doc


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (_without_pump(), "treatments lacks pump"),
        (_with_extra_type(), "unknown types parenteral_nutrition"),
        (_with_two_tiers(), "treatments.fluids.tiers must be a list of exactly 3 tiers"),
        (document(tier_thresholds=[3000, 1500]), "tier_thresholds must be two strictly"),
        (document(tier_thresholds=[0, 1500]), "tier_thresholds must be two strictly"),
        (document(tier_thresholds=[1500]), "tier_thresholds must be two strictly"),
        (document(tier_thresholds=[1500.0, 3000]), "tier_thresholds must be two strictly"),
        (_with_included_days(0), "treatments.pump.included_days must be a whole number"),
        (_with_included_days("6"), "treatments.pump.included_days must be a whole number"),
        (_with_rate("-1.00"), "treatments.antibiotics.tiers[2].day_fee must not be negative"),
        (_with_rate("1366.001"), "treatments.antibiotics.tiers[2].day_fee: at most two decimals"),
        (_with_rate(1366.0), "treatments.antibiotics.tiers[2].day_fee must be a decimal string"),
        (_with_rate(None), "treatments.antibiotics.tiers[2].day_fee must be a decimal string"),
        (document(valid_from="4 October 2021"), "valid_from must be a date"),
        (document(price_level_year="2020"), "price_level_year must be a year"),
        (document(indexed="no"), "indexed must be true or false"),
        (document(payer={"name": "Region Hovedstaden", "cvr": "2919", "gln": "1"}), "payer.cvr"),
        (document(payer="Region Hovedstaden"), "payer must be an object"),
        (document(treatments=[]), "treatments must be an object"),
    ],
)
def test_a_malformed_agreement_file_is_refused(doc: dict[str, Any], problem: str) -> None:
    with pytest.raises(TariffDocumentError) as raised:
        tariff_from_document(1, doc)
    assert problem in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_every_problem_of_an_agreement_file_is_listed_at_once() -> None:
    doc = _without_pump()
    doc["tier_thresholds"] = [1500, 1500]
    doc["treatments"]["fluids"]["included_days"] = 0
    doc["treatments"]["antibiotics"]["tiers"][0]["course_fee"] = "-6915.00"

    with pytest.raises(TariffDocumentError) as raised:
        tariff_from_document(1, doc)

    assert len(raised.value.problems) == 4
    message = str(raised.value)
    for problem in ("pump", "tier_thresholds", "fluids.included_days", "course_fee"):
        assert problem in message


# --- the timeline ----------------------------------------------------------------------

TIMELINE = [version(2, "2027-01-01", payer="Region Østdanmark"), version(1, "2021-10-04")]


@pytest.mark.parametrize(
    ("start", "version_id"),
    [
        (date(2021, 10, 4), 1),
        (date(2024, 3, 28), 1),
        (date(2026, 12, 31), 1),
        (date(2027, 1, 1), 2),
        (date(2031, 5, 5), 2),
    ],
)
def test_a_course_is_priced_by_the_version_valid_on_its_start_date(
    start: date, version_id: int
) -> None:
    assert version_for(TIMELINE, start).id == version_id


def test_a_course_starting_before_the_first_version_is_outside_the_agreement() -> None:
    with pytest.raises(OutsideAgreement) as raised:
        version_for(TIMELINE, date(2021, 10, 3))

    assert isinstance(raised.value, DomainError)
    assert raised.value.code == "before_agreement"
    assert "2021-10-04" in str(raised.value)


def test_without_any_version_everything_is_outside_the_agreement() -> None:
    with pytest.raises(OutsideAgreement):
        version_for([], date(2024, 1, 1))


def test_two_versions_valid_from_the_same_day_are_a_data_error() -> None:
    with pytest.raises(ValueError, match="both valid from 2021-10-04"):
        version_for([version(1, "2021-10-04"), version(2, "2021-10-04")], date(2024, 1, 1))


def test_statements_from_2027_name_the_new_region_as_payer() -> None:
    assert payer_on(TIMELINE, date(2026, 12, 1)).name == "Region Hovedstaden"
    assert payer_on(TIMELINE, date(2027, 1, 1)).name == "Region Østdanmark"


# --- tiers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "tier"),
    [(1, 1), (1500, 1), (1501, 2), (3000, 2), (3001, 3), (10_000, 3)],
)
def test_a_position_falls_in_its_tier(position: int, tier: int) -> None:
    assert tier_for_position((1500, 3000), position) == tier


def test_positions_start_at_one() -> None:
    with pytest.raises(ValueError, match="position"):
        tier_for_position((1500, 3000), 0)


# --- price level -----------------------------------------------------------------------

INDEX: dict[int, Decimal | int] = {
    2020: Decimal("100.0"),
    2023: Decimal("112.4"),
    2024: Decimal("115.0"),
    2025: 150,
}


@pytest.mark.parametrize(
    ("base", "indexed", "line_year", "expected"),
    [
        (691500, False, 2024, 691500),
        (691500, True, 2020, 691500),
        (691500, True, 2024, 795225),  # 691500 * 1.15 exactly
        (148500, True, 2023, 166914),  # 166914.0
        (34100, True, 2023, 38328),  # 38328.4 rounds down
        (1, True, 2025, 2),  # 1.5 rounds half up
        (3, True, 2025, 5),  # 4.5 rounds half up, not to even
        (0, True, 2025, 0),
    ],
)
def test_an_indexed_unit_price_is_rounded_half_up_once(
    base: int, indexed: bool, line_year: int, expected: int
) -> None:
    price = unit_price(
        base, indexed=indexed, price_level_year=2020, line_year=line_year, index_by_year=INDEX
    )
    assert price == expected


def test_an_index_may_be_a_fraction_decimal_or_int() -> None:
    assert (
        unit_price(
            100,
            indexed=True,
            price_level_year=2020,
            line_year=2024,
            index_by_year={2020: 3, 2024: Fraction(7, 2)},
        )
        == 117  # 116.666…
    )


@pytest.mark.parametrize(
    ("index", "missing_year"), [({2020: 100}, 2026), ({2026: 120}, 2020), ({}, 2026)]
)
def test_a_missing_index_names_the_year(index: dict[int, int], missing_year: int) -> None:
    with pytest.raises(MissingPriceIndex) as raised:
        unit_price(691500, indexed=True, price_level_year=2020, line_year=2026, index_by_year=index)

    assert raised.value.code == "missing_price_index"
    assert raised.value.year == missing_year
    assert str(missing_year) in str(raised.value)


def test_an_unindexed_version_needs_no_index() -> None:
    assert (
        unit_price(691500, indexed=False, price_level_year=2020, line_year=2026, index_by_year={})
        == 691500
    )


@settings(max_examples=200, deadline=None, database=None)
@given(
    base=st.integers(min_value=0, max_value=10_000_000),
    base_index=st.integers(min_value=1, max_value=100_000),
    line_index=st.integers(min_value=1, max_value=100_000),
)
def test_an_indexed_price_is_within_half_an_ore_of_the_exact_one(
    base: int, base_index: int, line_index: int
) -> None:
    exact = Fraction(base * line_index, base_index)
    price = unit_price(
        base,
        indexed=True,
        price_level_year=2020,
        line_year=2024,
        index_by_year={2020: base_index, 2024: line_index},
    )
    assert -Fraction(1, 2) < price - exact <= Fraction(1, 2)
