"""What the edge keeps of refused outsiders and ended web sessions: both prunable.

Refusals of a request whose client is not known (no key, an unknown key, a web cookie this
service did not seal or that was signed out) are counted per address, minute and code,
not written to the append-only audit log, which can never be pruned: an outsider could
grow it at will. Refusals of a known client (a revoked key, 403, 404) stay audit rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UtcDateTime


class DeniedAttempt(Base):
    """How many requests from one address were refused with one code in one minute."""

    __tablename__ = "denied_attempts"

    minute: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)


class SignedOutSession(Base):
    """A web session signed out before its cookie expired: refused until `expires_at`,
    then pruned (the sealed cookie is refused by its own age from then on)."""

    __tablename__ = "signed_out_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
