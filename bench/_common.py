"""Shared set-up of the benchmarks: a PostgreSQL database of their own, API clients, and
a running uvicorn server (a real process on a real port, as clients would meet it)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from service.access.auth import key_digest, new_api_key
from service.access.vault import new_key_text
from service.kit.migrate import upgrade_to_head
from service.kit.settings import Settings
from service.reference.loader import load_reference

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get(
    "IVSETTLE_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PG_HOST = "127.0.0.1:5432"
CPR_KEY = new_key_text()
CPR_HASH_KEY = new_key_text()


def machine() -> str:
    cpus = os.cpu_count()
    mem = ""
    with contextlib.suppress(OSError), open("/proc/meminfo") as handle:
        mem = f", {int(handle.readline().split()[1]) // 1024 // 1024} GiB"
    python = platform.python_version()
    return f"{platform.machine()}, {cpus} CPUs{mem}, Python {python}, {platform.system()}"


def fresh_pg_database(name: str) -> str:
    """(Re)create a PostgreSQL database for a benchmark, migrated with reference data."""

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    url = f"postgresql+asyncpg://postgres@{PG_HOST}/{name}"
    settings = bench_settings(url)
    upgrade_to_head(settings)
    asyncio.run(load_reference(settings))
    return url


def bench_settings(url: str, now: str = "2024-12-31T12:00:00+01:00") -> Settings:
    return Settings(
        database_url=url,
        now=datetime.fromisoformat(now),
        cpr_key=CPR_KEY,
        cpr_hash_key=CPR_HASH_KEY,
    )


def raw_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def make_clients(url: str, specs: list[tuple[str, str | None]]) -> list[str]:
    """Create API clients directly (set-up, not measured); return their keys in order."""

    async def create() -> list[str]:
        conn = await asyncpg.connect(raw_dsn(url))
        keys = []
        try:
            for role, org in specs:
                key = new_api_key()
                await conn.execute(
                    "INSERT INTO api_clients"
                    " (id, name, role, org_code, key_sha256, key_prefix, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    uuid.uuid4(),
                    f"bench {role} {org or ''}",
                    role,
                    org,
                    key_digest(key),
                    key[:12],
                    datetime.now(UTC),
                )
                keys.append(key)
        finally:
            await conn.close()
        return keys

    return asyncio.run(create())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(
    url: str, workers: int = 1, now: str = "2024-12-31T12:00:00+01:00"
) -> Iterator[str]:
    """uvicorn serving the app on PostgreSQL; yields its base URL."""
    port = free_port()
    env = os.environ | {
        "IVSETTLE_DATABASE_URL": url,
        "IVSETTLE_NOW": now,
        "IVSETTLE_CPR_KEY": CPR_KEY,
        "IVSETTLE_CPR_HASH_KEY": CPR_HASH_KEY,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "service.asgi:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/docs", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_results(section: str, body: str) -> None:
    """Replace one section of bench/RESULTS.md (kept between markers)."""
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start, end = f"<!-- {section} -->", f"<!-- /{section} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
