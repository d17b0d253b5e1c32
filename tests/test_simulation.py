"""`ivsettle simulate`: a plausible plan, deterministic for a seed, and output that settles
cleanly (every month issued, statements add up, nothing billed twice)."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.access.auth import Principal
from service.access.vault import load_vault
from service.deps import Ctx
from service.domain.cpr import normalize_cpr
from service.domain.scope import within_daytime
from service.domain.settlement import Period, owed_lines
from service.domain.tariff import version_for
from service.kit.clock import LOCAL_TZ, Clock
from service.kit.db import create_engine, create_sessionmaker
from service.kit.settings import Settings
from service.models import SettlementIssue, Statement, StatementLine
from service.settlement import repository
from service.settlement import service as settlement
from service.simulation import plan as plan_module
from service.simulation.plan import SimulationOptions, make_plan, planned_visits
from service.simulation.populations import POPULATION_2024
from service.simulation.run import SimulationRefused, simulate
from service.simulation.summary import SimulationSummary
from tests.support.cli import run_cli
from tests.support.config import NOW, service_env, settings_for
from tests.support.databases import reset_postgres

SMALL = SimulationOptions(start=Period(2024, 1), months=2, courses_per_year=300, seed=7)


# --- the plan (pure, no database) --------------------------------------------------------


def test_a_year_at_full_scale_looks_like_the_region() -> None:
    plan = make_plan(SimulationOptions())
    courses = [r for r in plan.referrals if r.course is not None]
    assert len(courses) == 5700  # §3.1
    types = Counter(r.treatment_type for r in courses)
    assert 0.55 < types["antibiotics"] / 5700 < 0.65
    assert 0.20 < types["fluids"] / 5700 < 0.30
    assert 0.10 < types["pump"] / 5700 < 0.20
    home = sum(r.course.setting == "home" for r in courses if r.course)
    assert 0.45 < home / 5700 < 0.55  # §3.1: half at home, half in clinics
    by_municipality = Counter(r.municipality_code for r in courses)
    assert set(by_municipality) == set(POPULATION_2024)
    share = by_municipality["101"] / 5700
    assert abs(share - POPULATION_2024["101"] / sum(POPULATION_2024.values())) < 0.03
    included = {"antibiotics": 6, "fluids": 3, "pump": 6}
    within = sum(r.planned_days <= included[r.treatment_type] for r in courses)
    assert 0.7 < within / 5700 < 0.9
    assert max(r.planned_days for r in courses) >= 20
    rejected = [r for r in plan.referrals if r.rejection is not None]
    nutrition = [r for r in plan.referrals if r.parenteral_nutrition]
    assert 0.02 < len(rejected) / len(plan.referrals) < 0.04
    assert nutrition and all(r.course is None and r.rejection is None for r in nutrition)
    assert {p for p, _ in plan.issues} == set(SimulationOptions().periods)


def test_planned_visits_keep_to_the_agreement_but_for_a_few_deviations() -> None:
    plan = make_plan(SimulationOptions(scale=0.2))
    deviations = 0
    for r in plan.referrals:
        assert 1 <= len(r.administration_times) <= 4
        assert all(time(7) <= t <= time(23) for t in r.administration_times)
        visits = planned_visits(r)
        if r.course is None:
            assert visits == []
            continue
        assert len(visits) == r.course.actual_days * len(r.administration_times)
        days = {v.started_at.date() for v in visits}
        if visits:
            assert min(days) == r.start_date
            assert max(days) == r.course.end_date(r.start_date)
        odd = [
            v
            for v in visits
            if v.duration_minutes > 60
            or not within_daytime(v.started_at.time().replace(tzinfo=None))
        ]
        assert len(odd) <= 1
        assert bool(odd) == (r.course.deviation is not None and r.course.actual_days > 0)
        deviations += len(odd)
    courses = sum(r.course is not None for r in plan.referrals)
    assert 0.01 < deviations / courses < 0.03


def test_patients_are_valid_and_never_hold_two_active_courses_of_a_type() -> None:
    plan = make_plan(SimulationOptions(seed=3))
    busy: dict[tuple[str, str, str], list[tuple[datetime, datetime]]] = defaultdict(list)
    for r in plan.referrals:
        assert normalize_cpr(r.cpr) == r.cpr
        busy[(r.cpr, r.treatment_type, r.municipality_code)].append(
            (r.referred_at, r.occupied_until())
        )
    recurring = 0
    for spans in busy.values():
        spans.sort()
        recurring += len(spans) > 1
        for (_, end), (begin, _) in itertools.pairwise(spans):
            assert end < begin
    assert recurring > 0  # patients come back


def test_the_plan_is_the_same_for_the_same_seed() -> None:
    assert make_plan(SMALL) == make_plan(SMALL)
    other = make_plan(SimulationOptions(start=SMALL.start, months=2, courses_per_year=300, seed=8))
    assert other.referrals != make_plan(SMALL).referrals


def test_the_timeline_is_chronological_and_ends_with_the_last_issue() -> None:
    plan = make_plan(SimulationOptions(scale=0.1))
    for r in plan.referrals:
        course = r.course
        if course is None:
            continue
        assert r.referred_at < course.accepted_at
        if course.late:
            ended = course.end_date(r.start_date)
            assert course.accepted_at.astimezone(LOCAL_TZ).date() >= ended + timedelta(days=30)
        if course.completed_at is not None:
            assert course.completed_at.astimezone(LOCAL_TZ).date() >= course.end_date(r.start_date)
        if course.corrected_at is not None:
            assert course.completed_at is not None and course.corrected_at > course.completed_at
            issued = dict(plan.issues)[Period.of(course.end_date(r.start_date))]
            assert issued < course.corrected_at <= plan.horizon
    assert plan.horizon == plan.issues[-1][1]


# --- running it through the use cases ----------------------------------------------------


async def _fresh(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Another fresh database of the same backend: a new copy of the SQLite template, or the
    PostgreSQL test database truncated and reloaded."""
    if settings.is_sqlite:
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / f"fresh-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(template, target)
        return settings_for(f"sqlite+aiosqlite:///{target}", tmp_path)
    await reset_postgres(settings.database_url, tmp_path)
    return settings


async def test_the_same_seed_gives_the_same_activity_and_totals(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    first = await simulate(settings, SMALL)
    assert first.errors == []
    assert first.courses == SMALL.course_count == 50
    assert first.months_issued == 2
    assert first.issued_total_ore > 0

    second = await simulate(await _fresh(settings, tmp_path, request), SMALL)
    assert second.comparable() == first.comparable()

    other_seed = SimulationOptions(start=SMALL.start, months=2, courses_per_year=300, seed=8)
    third = await simulate(await _fresh(settings, tmp_path, request), other_seed)
    assert third.errors == []
    assert third.issued != first.issued


async def test_a_database_with_activity_is_refused(settings: Settings) -> None:
    await simulate(settings, SimulationOptions(months=1, courses_per_year=60))
    with pytest.raises(SimulationRefused, match="already holds"):
        await simulate(settings, SimulationOptions(months=1, courses_per_year=60))


async def test_months_not_yet_ended_are_refused(settings: Settings) -> None:
    with pytest.raises(SimulationRefused, match="must have ended"):
        await simulate(settings, SimulationOptions(start=Period.of(NOW.date()), months=1))


@pytest.fixture
def eventful(monkeypatch: pytest.MonkeyPatch) -> SimulationOptions:
    """More late registrations, corrections, cancellations and deviations than the region
    would have, so a short run meets every kind of adjustment."""
    monkeypatch.setattr(plan_module, "LATE_SHARE", 0.12)
    monkeypatch.setattr(plan_module, "CORRECTION_SHARE", 0.12)
    monkeypatch.setattr(plan_module, "CANCEL_SHARE", 0.08)
    monkeypatch.setattr(plan_module, "DEVIATION_SHARE", 0.1)
    return SimulationOptions(start=Period(2024, 1), months=3, courses_per_year=400, seed=11)


async def test_the_simulation_settles_cleanly(
    settings: Settings, eventful: SimulationOptions
) -> None:
    summary = await simulate(settings, eventful)
    assert summary.errors == []
    assert summary.late_registrations > 0
    assert summary.corrections > 0
    assert summary.cancellations > 0
    assert summary.deviating_visits > 0
    assert summary.rejected > 0
    assert summary.months_issued == 3

    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            await _check_issued(session, settings, summary, eventful)
    finally:
        await engine.dispose()


async def _check_issued(
    session: AsyncSession,
    settings: Settings,
    summary: SimulationSummary,
    options: SimulationOptions,
) -> None:
    periods = [str(p) for p in options.periods]
    issued = await session.scalars(select(SettlementIssue.period).order_by(SettlementIssue.period))
    assert list(issued) == periods == list(summary.issued)

    # Each issue: 29 statements, each total the sum of its lines, as the run reported them.
    for period in periods:
        rows = (
            await session.execute(
                select(
                    Statement.municipality_code,
                    Statement.total_ore,
                    func.coalesce(func.sum(StatementLine.amount_ore), 0),
                )
                .outerjoin(StatementLine, StatementLine.statement_id == Statement.id)
                .where(Statement.period == period)
                .group_by(Statement.id, Statement.municipality_code, Statement.total_ore)
            )
        ).all()
        assert len(rows) == 29
        assert all(total == lines for _, total, lines in rows)
        assert {code: total for code, total, _ in rows} == summary.issued[period]

    # Late news reached later statements as adjustments, with their reasons.
    reasons = set(
        await session.scalars(
            select(StatementLine.reason).where(StatementLine.adjustment.is_(True)).distinct()
        )
    )
    assert {"late_registration", "correction", "cancellation"} <= reasons

    # Nothing billed twice: per course, kind and month, what was issued is exactly what the
    # settlement rules say it owes through the last issued month.
    last = options.periods[-1]
    versions = await repository.tariff_versions(session)
    indices = repository.as_fractions(await repository.price_indices(session))
    every_course = await repository.candidate_courses(session, None)
    places = await repository.positions(session, [c.facts.course_id for c in every_course])
    owed: Counter[tuple[str, str, str]] = Counter()
    for course in every_course:
        place = places.get(course.facts.course_id)
        tariff = version_for(versions, course.facts.start_date)
        lines = owed_lines(course.facts, tariff, place.tier if place else 1, indices, last)
        assert place is not None or not lines  # whatever owes was placed on the staircase
        for line in lines:
            owed[(line.course_id, line.kind, str(line.period))] += line.amount
    billed: Counter[tuple[str, str, str]] = Counter()
    for issued_line in await session.scalars(select(StatementLine)):
        key = (str(issued_line.course_id), issued_line.kind, issued_line.line_period)
        billed[key] += issued_line.amount_ore
    assert owed
    assert {k: v for k, v in billed.items() if v} == {k: v for k, v in owed.items() if v}

    # And the next month's draft has no adjustment left over: every change was settled once.
    region = Principal(uuid.uuid4(), "test", "region", None)
    ctx = Ctx(session, region, Clock(NOW), load_vault(settings))
    draft = await settlement.region_summary(ctx, last.next())
    assert draft.state == "draft"
    assert all(m.adjustment_total == "0.00" for m in draft.municipalities)


# --- the command -------------------------------------------------------------------------


def test_the_command_simulates_into_a_fresh_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sim.db'}"
    env = os.environ | service_env(url)
    args = ["simulate", "--months", "1", "--courses-per-year", "120"]
    done = run_cli(env, tmp_path, *args)
    assert done.returncode == 0, done.stderr
    assert "2024-01 issued" in done.stdout
    assert "courses: 10 " in done.stdout
    assert "months issued: 1" in done.stdout
    again = run_cli(env, tmp_path, *args)
    assert again.returncode == 1
    assert "already holds courses" in again.stderr
