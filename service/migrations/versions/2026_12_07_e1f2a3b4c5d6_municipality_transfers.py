"""a change of municipality waits for the receiving municipality

`course_transfers`: a course's move to another municipality, proposed by the municipality
that has it and in effect only when the receiving one accepts (the region's at once); at
most one proposal per course awaits an answer (a partial unique index).

Revision ID: e1f2a3b4c5d6
Revises: d1e2a3b4c5f6
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e1f2a3b4c5d6"
down_revision: str | None = "d1e2a3b4c5f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "course_transfers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("from_municipality_code", sa.String(length=3), nullable=False),
        sa.Column("to_municipality_code", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proposed_by", sa.Uuid(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decision_note", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_transfers_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["from_municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_course_transfers_from_municipality_code_municipalities"),
        ),
        sa.ForeignKeyConstraint(
            ["to_municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_course_transfers_to_municipality_code_municipalities"),
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by"],
            ["api_clients.id"],
            name=op.f("fk_course_transfers_proposed_by_api_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["api_clients.id"],
            name=op.f("fk_course_transfers_decided_by_api_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_transfers")),
    )
    with op.batch_alter_table("course_transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_course_transfers_course_id"), ["course_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_course_transfers_from_municipality_code"),
            ["from_municipality_code"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_course_transfers_to_municipality_code"),
            ["to_municipality_code"],
            unique=False,
        )
        batch_op.create_index(
            "uq_course_transfers_one_proposed",
            ["course_id"],
            unique=True,
            sqlite_where=sa.text("status = 'proposed'"),
            postgresql_where=sa.text("status = 'proposed'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("course_transfers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_course_transfers_one_proposed",
            sqlite_where=sa.text("status = 'proposed'"),
            postgresql_where=sa.text("status = 'proposed'"),
        )
        batch_op.drop_index(batch_op.f("ix_course_transfers_to_municipality_code"))
        batch_op.drop_index(batch_op.f("ix_course_transfers_from_municipality_code"))
        batch_op.drop_index(batch_op.f("ix_course_transfers_course_id"))
    op.drop_table("course_transfers")
