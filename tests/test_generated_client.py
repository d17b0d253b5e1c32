"""A Python client generated from the committed contract drives the whole flow.

openapi-python-client generates `ivsettle_client` from contracts/openapi.json with
`--fail-on-warning` (and contracts/openapi-python-client.yaml, which reads the XLSX and PDF
downloads as files); mypy --strict checks tests/client_flow/flow.py against it; the script
then runs against a real server on SQLite: typed answers, money as the declared decimal
string, downloads as files, errors as problems whose code is one of the enum's values.
Without openapi-python-client the test is skipped, except under CI=true, where it fails.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.access.clients import create_client
from tests.support.cli import free_port
from tests.support.factories import fresh_cpr
from tests.support.live_server import ROOT, prepared_server, running_server

pytestmark = pytest.mark.slow

CONTRACTS = ROOT / "contracts"
FLOW = ROOT / "tests" / "client_flow" / "flow.py"
NOW = "2024-04-15T10:00:00+02:00"  # March has ended
BIN = Path(sys.executable).parent


def _generator_available() -> None:
    if importlib.util.find_spec("openapi_python_client") is not None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("openapi-python-client is missing: pip install -e '.[dev]'", pytrace=False)
    pytest.skip("openapi-python-client is not installed (pip install -e '.[dev]')")


def _run(command: list[str], cwd: Path, **env: str) -> str:
    # The venv's bin first: the generator formats its output with ruff, and a missing ruff
    # is a warning, which --fail-on-warning makes an error.
    done = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command[:4])} failed:\n{output[-4000:]}"
    return output


def test_a_generated_client_drives_the_whole_flow(tmp_path: Path) -> None:
    _generator_available()
    generated = tmp_path / "generated"
    generated.mkdir()
    _run(
        [
            *(sys.executable, "-m", "openapi_python_client", "generate"),
            "--path", str(CONTRACTS / "openapi.json"),
            "--config", str(CONTRACTS / "openapi-python-client.yaml"),
            "--meta", "none",
            "--output-path", str(generated / "ivsettle_client"),
            "--fail-on-warning",
        ],
        cwd=generated,
    )  # fmt: skip
    # The generator's own client.py fails --strict (its __exit__ passes *args on); that is
    # the template's, not the contract's: only that module is excused, nothing else.
    (generated / "mypy.ini").write_text(
        "[mypy]\n\n[mypy-ivsettle_client.client]\nignore_errors = True\n", "utf-8"
    )
    checked = _run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--no-incremental"),
            *("--config-file", str(generated / "mypy.ini")),
            str(FLOW),
        ],
        cwd=generated,  # not the project's directory: its mypy settings are for service/
        MYPYPATH=str(generated),
    )
    assert "Success" in checked, checked

    env, settings = prepared_server(tmp_path, NOW)
    keys = [
        asyncio.run(create_client(settings, name, role, org))
        for name, role, org in (
            ("hospital", "hospital", "HGH"),
            ("gentofte", "municipality", "157"),
            ("region", "region", None),
            ("controller", "region", None),
        )
    ]
    with running_server(env, free_port(), tmp_path / "server.log") as url:
        output = _run(
            [sys.executable, str(FLOW), url, *keys, fresh_cpr()],
            cwd=generated,
            PYTHONPATH=str(generated),
        )
    assert "flow ok:" in output, output
