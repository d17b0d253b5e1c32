"""`ivsettle parties`: the master data e-invoices need (CVR, EAN/GLN, addresses, and the
payer's terms), set at the command line as an admin would through the API."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from service.cli.app import app, fail, prepared_settings, with_ctx
from service.deps import Ctx
from service.errors import ServiceError
from service.models import Municipality
from service.reference import repository, service
from service.reference.schemas import PayerDetailsIn, PayerDetailsOut, PolicyIn

parties_app = typer.Typer(help="Master data of the e-invoices (municipalities and payers).")
app.add_typer(parties_app, name="parties")

Value = Annotated[str | None, typer.Option()]
T = TypeVar("T", bound=BaseModel)


def _body(model: type[T], **values: str | None) -> T:
    """The options given, as the API's body: a refused value exits 1 naming the field."""
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors(include_input=False):
            field = ".".join(str(part) for part in error["loc"])
            typer.echo(f"error: invalid_request: {field}: {error['msg']}", err=True)
        raise typer.Exit(code=1) from None


def _run(work: Any) -> Any:
    settings = prepared_settings()
    try:
        return asyncio.run(with_ctx(settings, work))
    except ServiceError as exc:
        fail(exc)


@parties_app.command("list")
def list_parties() -> None:
    """Every municipality and payer, with what an e-invoice still lacks."""

    async def work(ctx: Ctx) -> tuple[list[Any], list[PayerDetailsOut]]:
        municipalities = await repository.all_of(ctx.session, Municipality)
        return municipalities, await service.list_payers(ctx)

    municipalities, payers = _run(work)
    for m in municipalities:
        typer.echo(
            f"{m.code} {m.legal_name or m.name:<24} CVR {m.cvr or '-':<8} "
            f"EAN {m.gln or '-':<13} {m.master_data_source or ''}"
        )
    for p in payers:
        typer.echo(
            f"payer {p.cvr} {p.name:<20} EAN {p.gln or '-':<13} "
            f"order {p.order_reference or '-'} account {p.accounting_cost or '-'}"
        )


@parties_app.command("municipality")
def set_municipality(
    code: Annotated[str, typer.Argument(help="Kommunekode, e.g. 157")],
    legal_name: Value = None,
    cvr: Value = None,
    gln: Value = None,
    street_name: Value = None,
    building_number: Value = None,
    postal_zone: Value = None,
    city_name: Value = None,
    source: Annotated[str | None, typer.Option(help="Where the values come from")] = None,
) -> None:
    """Set a municipality's e-invoice master data (options left out stay as they are)."""
    body = _body(
        PolicyIn,
        legal_name=legal_name,
        cvr=cvr,
        gln=gln,
        street_name=street_name,
        building_number=building_number,
        postal_zone=postal_zone,
        city_name=city_name,
        master_data_source=source,
    )
    out = _run(lambda ctx: service.update_municipality(ctx, code, body))
    typer.echo(f"{out.code} {out.legal_name or out.name}: CVR {out.cvr}, EAN {out.gln}")


@parties_app.command("payer")
def set_payer(
    cvr: Annotated[str, typer.Argument(help="The payer's CVR number")],
    gln: Value = None,
    street_name: Value = None,
    building_number: Value = None,
    postal_zone: Value = None,
    city_name: Value = None,
    order_reference: Value = None,
    accounting_cost: Value = None,
    contact_reference: Value = None,
    source: Annotated[str | None, typer.Option(help="Where the values come from")] = None,
) -> None:
    """Set a payer's EAN/GLN, address and invoice terms (options left out stay)."""
    body = _body(
        PayerDetailsIn,
        gln=gln,
        street_name=street_name,
        building_number=building_number,
        postal_zone=postal_zone,
        city_name=city_name,
        order_reference=order_reference,
        accounting_cost=accounting_cost,
        contact_reference=contact_reference,
        master_data_source=source,
    )
    out = _run(lambda ctx: service.update_payer(ctx, cvr, body))
    typer.echo(f"payer {out.cvr} {out.name}: EAN {out.gln}, order {out.order_reference}")
