"""Who may see a CPR number, and revealing it for a response (every reveal is audited by
the caller as a read of patient data)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.access.auth import Principal
from service.access.vault import CprVault
from service.models import Patient


def may_see_cpr(principal: Principal) -> bool:
    """The referring hospital and the treating municipality work with the patient; region
    finance settles courses and needs no CPR (data minimisation)."""
    return principal.role in ("hospital", "municipality")


async def reveal_cprs(
    session: AsyncSession, vault: CprVault, principal: Principal, patient_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The CPR numbers of the patients, when the principal may see them (else none)."""
    if not may_see_cpr(principal) or not patient_ids:
        return {}
    rows = await session.execute(
        select(Patient.id, Patient.cpr_encrypted).where(Patient.id.in_(set(patient_ids)))
    )
    return {pid: vault.decrypt(blob) for pid, blob in rows}
