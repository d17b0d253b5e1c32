"""Latency: `POST /referrals` and `POST /courses/{id}/visits` at 32 concurrent clients for
30 s against a running server (uvicorn, PostgreSQL): p50, p99, errors.

    .venv/bin/python -m bench.latency [--clients 32] [--seconds 30] [--workers 1]

Half the clients post referrals (each a new patient), half post single visits to
existing courses. Writes the figures to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from bench._common import fresh_pg_database, machine, make_clients, running_server, write_results
from bench.ingest import START, cpr, create_courses

LOCAL = ZoneInfo("Europe/Copenhagen")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def load(
    base: str,
    hospital_key: str,
    municipality_key: str,
    courses: list[str],
    clients: int,
    seconds: float,
) -> dict[str, tuple[list[float], int]]:
    deadline = time.perf_counter() + seconds
    results: dict[str, tuple[list[float], int]] = {"referral": ([], 0), "visit": ([], 0)}
    serial = itertools.count(100_000)
    limits = httpx.Limits(max_connections=clients)

    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:

        async def referrals() -> None:
            latencies, errors = results["referral"]
            while time.perf_counter() < deadline:
                n = next(serial)
                body = {
                    "external_ref": f"LAT-{n}",
                    "hospital_code": "HGH",
                    "patient_cpr": cpr(n),
                    "municipality_code": "157",
                    "treatment_type": "fluids",
                    "expected_start_date": START.isoformat(),
                    "planned_days": 3,
                    "visits_per_day": 2,
                    "administration_times": ["09:00", "18:00"],
                    "minutes_per_administration": 20,
                    "first_dose_given_in_hospital": True,
                }
                started = time.perf_counter()
                r = await client.post(
                    "/api/v1/referrals",
                    json=body,
                    headers={"Authorization": f"Bearer {hospital_key}"},
                )
                latencies.append(time.perf_counter() - started)
                if r.status_code != 201:
                    errors += 1
            results["referral"] = (latencies, errors)

        async def visits(worker: int) -> None:
            latencies, errors = results["visit"]
            day = itertools.count()
            while time.perf_counter() < deadline:
                d = next(day)
                course = courses[(worker * 7 + d) % len(courses)]
                when = START + timedelta(days=d % 300)
                started_at = datetime(when.year, when.month, when.day, 9, worker % 50, tzinfo=LOCAL)
                body = {
                    "id": str(uuid.uuid4()),
                    "started_at": started_at.isoformat(),
                    "duration_minutes": 25,
                    "setting": "clinic",
                    "administered": True,
                }
                started = time.perf_counter()
                r = await client.post(
                    f"/api/v1/courses/{course}/visits",
                    json=body,
                    headers={"Authorization": f"Bearer {municipality_key}"},
                )
                latencies.append(time.perf_counter() - started)
                if r.status_code != 201:
                    errors += 1
            results["visit"] = (results["visit"][0], results["visit"][1] + errors)

        half = clients // 2
        await asyncio.gather(
            *(referrals() for _ in range(half)), *(visits(w) for w in range(clients - half))
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    url = fresh_pg_database("ivsettle_bench_latency")
    hospital_key, municipality_key = make_clients(
        url, [("hospital", "HGH"), ("municipality", "157")]
    )
    with running_server(url, workers=args.workers) as base:
        courses = asyncio.run(create_courses(base, hospital_key, municipality_key, 200))
        results = asyncio.run(
            load(base, hospital_key, municipality_key, courses, args.clients, args.seconds)
        )
    lines = [
        f"{args.clients} concurrent clients for {args.seconds:.0f} s, "
        f"{args.workers} uvicorn worker(s)"
    ]
    for name, (latencies, errors) in results.items():
        ms = [1000 * x for x in latencies]
        lines.append(
            f"POST {'/referrals' if name == 'referral' else '/courses/{id}/visits'}: "
            f"{len(ms):,} requests ({len(ms) / args.seconds:,.0f}/s), "
            f"p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
            f"errors {errors} (target p99 ≤ 50 ms)"
        )
    print("\n".join(lines))
    write_results(
        "latency",
        "## Latency (PostgreSQL, uvicorn)\n\n"
        f"Command: `.venv/bin/python -m bench.latency --clients {args.clients} "
        f"--seconds {args.seconds:.0f} --workers {args.workers}`  \n"
        f"Machine: {machine()}  \nRun: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        + "\n".join(f"- {line}" for line in lines),
    )


if __name__ == "__main__":
    main()
