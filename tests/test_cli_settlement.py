"""`ivsettle settle` and `ivsettle export` on a SQLite database filled through the API."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from service.access.auth import key_digest, new_api_key
from service.kit.migrate import upgrade_to_head
from service.main import create_app
from service.models import ApiClient
from service.reference.loader import load_reference
from tests.conftest import CPR_HASH_KEY, CPR_KEY, NOW, Api, settings_for
from tests.factories import make_course


def run_cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args], env=env, cwd=cwd, capture_output=True, text=True
    )


@pytest.fixture
def filled_database(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    settings = settings_for(url, tmp_path)
    upgrade_to_head(settings)

    async def fill() -> None:
        await load_reference(settings)
        app = create_app(settings)
        clients = []
        for role, org in (("hospital", "HGH"), ("municipality", "157")):
            key = new_api_key()
            async with app.state.sessionmaker() as session:
                session.add(
                    ApiClient(
                        name=role, role=role, org_code=org, key_sha256=key_digest(key),
                        key_prefix=key[:12], created_at=NOW,
                    )
                )  # fmt: skip
                await session.commit()
            clients.append(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://t",
                    headers={"Authorization": f"Bearer {key}"},
                )
            )
        hospital = Api(clients[0], "hospital", "HGH", NOW)  # type: ignore[arg-type]
        gentofte = Api(clients[1], "municipality", "157", NOW)  # type: ignore[arg-type]
        course = await make_course(hospital, gentofte)
        await gentofte.post(
            f"/api/v1/courses/{course['id']}/complete",
            json={"end_date": "2024-04-05", "reason": "completed"},
        )
        for client in clients:
            await client.aclose()
        await app.state.engine.dispose()

    asyncio.run(fill())
    return os.environ | {
        "IVSETTLE_DATABASE_URL": url,
        "IVSETTLE_NOW": NOW.isoformat(),
        "IVSETTLE_CPR_KEY": CPR_KEY,
        "IVSETTLE_CPR_HASH_KEY": CPR_HASH_KEY,
    }


def test_settle_shows_the_draft_then_issues(
    filled_database: dict[str, str], tmp_path: Path
) -> None:
    draft = run_cli(filled_database, tmp_path, "settle", "2024-03")
    assert draft.returncode == 0, draft.stderr
    assert "2024-03: draft" in draft.stdout
    assert "Gentofte" in draft.stdout and "6915.00" in draft.stdout
    issued = run_cli(filled_database, tmp_path, "settle", "2024-03", "--issue")
    assert issued.returncode == 0, issued.stderr
    assert "issued now" in issued.stdout
    again = run_cli(filled_database, tmp_path, "settle", "2024-03", "--issue")
    assert "already issued" in again.stdout
    refused = run_cli(filled_database, tmp_path, "settle", "2024-05", "--issue")
    assert refused.returncode == 1
    assert "period_out_of_sequence" in refused.stderr


def test_export_writes_the_statement(filled_database: dict[str, str], tmp_path: Path) -> None:
    run_cli(filled_database, tmp_path, "settle", "2024-03", "--issue")
    for fmt in ("csv", "xlsx", "pdf"):
        result = run_cli(
            filled_database, tmp_path, "export", "2024-03", "--municipality", "157", "--format", fmt
        )
        assert result.returncode == 0, result.stderr
        written = tmp_path / f"afregning-2024-03-157-Gentofte-2024-0006.{fmt}"
        assert written.exists() and written.stat().st_size > 0
    csv_text = (tmp_path / "afregning-2024-03-157-Gentofte-2024-0006.csv").read_text("utf-8-sig")
    assert "6915,00" in csv_text
    unknown = run_cli(
        filled_database, tmp_path, "export", "2024-03", "--municipality", "999", "--format", "pdf"
    )
    assert unknown.returncode == 1 and "statement_not_found" in unknown.stderr
