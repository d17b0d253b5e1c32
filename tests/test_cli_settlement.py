"""`ivsettle settle` and `ivsettle export` on a SQLite database filled through the API."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from service.main import create_app
from tests.support.api import new_api
from tests.support.cli import run_cli
from tests.support.config import NOW, service_env
from tests.support.databases import migrated_sqlite
from tests.support.factories import make_course


@pytest.fixture
def filled_database(tmp_path: Path) -> dict[str, str]:
    settings = migrated_sqlite(tmp_path / "cli.db")

    async def fill() -> None:
        app = create_app(settings)
        hospital = await new_api(app, "hospital", "hospital", "HGH", NOW)
        gentofte = await new_api(app, "municipality", "municipality", "157", NOW)
        course = await make_course(hospital, gentofte)
        await gentofte.post(
            f"/api/v1/courses/{course['id']}/complete",
            json={"end_date": "2024-04-05", "reason": "completed"},
        )
        for party in (hospital, gentofte):
            await party.client.aclose()
        await app.state.engine.dispose()

    asyncio.run(fill())
    return os.environ | service_env(settings.database_url)


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


def test_settle_approves_and_keeps_four_eyes(
    filled_database: dict[str, str], tmp_path: Path
) -> None:
    env = filled_database | {"IVSETTLE_REQUIRE_APPROVAL": "true"}
    refused = run_cli(env, tmp_path, "settle", "2024-03", "--issue")
    assert refused.returncode == 1 and "approval_required" in refused.stderr
    approved = run_cli(env, tmp_path, "settle", "2024-03", "--approve")
    assert approved.returncode == 0, approved.stderr
    assert "draft approved now" in approved.stdout
    again = run_cli(env, tmp_path, "settle", "2024-03", "--approve")
    assert "draft already approved by this client" in again.stdout
    same = run_cli(env, tmp_path, "settle", "2024-03", "--issue")
    assert same.returncode == 1 and "approval_by_same_client" in same.stderr
    both = run_cli(env, tmp_path, "settle", "2024-03", "--approve", "--issue")
    assert both.returncode != 0 and "four eyes" in both.stderr


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


def test_master_data_set_at_the_command_line_makes_the_e_invoice(
    filled_database: dict[str, str], tmp_path: Path
) -> None:
    env = filled_database
    run_cli(env, tmp_path, "settle", "2024-03", "--issue")
    export = ("export", "2024-03", "--municipality", "157", "--format", "oioubl")
    refused = run_cli(env, tmp_path, *export)
    assert refused.returncode == 1 and "master_data_missing" in refused.stderr
    assert "municipality.gln" in refused.stderr and "payer.order_reference" in refused.stderr
    bad = run_cli(env, tmp_path, "parties", "municipality", "157", "--gln", "5790000000000")
    assert bad.returncode == 1 and "gln" in bad.stderr and "check digit" in bad.stderr
    made = run_cli(
        env, tmp_path, "parties", "municipality", "157", "--legal-name", "Testkommune",
        "--cvr", "10000001", "--gln", "5790000000012", "--street-name", "Rådhusvej",
        "--building-number", "1", "--postal-zone", "2900", "--city-name", "Hellerup",
        "--source", "test values",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    made = run_cli(
        env, tmp_path, "parties", "payer", "29190623", "--gln", "5790000000029",
        "--street-name", "Kongens Vænge", "--building-number", "2", "--postal-zone", "3400",
        "--city-name", "Hillerød", "--order-reference", "IV-2021", "--accounting-cost", "1234",
        "--contact-reference", "IV", "--source", "test values",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    listed = run_cli(env, tmp_path, "parties", "list")
    assert "157 Testkommune" in listed.stdout and "test values" in listed.stdout
    written = run_cli(env, tmp_path, *export)
    assert written.returncode == 0, written.stderr
    document = (tmp_path / "afregning-2024-03-157-Gentofte-2024-0006.xml").read_bytes()
    assert b"<Invoice" in document and b"DK10000001" in document
