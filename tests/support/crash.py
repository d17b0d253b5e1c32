"""`python -m tests.support.crash serve …`: the real `ivsettle` command with one test hook,
for the crash tests on SQLite (where no outside lock can stop a writer half-way).

With IVSETTLE_TEST_PAUSE_BEFORE set (a statement prefix, e.g. "INSERT INTO statement_lines"),
the first statement that starts with it is held: the process writes IVSETTLE_TEST_PAUSE_FILE
(JSON: its pid and the tables its open transaction has inserted into) and then stops in
place, its transaction open, until the test kills it. Nothing else changes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

PAUSE_BEFORE = os.environ.get("IVSETTLE_TEST_PAUSE_BEFORE", "")
PAUSE_FILE = os.environ.get("IVSETTLE_TEST_PAUSE_FILE", "")
# Never hang for ever if the test that should kill us is gone.
PAUSE_LIMIT_SECONDS = 120.0

_inserted: dict[int, list[str]] = {}


def _begin(conn: Connection) -> None:
    _inserted[id(conn)] = []


def _before_cursor_execute(
    conn: Connection, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool
) -> None:
    text = statement.lstrip()
    if PAUSE_BEFORE and text.upper().startswith(PAUSE_BEFORE.upper()):
        state = {"pid": os.getpid(), "statement": text[:80], "inserted": _inserted.get(id(conn))}
        Path(PAUSE_FILE).write_text(json.dumps(state), encoding="utf-8")
        deadline = time.monotonic() + PAUSE_LIMIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.05)  # the whole process stops here, mid-transaction
        os._exit(3)
    if text.upper().startswith("INSERT INTO "):
        _inserted.setdefault(id(conn), []).append(text.split()[2].strip('"'))


def main() -> None:
    event.listen(Engine, "begin", _begin)
    event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
    from service.cli import main as ivsettle

    ivsettle()


if __name__ == "__main__":
    main()
