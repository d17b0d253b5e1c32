"""Patients, referrals, courses, corrections and visits: the care aggregate."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from service.domain.vocabulary import (
    CourseStatus,
    EndReason,
    ReferralStatus,
    RejectionReason,
    Setting,
    TreatmentType,
)
from service.models.base import Base, SerialPk, UtcDateTime, UuidPk


class Patient(Base):
    """A patient: CPR encrypted at rest, and a keyed hash to find the same patient again."""

    __tablename__ = "patients"

    id: Mapped[UuidPk]
    cpr_hash: Mapped[str] = mapped_column(String(64), unique=True)
    cpr_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Referral(Base):
    """A hospital's referral (henvisning), unique per hospital and its own reference."""

    __tablename__ = "referrals"
    __table_args__ = (UniqueConstraint("hospital_code", "external_ref"),)

    id: Mapped[UuidPk]
    hospital_code: Mapped[str] = mapped_column(ForeignKey("hospitals.code"))
    external_ref: Mapped[str] = mapped_column(String(100))
    # Keyed hash of the canonical request: a retry with the same payload is recognised
    # without storing the payload (it holds the CPR) a second time.
    payload_hash: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    department: Mapped[str | None] = mapped_column(String(200))
    treatment_type: Mapped[TreatmentType] = mapped_column(String(20))
    expected_start_date: Mapped[date]
    planned_days: Mapped[int]
    visits_per_day: Mapped[int]
    administration_times: Mapped[list[str]] = mapped_column(JSON)
    minutes_per_administration: Mapped[int]
    first_dose_given_in_hospital: Mapped[bool]
    iv_access: Mapped[str | None] = mapped_column(String(50))
    parenteral_nutrition: Mapped[bool]
    must_not_be_left_alone: Mapped[bool]
    physician_contact: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[ReferralStatus] = mapped_column(String(20), index=True)
    rejection_reason: Mapped[RejectionReason | None] = mapped_column(String(40))
    rejection_note: Mapped[str | None] = mapped_column(String(2000))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_clients.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))


class Course(Base):
    """A course (forløb): an accepted referral as the municipality treats it."""

    __tablename__ = "courses"
    __table_args__ = (
        # No double billing: one active course per patient, type and municipality.
        Index(
            "uq_courses_one_active",
            "patient_id",
            "treatment_type",
            "municipality_code",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[UuidPk]
    # The course's human number ("IV-2026-00042"): given once when the course is created,
    # from a counter per registration year (course_number_counters), so never reused and
    # never derived from the patient. Set on every row (the migration numbered the old).
    number: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    referral_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("referrals.id"), unique=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    hospital_code: Mapped[str] = mapped_column(ForeignKey("hospitals.code"))
    # The municipality's own case reference (its care system's id), set by the municipality.
    municipality_ref: Mapped[str | None] = mapped_column(String(100))
    treatment_type: Mapped[TreatmentType] = mapped_column(String(20))
    setting: Mapped[Setting] = mapped_column(String(10))
    start_date: Mapped[date] = mapped_column(index=True)
    end_date: Mapped[date | None]
    status: Mapped[CourseStatus] = mapped_column(String(20), index=True)
    end_reason: Mapped[EndReason | None] = mapped_column(String(40))
    end_note: Mapped[str | None] = mapped_column(String(2000))
    cancel_reason: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Raised by every change of the course or of its visits, in the writing transaction:
    # a settlement run reads a course again when its revision is not one an issue read.
    revision: Mapped[int] = mapped_column(default=1, server_default="1")


class CourseNumberCounter(Base):
    """The last course number given in a registration year: raised under its row lock by
    each new course, so two concurrent registrations never get the same number."""

    __tablename__ = "course_number_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int]


class CourseVersion(Base):
    """Every version of a course as it was recorded (append-only: triggers refuse UPDATE
    and DELETE). With the visits' course revisions it lets `ivsettle verify` rebuild what
    any issue read."""

    __tablename__ = "course_versions"
    __table_args__ = (UniqueConstraint("course_id", "revision"),)

    id: Mapped[SerialPk]
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"))
    revision: Mapped[int]
    # created | completed | cancelled | corrected | migrated (recorded before history was kept)
    change: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_clients.id"))
    municipality_code: Mapped[str] = mapped_column(String(3))
    hospital_code: Mapped[str] = mapped_column(String(10))
    treatment_type: Mapped[TreatmentType] = mapped_column(String(20))
    setting: Mapped[Setting] = mapped_column(String(10))
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    status: Mapped[CourseStatus] = mapped_column(String(20))


class CourseCorrection(Base):
    """A correction after the fact: who, why, and the values before and after."""

    __tablename__ = "course_corrections"

    id: Mapped[UuidPk]
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"), index=True)
    reason: Mapped[str] = mapped_column(String(2000))
    previous: Mapped[dict[str, Any]] = mapped_column(JSON)
    corrected: Mapped[dict[str, Any]] = mapped_column(JSON)
    corrected_at: Mapped[datetime] = mapped_column(UtcDateTime())
    corrected_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))


class Visit(Base):
    """A visit with its client-chosen id: a retry or an offline re-sync never duplicates it."""

    __tablename__ = "visits"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Indexed: monitoring reads a quarter's visits by their local date.
    local_date: Mapped[date] = mapped_column(index=True)
    duration_minutes: Mapped[int]
    setting: Mapped[Setting] = mapped_column(String(10))
    administered: Mapped[bool]
    # Indexed: a settlement run looks for visits recorded since the last issue.
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    # The course revision this visit's insert produced: the visits of revision R are the
    # ones with course_revision <= R (visits are never updated or deleted).
    course_revision: Mapped[int] = mapped_column(default=1, server_default="1")


class CourseTransfer(Base):
    """A change of a course's municipality: proposed by the municipality that has the course
    and in effect only once the receiving one accepts it; the region's is in effect at once.
    At most one proposal of a course awaits an answer."""

    __tablename__ = "course_transfers"
    __table_args__ = (
        Index(
            "uq_course_transfers_one_proposed",
            "course_id",
            unique=True,
            sqlite_where=text("status = 'proposed'"),
            postgresql_where=text("status = 'proposed'"),
        ),
    )

    id: Mapped[UuidPk]
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id"), index=True)
    from_municipality_code: Mapped[str] = mapped_column(
        ForeignKey("municipalities.code"), index=True
    )
    to_municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    # proposed | accepted | declined | withdrawn
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(2000))
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    proposed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_clients.id"))
    decision_note: Mapped[str | None] = mapped_column(String(2000))
