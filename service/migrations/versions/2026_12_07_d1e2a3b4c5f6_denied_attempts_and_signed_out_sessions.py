"""denied attempts as counted aggregates; signed-out web sessions

Revision ID: d1e2a3b4c5f6
Revises: c0723874cc7c
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d1e2a3b4c5f6"
down_revision: str | None = "c0723874cc7c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "denied_attempts",
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("minute", "address", "code", name=op.f("pk_denied_attempts")),
    )
    op.create_table(
        "signed_out_sessions",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_signed_out_sessions")),
    )
    with op.batch_alter_table("signed_out_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signed_out_sessions_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("signed_out_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signed_out_sessions_expires_at"))
    op.drop_table("signed_out_sessions")
    op.drop_table("denied_attempts")
