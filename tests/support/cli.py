"""The `ivsettle` command in a subprocess, and a free port for one that serves."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def run_cli(
    env: dict[str, str], cwd: Path, *args: str, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python -m service *args` with `env` in `cwd`; its output captured as text
    (`check`: a failure raises)."""
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env, cwd=cwd, capture_output=True, text=True, check=check,
    )  # fmt: skip


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
