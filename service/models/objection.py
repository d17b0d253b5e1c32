"""Objections (indsigelser): a municipality's objection to a billed line or to a course,
and the region's answer. Issued statements never change: an accepted objection is fixed
by a correction or a cancellation, which the next statement settles as an adjustment."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.domain.vocabulary import LineKind, ObjectionReason, ObjectionStatus
from service.models.base import Base, UtcDateTime, UuidPk


class Objection(Base):
    __tablename__ = "objections"

    id: Mapped[UuidPk]
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    # The issued statement's period and the line objected to; all None: the course itself.
    period: Mapped[str | None] = mapped_column(String(7), index=True)
    line_kind: Mapped[LineKind | None] = mapped_column(String(20))
    line_period: Mapped[str | None] = mapped_column(String(7))
    reason: Mapped[ObjectionReason] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(String(2000))
    status: Mapped[ObjectionStatus] = mapped_column(String(20))
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    raised_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    answered_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_clients.id"))
    answer_note: Mapped[str | None] = mapped_column(String(2000))
