"""objections: a municipality objects to a billed line or a course; the region answers

Revision ID: c3d4e5f6a7b9
Revises: b2c3d4e5f6a8
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3d4e5f6a7b9"
down_revision: str | None = "b2c3d4e5f6a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "objections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("municipality_code", sa.String(length=3), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("line_kind", sa.String(length=20), nullable=True),
        sa.Column("line_period", sa.String(length=7), nullable=True),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_by", sa.Uuid(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.Uuid(), nullable=True),
        sa.Column("answer_note", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_objections_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_objections_municipality_code_municipalities"),
        ),
        sa.ForeignKeyConstraint(
            ["raised_by"], ["api_clients.id"], name=op.f("fk_objections_raised_by_api_clients")
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"],
            ["api_clients.id"],
            name=op.f("fk_objections_answered_by_api_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objections")),
    )
    with op.batch_alter_table("objections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objections_course_id"), ["course_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_objections_municipality_code"), ["municipality_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_objections_period"), ["period"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("objections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objections_period"))
        batch_op.drop_index(batch_op.f("ix_objections_municipality_code"))
        batch_op.drop_index(batch_op.f("ix_objections_course_id"))
    op.drop_table("objections")
