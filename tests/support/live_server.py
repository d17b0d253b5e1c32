"""A real server for tests that talk to it as an outside client would: uvicorn in a
subprocess on a free port of 127.0.0.1, over a SQLite file of its own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx

from service.access.vault import new_key_text
from service.kit.migrate import upgrade_to_head
from service.kit.settings import Settings
from service.reference.loader import load_reference

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_server(env: dict[str, str], port: int, log_path: Path) -> Iterator[str]:
    """Starts `service.asgi:app` with `env` added to the environment, waits until it
    answers, yields its base URL, and stops it."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service.asgi:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--timeout-graceful-shutdown", "2"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/log-ind", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the server did not start: " + log_path.read_text("utf-8")[-2000:]
                )
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def prepared_server(tmp: Path, now: str) -> tuple[dict[str, str], Settings]:
    """The environment of a server over a new SQLite file in `tmp` whose clock stands at
    `now`, migrated and with the reference data loaded; and the same as Settings, for
    making keys or data before it starts."""
    env = {
        "IVSETTLE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'ivsettle.db'}",
        "IVSETTLE_NOW": now,
        "IVSETTLE_CPR_KEY": new_key_text(),
        "IVSETTLE_CPR_HASH_KEY": new_key_text(),
        "IVSETTLE_KEY_FILE": str(tmp / "keys.json"),
    }
    settings = Settings(
        database_url=env["IVSETTLE_DATABASE_URL"],
        now=datetime.fromisoformat(now),
        cpr_key=env["IVSETTLE_CPR_KEY"],
        cpr_hash_key=env["IVSETTLE_CPR_HASH_KEY"],
        key_file=tmp / "keys.json",
    )
    upgrade_to_head(settings)
    asyncio.run(load_reference(settings))
    return env, settings
