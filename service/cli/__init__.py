"""The `ivsettle` command: serve, migrate, clients, parties, settle, export, verify, simulate,
audit, openapi. One module per command group; importing them registers their commands."""

from __future__ import annotations

from service.cli import audit, clients, parties, serve, settlement, simulate
from service.cli.app import app
from service.cli.serve import openapi_text

__all__ = [
    "app",
    "audit",
    "clients",
    "main",
    "openapi_text",
    "parties",
    "serve",
    "settlement",
    "simulate",
]


def main() -> None:
    app()
