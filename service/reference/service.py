"""Use cases of reference data: read municipalities and hospitals, set a policy (admin)."""

from __future__ import annotations

from service.access import audit
from service.deps import Ctx
from service.errors import NotFound
from service.models import Hospital, Municipality, Payer
from service.reference import repository
from service.reference.schemas import (
    HospitalOut,
    MunicipalityOut,
    PayerDetailsIn,
    PayerDetailsOut,
    PolicyIn,
)


async def list_municipalities(ctx: Ctx) -> list[MunicipalityOut]:
    """The region's municipalities, by code."""
    rows = await repository.all_of(ctx.session, Municipality)
    return [MunicipalityOut.model_validate(m) for m in rows]


async def update_municipality(ctx: Ctx, code: str, body: PolicyIn) -> MunicipalityOut:
    """Change whether a municipality takes parenteral-nutrition referrals, and its master
    data; each audited with the previous and the new values. The reference snapshot of
    this process is reloaded."""
    municipality = await repository.municipality_for_update(ctx.session, code)
    if municipality is None:
        raise NotFound("municipality_not_found", "no municipality with this code")
    given = body.model_dump(exclude_unset=True)
    policy = given.pop("parenteral_nutrition_policy", None)
    if policy is not None and policy != municipality.parenteral_nutrition_policy:
        previous = municipality.parenteral_nutrition_policy
        municipality.parenteral_nutrition_policy = policy
        ctx.reference.invalidate()
        await audit.record(
            ctx.session, ctx.principal, ctx.now, "municipality.policy", "municipality", code,
            detail={"previous": previous, "new": policy},
        )  # fmt: skip
    await _set_master_data(ctx, municipality, given, "municipality", code)
    return MunicipalityOut.model_validate(municipality)


async def list_payers(ctx: Ctx) -> list[PayerDetailsOut]:
    """Every payer a tariff version names, with its master data and invoice terms."""
    return [PayerDetailsOut.model_validate(p) for p in await repository.all_payers(ctx.session)]


async def update_payer(ctx: Ctx, cvr: str, body: PayerDetailsIn) -> PayerDetailsOut:
    """Set a payer's master data and the terms its invoices carry (audited)."""
    payer = await repository.payer_for_update(ctx.session, cvr)
    if payer is None:
        raise NotFound("payer_not_found", "no payer with this CVR number")
    await _set_master_data(ctx, payer, body.model_dump(exclude_unset=True), "payer", cvr)
    return PayerDetailsOut.model_validate(payer)


async def _set_master_data(
    ctx: Ctx, row: Municipality | Payer, given: dict[str, object], kind: str, key: str
) -> None:
    """Set the fields given (null clears one); the source says who, unless given."""
    changed = {f: v for f, v in given.items() if f != "master_data_source" and getattr(row, f) != v}
    if not changed:
        return
    previous = {f: getattr(row, f) for f in changed}
    for field, value in changed.items():
        setattr(row, field, value)
    row.master_data_source = str(
        given.get("master_data_source")
        or f"set by {ctx.principal.name} on {ctx.clock.today().isoformat()}"
    )
    await audit.record(
        ctx.session, ctx.principal, ctx.now, f"{kind}.master_data", kind, key,
        detail={"previous": previous, "new": changed, "source": row.master_data_source},
    )  # fmt: skip


async def list_hospitals(ctx: Ctx) -> list[HospitalOut]:
    """The hospitals that may refer, by code."""
    rows = await repository.all_of(ctx.session, Hospital)
    return [HospitalOut.model_validate(h) for h in rows]
