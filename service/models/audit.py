"""The audit log: append-only (database triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, SerialPk, UtcDateTime


class AuditEvent(Base):
    """Who did or read what, when: one row per audited action (never a CPR number)."""

    __tablename__ = "audit_events"

    id: Mapped[SerialPk]
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    client_id: Mapped[uuid.UUID | None]
    client_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(20))
    org_code: Mapped[str | None] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    # The patient whose data was touched (pseudonymous id, never the CPR).
    patient_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The audit chain (service.domain.chain.audit_link): the row's place and hash.
    chain_seq: Mapped[int | None] = mapped_column(BigInteger, index=True, unique=True)
    chain_sha256: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The audit chain's last link (one row, id 1): the one row an audited write updates,
    as the last statement before its commit (service.access.audit)."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
