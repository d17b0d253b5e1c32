"""Ingestion: visits through the HTTP batch endpoint (uvicorn, PostgreSQL) against inserting
the same rows with asyncpg's COPY (`copy_records_to_table`), the floor.

    .venv/bin/python -m bench.ingest [--courses 500] [--days 60] [--concurrency 4] [--workers 1]

Prints visits per second for both and the ratio, and writes them to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from bench._common import (
    fresh_pg_database,
    machine,
    make_clients,
    raw_dsn,
    running_server,
    write_results,
)

LOCAL = ZoneInfo("Europe/Copenhagen")
START = date(2024, 1, 2)


def cpr(n: int) -> str:
    born = date(1940, 1, 1) + timedelta(days=n % 20000)
    return f"{born:%d%m%y}{n % 4}{n % 1000:03d}"


async def create_courses(
    base: str, hospital_key: str, municipality_key: str, count: int
) -> list[str]:
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for n in range(count):
            referral = {
                "external_ref": f"BENCH-{n}",
                "hospital_code": "HGH",
                "patient_cpr": cpr(n),
                "municipality_code": "157",
                "treatment_type": "antibiotics",
                "expected_start_date": START.isoformat(),
                "planned_days": 300,
                "visits_per_day": 3,
                "administration_times": ["08:00", "15:00", "22:00"],
                "minutes_per_administration": 30,
                "first_dose_given_in_hospital": True,
            }
            r = await client.post(
                "/api/v1/referrals",
                json=referral,
                headers={"Authorization": f"Bearer {hospital_key}"},
            )
            r.raise_for_status()
            r = await client.post(
                f"/api/v1/referrals/{r.json()['id']}/accept",
                json={"start_date": START.isoformat(), "setting": "home"},
                headers={"Authorization": f"Bearer {municipality_key}"},
            )
            r.raise_for_status()
            ids.append(r.json()["id"])
    return ids


def plan_visits(course_ids: list[str], days: int, seed: int = 1) -> list[dict[str, object]]:
    """Day by day, 1-4 visits per course, as a care system would sync them."""
    rng = random.Random(seed)
    visits: list[dict[str, object]] = []
    for d in range(days):
        day = START + timedelta(days=d)
        for course_id in course_ids:
            for slot in range(rng.randint(1, 4)):
                started = datetime(
                    day.year, day.month, day.day, 8 + 4 * slot, rng.randint(0, 50), tzinfo=LOCAL
                )
                visits.append(
                    {
                        "course_id": course_id,
                        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "started_at": started.isoformat(),
                        "duration_minutes": rng.randint(15, 45),
                        "setting": "home",
                        "administered": True,
                    }
                )
    return visits


async def post_batches(
    base: str, key: str, visits: list[dict[str, object]], concurrency: int
) -> float:
    batches = [visits[i : i + 1000] for i in range(0, len(visits), 1000)]
    queue: asyncio.Queue[list[dict[str, object]]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def worker() -> None:
        async with httpx.AsyncClient(
            base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}
        ) as client:
            while not queue.empty():
                batch = queue.get_nowait()
                r = await client.post("/api/v1/visits/batch", json={"visits": batch})
                r.raise_for_status()
                assert r.json()["created"] == len(batch), r.text[:300]

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def copy_same_rows(url: str, visits: list[dict[str, object]]) -> float:
    conn = await asyncpg.connect(raw_dsn(url))
    try:
        recorded_by = await conn.fetchval(
            "SELECT id FROM api_clients WHERE role = 'municipality' LIMIT 1"
        )
        # The visits table is write-once (it cannot be truncated): COPY into a table like
        # it, with its indexes, defaults, checks and its key to the courses.
        await conn.execute("DROP TABLE IF EXISTS bench_visits")
        await conn.execute("CREATE TABLE bench_visits (LIKE visits INCLUDING ALL)")
        await conn.execute(
            "ALTER TABLE bench_visits ADD FOREIGN KEY (course_id) REFERENCES courses (id)"
        )
        now = datetime.now(UTC)
        started = time.perf_counter()
        records = []
        for v in visits:
            at = datetime.fromisoformat(str(v["started_at"]))
            records.append(
                (
                    uuid.UUID(str(v["id"])),
                    uuid.UUID(str(v["course_id"])),
                    at.astimezone(UTC),
                    at.astimezone(LOCAL).date(),
                    v["duration_minutes"],
                    v["setting"],
                    v["administered"],
                    now,
                    recorded_by,
                )
            )
        await conn.copy_records_to_table(
            "bench_visits",
            records=records,
            columns=[
                "id",
                "course_id",
                "started_at",
                "local_date",
                "duration_minutes",
                "setting",
                "administered",
                "recorded_at",
                "recorded_by",
            ],
        )
        return time.perf_counter() - started
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--courses", type=int, default=500)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    url = fresh_pg_database("ivsettle_bench_ingest")
    hospital_key, municipality_key = make_clients(
        url, [("hospital", "HGH"), ("municipality", "157")]
    )
    with running_server(url, workers=args.workers) as base:
        course_ids = asyncio.run(create_courses(base, hospital_key, municipality_key, args.courses))
        visits = plan_visits(course_ids, args.days)
        http_seconds = asyncio.run(post_batches(base, municipality_key, visits, args.concurrency))
    print(f"HTTP batch endpoint: {len(visits) / http_seconds:,.0f} visits/s", flush=True)
    copy_seconds = asyncio.run(copy_same_rows(url, visits))
    http_rate = len(visits) / http_seconds
    copy_rate = len(visits) / copy_seconds
    lines = [
        f"visits: {len(visits):,} in batches of 1,000 ({args.courses} courses × {args.days} days, "
        f"{args.concurrency} concurrent clients, {args.workers} uvicorn worker(s))",
        f"HTTP batch endpoint: {http_seconds:.1f} s → {http_rate:,.0f} visits/s",
        f"asyncpg COPY (floor): {copy_seconds:.2f} s → {copy_rate:,.0f} visits/s",
        f"ratio HTTP / COPY: {http_rate / copy_rate:.3f} (target ≥ 0.1; target ≥ 5,000 visits/s)",
    ]
    print("\n".join(lines))
    write_results(
        "ingest",
        "## Ingestion (visits via HTTP batch vs COPY, PostgreSQL)\n\n"
        f"Command: `.venv/bin/python -m bench.ingest --courses {args.courses} --days {args.days} "
        f"--concurrency {args.concurrency} --workers {args.workers}`  \n"
        f"Machine: {machine()}  \nRun: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        + "\n".join(f"- {line}" for line in lines),
    )


if __name__ == "__main__":
    main()
