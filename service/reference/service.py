"""Use cases of reference data: read municipalities and hospitals, set a policy (admin)."""

from __future__ import annotations

from service.access import audit
from service.deps import Ctx
from service.errors import NotFound
from service.models import Hospital, Municipality
from service.reference import repository
from service.reference.schemas import HospitalOut, MunicipalityOut, Policy


async def list_municipalities(ctx: Ctx) -> list[MunicipalityOut]:
    """The region's municipalities, by code."""
    rows = await repository.all_of(ctx.session, Municipality)
    return [MunicipalityOut.model_validate(m) for m in rows]


async def set_municipality_policy(ctx: Ctx, code: str, policy: Policy) -> MunicipalityOut:
    """Change whether a municipality takes parenteral-nutrition referrals; audited with the
    previous and the new policy. The reference snapshot of this process is reloaded."""
    municipality = await repository.municipality_for_update(ctx.session, code)
    if municipality is None:
        raise NotFound("municipality_not_found", "no municipality with this code")
    previous = municipality.parenteral_nutrition_policy
    municipality.parenteral_nutrition_policy = policy
    ctx.reference.invalidate()
    await audit.record(
        ctx.session,
        ctx.principal,
        ctx.now,
        "municipality.policy",
        "municipality",
        code,
        detail={"previous": previous, "new": policy},
    )
    return MunicipalityOut.model_validate(municipality)


async def list_hospitals(ctx: Ctx) -> list[HospitalOut]:
    """The hospitals that may refer, by code."""
    rows = await repository.all_of(ctx.session, Hospital)
    return [HospitalOut.model_validate(h) for h in rows]
