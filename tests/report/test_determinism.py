"""The same model always renders to the same bytes, in any process, at any time."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from service.report import region_summary_xlsx, statement_csv, statement_pdf, statement_xlsx
from service.settlement.schemas import StatementOut
from tests.support.report_builders import many_lines, region_summary, small_lines, statement

STATEMENT_RENDERERS: list[Callable[[StatementOut], bytes]] = [
    statement_csv,
    statement_xlsx,
    statement_pdf,
]


@pytest.mark.parametrize("render", STATEMENT_RENDERERS)
@pytest.mark.parametrize("issued", [True, False])
def test_statement_twice_same_bytes(render: Callable[[StatementOut], bytes], issued: bool) -> None:
    s = statement(small_lines(), issued=issued)
    assert render(s) == render(s.model_copy(deep=True))


def test_region_summary_twice_same_bytes() -> None:
    for issued in (True, False):
        r = region_summary(issued=issued)
        assert region_summary_xlsx(r) == region_summary_xlsx(r.model_copy(deep=True))


SCRIPT = """
import hashlib
from service.report import region_summary_xlsx, statement_csv, statement_pdf, statement_xlsx
from tests.support.report_builders import many_lines, region_summary, statement
s = statement(many_lines(120))
r = region_summary()
for data in (statement_csv(s), statement_xlsx(s), statement_pdf(s), region_summary_xlsx(r)):
    print(hashlib.sha256(data).hexdigest())
"""


def test_same_bytes_in_another_process_timezone_and_hash_seed() -> None:
    """Nothing from the clock, the host's time zone or set ordering leaks into the files."""
    s = statement(many_lines(120))
    r = region_summary()
    here = [
        hashlib.sha256(data).hexdigest()
        for data in (statement_csv(s), statement_xlsx(s), statement_pdf(s), region_summary_xlsx(r))
    ]
    env = {**os.environ, "PYTHONHASHSEED": "12345", "TZ": "America/New_York"}
    env.pop("SOURCE_DATE_EPOCH", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == here
