"""API clients: a key (stored only as a hash) bound to a role and an organisation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UtcDateTime, UuidPk


class ApiClient(Base):
    """An API client; `role` is one of `service.access.auth.ROLES`."""

    __tablename__ = "api_clients"

    id: Mapped[UuidPk]
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    org_code: Mapped[str | None] = mapped_column(String(10))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
