"""`ivsettle serve`, `migrate` and `openapi`: run the service and export its contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from service.cli.app import app, configure_logging, describe, prepared_settings
from service.kit.settings import Settings

DEMO_ACCOUNTS = (
    Path(__file__).resolve().parents[2] / "contracts" / "examples" / "accounts.demo.json"
)
"""The demo's account strings (made up), when IVSETTLE_ACCOUNTS_FILE names no other."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo/--no-demo",
            help="Fill an empty embedded database with a simulated, settled region and "
            "print demo API keys (SQLite only)",
        ),
    ] = False,
) -> None:
    """Migrate the database to head, load reference data, and serve the API."""
    import uvicorn

    from service.main import create_app

    configure_logging()
    settings = prepared_settings(report=True)
    shown_host = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    base = f"http://{shown_host}:{port}"
    if demo:
        if not settings.is_sqlite:
            raise typer.BadParameter("the demo fills the embedded SQLite database only")
        from service.simulation.demo import prepare_demo

        last, keys = prepare_demo(settings, typer.echo)
        if settings.accounts_file is None:
            settings = settings.model_copy(update={"accounts_file": DEMO_ACCOUNTS})
            typer.echo(
                f"demo: the booking journals use the made-up account strings of {DEMO_ACCOUNTS}"
            )
        typer.echo("Demo API keys (also in ivsettle-demo-keys.json):")
        for name, key in keys.items():
            typer.echo(f"  {name}: {key}")
        region_key = next(iter(keys.values()))
        typer.echo(
            f"Try: curl -H 'Authorization: Bearer {region_key}' {base}/api/v1/settlements/{last}"
        )
        typer.echo(
            f"     curl -OJ -H 'Authorization: Bearer {region_key}' "
            f"{base}/api/v1/settlements/{last}/statements/157.pdf"
        )
    typer.echo(f"ivsettle on {describe(settings)}")
    typer.echo(f"Web pages (sign in with a key): {base}/")
    typer.echo(f"Interactive API docs: {base}/docs")
    # The app writes its own access log (redacted) and reads X-Forwarded-* itself, from
    # the configured proxies only (IVSETTLE_TRUSTED_PROXIES); uvicorn's would trust loopback.
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        proxy_headers=False,
    )


@app.command()
def migrate() -> None:
    """Migrate the database to head and load the reference data (both idempotent)."""
    configure_logging()
    settings = prepared_settings(report=True)
    typer.echo(f"database at head: {describe(settings)}")


@app.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write it")] = Path(
        "contracts/openapi.json"
    ),
) -> None:
    """Export the OpenAPI document of the running code (the contract clients are written to)."""
    output.write_text(openapi_text() + "\n", encoding="utf-8")
    typer.echo(f"wrote {output}")


def openapi_text() -> str:
    from service.main import create_app

    settings = Settings(
        database_url="sqlite+aiosqlite:///:memory:", cpr_key=_ZERO_KEY, cpr_hash_key=_ZERO_KEY
    )
    return json.dumps(create_app(settings).openapi(), indent=2, ensure_ascii=False, sort_keys=True)


_ZERO_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
