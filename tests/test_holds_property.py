"""Holds and releases, for any history (Hypothesis): the same history is settled twice,
once with review holds on (releasing some holds at random issues) and once with them off.
Once every hold is released and the next month is issued, both have issued exactly the
same, course by course, kind by kind, month by month, and no regular line twice.

SQLite only (each example builds two databases); the rules are tested against PostgreSQL
through HTTP in tests/test_holds.py.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.kit.settings import Settings
from service.main import create_app
from tests.support.api import Api, new_api
from tests.support.databases import migrated_sqlite
from tests.support.factories import fresh_cpr, referral_payload, visit

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Planned:
    ref: str
    start: date
    days: int
    doses: bool


courses = st.lists(
    st.builds(
        Planned,
        ref=st.uuids().map(lambda u: f"HGH-P-{u.hex[:12]}"),
        start=st.dates(date(2024, 1, 2), date(2024, 3, 25)),
        days=st.integers(1, 12),
        doses=st.booleans(),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda p: p.ref,
)
MONTHS = ("2024-01", "2024-02", "2024-03")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("holds") / "template.db"
    migrated_sqlite(path)
    return path


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=courses, releases=st.lists(st.booleans(), min_size=3, max_size=3))
def test_released_holds_settle_exactly_what_no_holds_would(
    template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    plan: list[Planned],
    releases: list[bool],
) -> None:
    work = tmp_path_factory.mktemp("example")
    for name in ("holds", "plain"):
        (work / name).mkdir()
        shutil.copy(template, work / name / "ivsettle.db")
    with_holds = asyncio.run(_history(work / "holds", plan, releases, holds=True))
    without = asyncio.run(_history(work / "plain", plan, releases, holds=False))
    assert +with_holds["net"] == +without["net"]
    assert all(n == 1 for n in with_holds["regular"].values()), with_holds["regular"]


async def _history(
    where: Path, plan: list[Planned], releases: list[bool], *, holds: bool
) -> dict[str, Counter[Any]]:
    app_settings = Settings(
        database_url=f"sqlite+aiosqlite:///{where / 'ivsettle.db'}",
        now=datetime.fromisoformat("2024-01-01T08:00:00+01:00"),
        cpr_key=_keys()[0],
        cpr_hash_key=_keys()[1],
        key_file=where / "keys.json",
        require_approval=False,
        review_holds=holds,
    )
    app = create_app(app_settings)
    try:
        return await _run(app, plan, releases)
    finally:
        await app.state.engine.dispose()


def _keys() -> tuple[str, str]:
    from tests.support.config import CPR_HASH_KEY, CPR_KEY

    return CPR_KEY, CPR_HASH_KEY


def _at(app: FastAPI, day: date, hour: int) -> None:
    app.state.clock.pinned = datetime.fromisoformat(f"{day.isoformat()}T{hour:02d}:00:00+01:00")


async def _run(app: FastAPI, plan: list[Planned], releases: list[bool]) -> dict[str, Counter[Any]]:
    now = datetime.fromisoformat("2024-01-01T08:00:00+01:00")
    hospital = await new_api(app, "h", "hospital", "HGH", now)
    gentofte = await new_api(app, "m", "municipality", "157", now)
    region = await new_api(app, "r", "region", None, now)
    ids: dict[str, str] = {}
    events: list[tuple[date, int, str, Planned | str]] = []
    for p in plan:
        events.append((p.start, 0, "start", p))
        events.append((p.start + timedelta(days=p.days - 1), 1, "end", p))
    for i, month in enumerate((*MONTHS, "2024-04")):
        year, m = map(int, month.split("-"))
        events.append((date(year + m // 12, m % 12 + 1, 3), 2, "issue", f"{i}:{month}"))
    for day, _, kind, what in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == "start":
            assert isinstance(what, Planned)
            _at(app, day, 9)
            ids[what.ref] = await _start(hospital, gentofte, what)
        elif kind == "end":
            assert isinstance(what, Planned)
            _at(app, day, 20)
            await _finish(gentofte, ids[what.ref], what)
        else:
            assert isinstance(what, str)
            index, month = what.split(":")
            _at(app, day, 10)
            last = int(index) == len(MONTHS)
            if last or releases[int(index)]:
                await _release_all(region, month)
            r = await region.post(f"/api/v1/settlements/{month}/issue")
            assert r.status_code == 201, r.text
    refs = {course_id: ref for ref, course_id in ids.items()}
    net: Counter[Any] = Counter()
    regular: Counter[Any] = Counter()
    for month in (*MONTHS, "2024-04"):
        r = await region.get(f"/api/v1/settlements/{month}/statements/157")
        for line in r.json()["lines"]:
            key = (refs[line["course_id"]], line["kind"], line["period"])
            net[key] += line["quantity"]
            if not line["adjustment"]:
                regular[key] += 1
    for api in (hospital, gentofte, region):
        await api.client.aclose()
    return {"net": net, "regular": regular}


async def _start(hospital: Api, gentofte: Api, p: Planned) -> str:
    payload = referral_payload(
        external_ref=p.ref,
        patient_cpr=fresh_cpr(),
        expected_start_date=p.start.isoformat(),
        planned_days=p.days,
    )
    r = await hospital.post("/api/v1/referrals", json=payload)
    assert r.status_code == 201, r.text
    r = await gentofte.post(
        f"/api/v1/referrals/{r.json()['id']}/accept",
        json={"start_date": p.start.isoformat(), "setting": "home"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _finish(gentofte: Api, course_id: str, p: Planned) -> None:
    if p.doses:
        for n in range(p.days):
            day = p.start + timedelta(days=n)
            r = await gentofte.post(
                f"/api/v1/courses/{course_id}/visits",
                json=visit(f"{day.isoformat()}T08:05:00+01:00"),
            )
            assert r.status_code == 201, r.text
    end = p.start + timedelta(days=p.days - 1)
    r = await gentofte.post(
        f"/api/v1/courses/{course_id}/complete",
        json={"end_date": end.isoformat(), "reason": "completed"},
    )
    assert r.status_code == 200, r.text


async def _release_all(region: Api, month: str) -> None:
    for hold in (await region.get(f"/api/v1/settlements/{month}/holds")).json():
        r = await region.post(
            f"/api/v1/courses/{hold['course_id']}/hold-release", json={"note": "gennemgået"}
        )
        assert r.status_code == 200, r.text
