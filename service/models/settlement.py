"""Issued settlement: issues, statements, their lines, and the staircase positions.

Every table here is write-once: database triggers refuse UPDATE and DELETE, so an issued
statement cannot change even by hand in SQL.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.domain.vocabulary import AdjustmentReason, LineKind, TreatmentType
from service.models.base import Base, SerialPk, UtcDateTime, UuidPk


class SettlementIssue(Base):
    """One issue of one period for all 29 municipalities (unique: a period is issued once)."""

    __tablename__ = "settlement_issues"

    id: Mapped[UuidPk]
    period: Mapped[str] = mapped_column(String(7), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    issued_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    # The inputs this issue used: tariff versions (id → document hash) and price indices.
    tariff_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    price_indices: Mapped[dict[str, Any]] = mapped_column(JSON)
    courses_considered: Mapped[int]
    # The issue chain (service.domain.chain.issue_link): this issue's hash over its
    # statements' hashes, the audit chain's head when it was made and the hash before it.
    previous_sha256: Mapped[str | None] = mapped_column(String(64))
    chain_sha256: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)
    audit_sha256: Mapped[str | None] = mapped_column(String(64))


class SettlementApproval(Base):
    """A region client's approval of a period's draft (four eyes): the SHA-256 of every
    statement's canonical draft content as approved, and who. Append-only: a later approval
    of the same period supersedes an earlier one; an issue needs the latest one, by another
    region client, of exactly the draft it recomputes."""

    __tablename__ = "settlement_approvals"

    id: Mapped[SerialPk]  # in order made: the highest of a period is its latest
    period: Mapped[str] = mapped_column(String(7), index=True)
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime())
    approved_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    # Municipality code → SHA-256 of its draft statement (presentation.content_hash).
    statement_hashes: Mapped[dict[str, Any]] = mapped_column(JSON)
    draft_sha256: Mapped[str] = mapped_column(String(64))
    """SHA-256 over the sorted (code, hash) pairs: one value to compare and to show."""
    # Course id → the review rules holding it when approved: what the approver saw left
    # out. (An issue needs no second check of them: a hold that moves money changes a
    # statement's hash.) NULL in approvals made before holds were recorded.
    held_courses: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CourseHoldRelease(Base):
    """The region's release of a course held by review rules: the rules it released (a
    rule that fires later, after a correction say, holds again), who, when and why.
    Append-only."""

    __tablename__ = "course_hold_releases"

    id: Mapped[SerialPk]
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"), index=True)
    rules: Mapped[list[str]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(2000))
    released_at: Mapped[datetime] = mapped_column(UtcDateTime())
    released_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))


class Statement(Base):
    """One municipality's statement of an issue, numbered gaplessly per payer and year."""

    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("issue_id", "municipality_code"),
        UniqueConstraint("payer_cvr", "number_year", "number"),
    )

    id: Mapped[UuidPk]
    issue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("settlement_issues.id"))
    period: Mapped[str] = mapped_column(String(7), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"))
    number_year: Mapped[int]
    number: Mapped[int]
    payer_name: Mapped[str] = mapped_column(String(200))
    payer_cvr: Mapped[str] = mapped_column(String(8))
    payer_gln: Mapped[str] = mapped_column(String(13))
    total_ore: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    content_sha256: Mapped[str] = mapped_column(String(64))


class StatementLine(Base):
    """A priced line of a statement, with what produced its price (tier, tariff version)."""

    __tablename__ = "statement_lines"

    id: Mapped[SerialPk]
    statement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("statements.id"), index=True)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"), index=True)
    kind: Mapped[LineKind] = mapped_column(String(20))
    line_period: Mapped[str] = mapped_column(String(7))
    quantity: Mapped[int]
    unit_price_ore: Mapped[int] = mapped_column(BigInteger)
    amount_ore: Mapped[int] = mapped_column(BigInteger)
    tier: Mapped[int]
    position: Mapped[int]
    treatment_type: Mapped[TreatmentType] = mapped_column(String(20))
    hospital_code: Mapped[str] = mapped_column(String(10))
    municipality_code: Mapped[str] = mapped_column(String(3))
    tariff_version_id: Mapped[int] = mapped_column(ForeignKey("tariff_versions.id"))
    adjustment: Mapped[bool]
    reason: Mapped[AdjustmentReason | None] = mapped_column(String(40))
    # What finance traces the line by, as it stood at the issue (NULL in lines issued
    # before lines carried them; then the statement's content has no such keys).
    course_number: Mapped[str | None] = mapped_column(String(20))
    course_start: Mapped[date | None]
    course_end: Mapped[date | None]
    hospital_name: Mapped[str | None] = mapped_column(String(200))
    external_ref: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(200))
    municipality_ref: Mapped[str | None] = mapped_column(String(100))


class CoursePosition(Base):
    """A course's place on the staircase, fixed when it is first billed; never reused."""

    __tablename__ = "course_positions"
    __table_args__ = (UniqueConstraint("year", "position"),)

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    year: Mapped[int]
    position: Mapped[int]
    tier: Mapped[int]
    issue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("settlement_issues.id"))


class SettlementInput(Base):
    """The courses an issue read and the revision of each: with the course and visit history
    this is everything needed to compute that issue again (`ivsettle verify`). A course
    whose current revision an issue has read owes nothing new unless time moves it."""

    __tablename__ = "settlement_inputs"
    __table_args__ = (Index("ix_settlement_inputs_course_id_revision", "course_id", "revision"),)

    issue_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("settlement_issues.id"), primary_key=True
    )
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"), primary_key=True)
    revision: Mapped[int]


class StatementFile(Base):
    """An issued statement's file as first rendered: served byte for byte from then on, so a
    library upgrade can never change a file finance has filed."""

    __tablename__ = "statement_files"
    __table_args__ = (UniqueConstraint("statement_id", "format"),)

    id: Mapped[UuidPk]
    statement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("statements.id"))
    format: Mapped[str] = mapped_column(String(10))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    rendered_at: Mapped[datetime] = mapped_column(UtcDateTime())
