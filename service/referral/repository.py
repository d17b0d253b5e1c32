"""SQL of patients and referrals."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.access.auth import Principal
from service.access.visibility import first_visible, visible
from service.kit.db import insert_ignoring_conflicts
from service.models import Course, Patient, Referral
from service.referral.schemas import ReferralSearch


async def patient_id_for(
    session: AsyncSession, cpr_hash: str, cpr_encrypted: bytes, now: datetime
) -> uuid.UUID:
    """Find or create the patient by the keyed CPR hash, in one statement plus a read."""
    await insert_ignoring_conflicts(
        session,
        Patient,
        [
            {
                "id": uuid.uuid4(),
                "cpr_hash": cpr_hash,
                "cpr_encrypted": cpr_encrypted,
                "created_at": now,
            }
        ],
        ["cpr_hash"],
    )
    return (
        await session.execute(select(Patient.id).where(Patient.cpr_hash == cpr_hash))
    ).scalar_one()


async def by_external_ref(
    session: AsyncSession, hospital_code: str, external_ref: str
) -> Referral | None:
    return (
        await session.scalars(
            select(Referral).where(
                Referral.hospital_code == hospital_code, Referral.external_ref == external_ref
            )
        )
    ).first()


async def insert_referral(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert unless (hospital, external_ref) exists; True when this call inserted it."""
    result = await insert_ignoring_conflicts(
        session,
        Referral,
        [values],
        ["hospital_code", "external_ref"],
    )
    return bool(result.rowcount == 1)


async def active_course(
    session: AsyncSession, patient_id: uuid.UUID, treatment_type: str, municipality_code: str
) -> Course | None:
    return (
        await session.scalars(
            select(Course).where(
                Course.patient_id == patient_id,
                Course.treatment_type == treatment_type,
                Course.municipality_code == municipality_code,
                Course.status == "active",
            )
        )
    ).first()


def visible_referrals(principal: Principal) -> Select[Referral]:
    """Referrals the principal may see: a hospital its own, a municipality those sent to it,
    the region all. Anything else is filtered out, so it answers 404."""
    return visible(
        select(Referral),
        principal,
        {"hospital": Referral.hospital_code, "municipality": Referral.municipality_code},
    )


async def visible_referral(
    session: AsyncSession, principal: Principal, referral_id: uuid.UUID, for_update: bool
) -> Referral | None:
    """The referral if the principal may see it; `for_update` locks its row until commit."""
    return await first_visible(
        session, visible_referrals(principal).where(Referral.id == referral_id), for_update
    )


async def search(
    session: AsyncSession, principal: Principal, criteria: ReferralSearch, limit: int, offset: int
) -> list[Referral]:
    """The visible referrals that match every criterion given, oldest first."""
    stmt = visible_referrals(principal)
    if criteria.status is not None:
        stmt = stmt.where(Referral.status == criteria.status)
    if criteria.municipality_code is not None:
        stmt = stmt.where(Referral.municipality_code == criteria.municipality_code)
    stmt = stmt.order_by(Referral.created_at, Referral.id).limit(limit).offset(offset)
    return list((await session.scalars(stmt)).all())


async def course_of(session: AsyncSession, referral_id: uuid.UUID) -> Course:
    """The course an accepted referral started."""
    return (await session.scalars(select(Course).where(Course.referral_id == referral_id))).one()


async def course_ids_for(
    session: AsyncSession, referral_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    if not referral_ids:
        return {}
    rows = await session.execute(
        select(Course.referral_id, Course.id).where(Course.referral_id.in_(set(referral_ids)))
    )
    return {rid: cid for rid, cid in rows}
