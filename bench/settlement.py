"""Settlement: draft and issue of one month for all 29 municipalities, with years of
issued history behind it, at region scale (5,700 courses a year) and national scale (10×),
on SQLite and PostgreSQL; wall time and peak memory (tracemalloc) against the floor: the
same month's totals by one plain SQL query over the same rows.

    .venv/bin/python -m bench.settlement [--scale 1] [--years 3] [--backend sqlite|postgresql|both]

History is bulk-loaded (a benchmark fixture, not the simulator: 3 years through the use
cases take ~10 min at region scale), then every month but the last is issued through the
service's issue use case. The draft of each December is timed as the history grows, to
show that a month's run does not grow with the years behind it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench._common import ROOT, bench_settings, fresh_pg_database, machine, write_results
from service.access.auth import Principal
from service.access.vault import load_vault
from service.deps import Ctx
from service.domain.review import HoldRules
from service.domain.settlement import Period
from service.kit.clock import Clock
from service.kit.db import standalone_session
from service.kit.migrate import upgrade_to_head
from service.kit.settings import Settings
from service.models import ApiClient, Course, Patient, Referral, Visit
from service.reference.loader import load_reference
from service.settlement.issue import issue_period
from service.settlement.run import compute
from service.simulation.populations import POPULATION_2024

LOCAL = ZoneInfo("Europe/Copenhagen")
T = TypeVar("T")
TYPES = (("antibiotics", 0.6, 6), ("fluids", 0.25, 3), ("pump", 0.15, 6))
HOSPITALS = ("RH", "BFH", "HGH", "AHH", "NOH", "BOH")
REGION = uuid.UUID("00000000-0000-4000-8000-0000000b0001")

_ONE_PERSON: dict[str, Any] = {
    "require_approval": False,
    "hold_rules": HoldRules(enabled=False),
}


def local_instant(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, clock_time(hour, minute), tzinfo=LOCAL).astimezone(UTC)


def plan(
    first_year: int, years: int, per_year: int, seed: int, end_of_history: date
) -> dict[str, list[dict[str, Any]]]:
    """Courses (with patients, referrals and visits) spread over the years."""
    rng = random.Random(seed)
    codes = list(POPULATION_2024)
    weights = [POPULATION_2024[c] for c in codes]
    rows: dict[str, list[dict[str, Any]]] = {
        "patients": [],
        "referrals": [],
        "courses": [],
        "visits": [],
    }
    for year in range(first_year, first_year + years):
        for serial in range(1, per_year + 1):
            kind = rng.choices([t for t, _, _ in TYPES], [w for _, w, _ in TYPES])[0]
            included = {t: d for t, _, d in TYPES}[kind]
            length = (
                rng.randint(1, included) if rng.random() < 0.8 else rng.randint(included + 1, 30)
            )
            start = date(year, 1, 1) + timedelta(days=rng.randrange(365))
            end = start + timedelta(days=length - 1)
            active = end > end_of_history
            patient, referral, course = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            municipality = rng.choices(codes, weights)[0]
            hospital = rng.choice(HOSPITALS)
            created = local_instant(start, 9, rng.randrange(60))
            done = local_instant(min(end, end_of_history) + timedelta(days=1), 12)
            rows["patients"].append(
                {
                    "id": patient,
                    "cpr_hash": uuid.uuid4().hex * 2,
                    "cpr_encrypted": b"-",
                    "created_at": created,
                }
            )
            rows["referrals"].append(
                {
                    "id": referral, "hospital_code": hospital, "external_ref": f"B-{course}",
                    "payload_hash": "0" * 64, "patient_id": patient, "municipality_code": municipality,
                    "department": None, "treatment_type": kind, "expected_start_date": start,
                    "planned_days": length, "visits_per_day": 2, "administration_times": ["08:00", "20:00"],
                    "minutes_per_administration": 30, "first_dose_given_in_hospital": True,
                    "iv_access": None, "parenteral_nutrition": False, "must_not_be_left_alone": False,
                    "physician_contact": None, "status": "accepted", "rejection_reason": None,
                    "rejection_note": None, "decided_at": created, "decided_by": REGION,
                    "created_at": created, "created_by": REGION,
                }
            )  # fmt: skip
            rows["courses"].append(
                {
                    "id": course, "number": f"IV-{year}-{serial:05d}",
                    "referral_id": referral, "patient_id": patient,
                    "municipality_code": municipality, "hospital_code": hospital,
                    "treatment_type": kind, "setting": rng.choice(("home", "clinic")),
                    "start_date": start, "end_date": None if active else end,
                    "status": "active" if active else "completed",
                    "end_reason": None if active else "completed", "end_note": None,
                    "cancel_reason": None, "created_at": created, "created_by": REGION,
                    "updated_at": created if active else done,
                }
            )  # fmt: skip
            day = start
            while day <= min(end, end_of_history):
                for hour in (8, 20)[: rng.randint(1, 2)]:
                    rows["visits"].append(
                        {
                            "id": uuid.uuid4(), "course_id": course,
                            "started_at": local_instant(day, hour, rng.randrange(50)),
                            "local_date": day, "duration_minutes": rng.randint(15, 50),
                            "setting": "home", "administered": True,
                            "recorded_at": local_instant(day, 23, 30), "recorded_by": REGION,
                        }
                    )  # fmt: skip
                day += timedelta(days=1)
    return rows


async def load(
    settings: Settings, rows: dict[str, list[dict[str, Any]]], with_client: bool
) -> None:
    async with standalone_session(settings) as session:
        if with_client:
            await session.execute(
                insert(ApiClient),
                [{"id": REGION, "name": "bench region", "role": "region", "org_code": None,
                  "key_sha256": uuid.uuid4().hex * 2, "key_prefix": "-", "created_at": datetime.now(UTC)}],
            )  # fmt: skip
        for model, key in (
            (Patient, "patients"),
            (Referral, "referrals"),
            (Course, "courses"),
            (Visit, "visits"),
        ):
            data = rows[key]
            for i in range(0, len(data), 5000):
                await session.execute(insert(model), data[i : i + 5000])
        await session.commit()


async def measured(work: Callable[[], Awaitable[T]]) -> tuple[T, float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    result = await work()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def floor_sql(dialect: str) -> str:
    """One query: the month's course fees and day fees per municipality, priced by the
    tier of the course's staircase position (tier 3 before it has one)."""
    if dialect == "postgresql":
        days = "(LEAST(COALESCE(c.end_date, :last), :last) - GREATEST(c.start_date + r.included_days, :first) + 1)"
    else:
        days = ("(julianday(MIN(COALESCE(c.end_date, :last), :last)) - "
                "julianday(MAX(date(c.start_date, '+' || r.included_days || ' days'), :first)) + 1)")  # fmt: skip
    return f"""
        SELECT c.municipality_code,
               SUM(CASE WHEN c.start_date BETWEEN :first AND :last THEN r.course_fee_ore ELSE 0 END)
             + SUM(CASE WHEN {days} > 0 THEN {days} * r.day_fee_ore ELSE 0 END) AS total
        FROM courses c
        LEFT JOIN course_positions p ON p.course_id = c.id
        JOIN tariff_rates r ON r.treatment_type = c.treatment_type AND r.tier = COALESCE(p.tier, 3)
        WHERE c.status <> 'cancelled' AND c.start_date <= :last
          AND (c.end_date IS NULL OR c.end_date >= :first)
        GROUP BY c.municipality_code
    """


def _remove_database_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def run_backend(backend: str, scale: float, years: int) -> list[str]:
    first_year = 2022
    if backend == "sqlite":
        path = ROOT / "bench" / f".settlement-{scale}.db"
        await asyncio.to_thread(_remove_database_files, path)
        url = f"sqlite+aiosqlite:///{path}"
        settings = bench_settings(url)
        await asyncio.to_thread(upgrade_to_head, settings)
        await load_reference(settings)
    else:
        url = await asyncio.to_thread(fresh_pg_database, f"ivsettle_bench_settle_{int(scale)}")
        settings = bench_settings(url)
    async with standalone_session(settings) as session:
        return await _run(session, settings, scale, years, first_year)


async def _done(session: AsyncSession) -> None:
    """End a unit of work as closing a session of its own would (a read is rolled back,
    a write already committed), and empty the session: the next unit reads afresh."""
    await session.rollback()
    session.expunge_all()


async def _run(
    session: AsyncSession, settings: Settings, scale: float, years: int, first_year: int
) -> list[str]:
    per_year = int(5700 * scale)
    load_seconds, courses, visits = 0.0, 0, 0
    lines: list[str] = []
    principal = Principal(REGION, "bench region", "region", None)
    vault = load_vault(settings)
    history_seconds = 0.0
    last = Period(first_year + years - 1, 12)
    period = Period(first_year, 1)
    while True:
        if period.month == 1:
            # A year's courses arrive with that year, so no run sees courses of the future.
            t0 = time.perf_counter()
            rows = plan(period.year, 1, per_year, seed=period.year, end_of_history=last.last_day)
            await load(settings, rows, with_client=period.year == first_year)
            load_seconds += time.perf_counter() - t0
            courses, visits = courses + len(rows["courses"]), visits + len(rows["visits"])
            del rows
        clock = Clock(local_instant(period.next().first_day + timedelta(days=4), 10))
        if period.month == 12:
            _, seconds, peak = await measured(lambda december=period: compute(session, december))  # type: ignore[misc]
            await _done(session)
            lines.append(
                f"draft {period} after {period.year - first_year} year(s) of issued history: "
                f"{seconds:.2f} s, peak {peak:.0f} MiB"
            )
        if period == last:
            break
        # One bench client issues, holding nothing: four eyes and review holds are the
        # region's process; the bench's totals are checked against the floor's.
        ctx = Ctx(session, principal, clock, vault, **_ONE_PERSON)
        t0 = time.perf_counter()
        await issue_period(ctx, period)
        await session.commit()
        history_seconds += time.perf_counter() - t0
        await _done(session)
        period = period.next()
    lines.append(
        f"issuing the {years * 12 - 1} months of history took {history_seconds:.0f} s in all"
    )

    run, draft_s, draft_peak = await measured(lambda: compute(session, last))
    await _done(session)
    ctx = Ctx(
        session,
        principal,
        Clock(local_instant(date(last.year + 1, 1, 5), 10)),
        vault,
        **_ONE_PERSON,
    )

    async def issue() -> Any:
        summary, _ = await issue_period(ctx, last)
        await session.commit()
        return summary

    summary, issue_s, issue_peak = await measured(issue)
    await _done(session)
    t0 = time.perf_counter()
    floor_rows = (
        await session.execute(
            text(floor_sql(session.get_bind().dialect.name)),
            {"first": last.first_day, "last": last.last_day},
        )
    ).all()
    floor_s = time.perf_counter() - t0
    await _done(session)
    floor_total = sum(int(total) for _, total in floor_rows) / 100
    lines += [
        f"month {last}: draft {draft_s:.2f} s (peak {draft_peak:.0f} MiB, {run.courses_considered:,} "
        f"courses read), issue {issue_s:.2f} s (peak {issue_peak:.0f} MiB); total {summary.total} kr.",
        f"floor (one SQL query, same rows): {floor_s:.3f} s, {floor_total:,.2f} kr. (regular lines "
        "only, tier by position) → ratio issue / floor "
        f"{issue_s / floor_s:.0f}×, draft / floor {draft_s / floor_s:.0f}×",
    ]
    for line in lines:
        print(line, flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    lines: list[str] = []
    for backend in backends:
        lines += asyncio.run(run_backend(backend, args.scale, args.years))
    write_results(
        f"settlement-{args.scale:g}",
        f"## Settlement at scale {args.scale:g}\n\n"
        f"Command: `.venv/bin/python -m bench.settlement --scale {args.scale:g} --years {args.years} "
        f"--backend {args.backend}`  \nMachine: {machine()}  \n"
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        "(targets: region ≤ 2 s, national ≤ 20 s on PostgreSQL)\n\n"
        + "\n".join(f"- {line}" for line in lines),
    )


if __name__ == "__main__":
    main()
