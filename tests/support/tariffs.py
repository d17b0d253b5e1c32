"""Tariff documents for the tests: the shipped agreement file and versions made from it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

TARIFF_FILE = (
    Path(__file__).resolve().parents[2]
    / "contracts"
    / "tariffs"
    / "2021-10-04-region-hovedstaden.json"
)


def tariff_2021() -> dict[str, object]:
    """The shipped agreement (Region Hovedstaden, valid from 2021-10-04), as posted."""
    return dict(json.loads(TARIFF_FILE.read_text(encoding="utf-8")))


def tariff_2027() -> dict[str, object]:
    """A later version of the same agreement: another payer, valid from 2027-01-01."""
    doc = copy.deepcopy(tariff_2021())
    doc.update(
        name="IV-aftale Region Østdanmark, 2020-niveau",
        valid_from="2027-01-01",
        payer={"name": "Region Østdanmark", "cvr": "12345678", "gln": "5790000000001"},
    )
    doc.pop("sources")
    return doc
