"""Who may see a CPR number, and revealing it for a response (every reveal is audited by
the caller as a read of patient data)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from service.access.auth import Principal
from service.access.vault import CprVault
from service.referral import repository


def may_see_cpr(principal: Principal) -> bool:
    """The referring hospital and the treating municipality work with the patient; region
    finance settles courses and needs no CPR (data minimisation)."""
    return principal.role in ("hospital", "municipality")


async def reveal_cprs(
    session: AsyncSession, vault: CprVault, principal: Principal, patient_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not may_see_cpr(principal):
        return {}
    blobs = await repository.patient_cpr_blobs(session, patient_ids)
    return {pid: vault.decrypt(blob) for pid, blob in blobs.items()}
