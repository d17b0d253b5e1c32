"""The demo of `./scripts/serve`: which months it settles, and that it fills an empty
embedded database once, with working demo keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from service.domain.settlement import Period
from service.reference.loader import prepare_database
from service.simulation import demo
from tests.support.api import status_of
from tests.support.config import settings_for


@pytest.mark.parametrize(
    ("today", "day", "first", "last"),
    [
        (Period(2026, 11), 22, Period(2026, 5), Period(2026, 10)),
        (Period(2026, 11), 3, Period(2026, 4), Period(2026, 9)),
        (Period(2027, 2), 10, Period(2026, 8), Period(2027, 1)),
    ],
)
def test_demo_months_are_already_issuable(
    today: Period, day: int, first: Period, last: Period
) -> None:
    assert demo.demo_months(today, day) == (first, last)


def test_the_demo_fills_an_empty_database_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "DEMO_SCALE", 0.02)
    monkeypatch.setattr(demo, "DEMO_MONTHS", 2)
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}", tmp_path)
    prepare_database(settings)
    said: list[str] = []
    last, keys = demo.prepare_demo(settings, said.append)
    said_first = list(said)
    assert any("months issued: 2" in line for line in said)
    assert any("errors: 0" in line for line in said)
    assert len(keys) == 6 and (tmp_path / "ivsettle-demo-keys.json").exists()
    # Two region keys: one approves a month, the other issues it (four eyes).
    assert sum(1 for name, role, _ in demo.DEMO_CLIENTS if role == "region") == 2
    said.clear()
    assert demo.prepare_demo(settings, said.append) == (last, keys)
    assert said == []  # nothing simulated twice

    region_key = next(iter(keys.values()))
    pdf = f"/api/v1/settlements/{last}/statements/157.pdf"
    assert asyncio.run(status_of(settings, pdf, region_key)) == 200
    # Its e-invoices can be made: the master data is set, to values marked as demo values.
    assert any("demo values" in line for line in said_first)
    xml = f"/api/v1/settlements/{last}/statements/101.xml"  # København: lines every month
    assert asyncio.run(status_of(settings, xml, region_key)) == 200
