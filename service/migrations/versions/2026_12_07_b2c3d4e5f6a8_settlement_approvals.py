"""four eyes: a period's draft is approved by one region client, issued by another

`settlement_approvals`: who approved a period's draft and the SHA-256 of each statement
as approved. Append-only (a later approval supersedes an earlier one), and on PostgreSQL
never truncated: a write-once table, so the service role may only SELECT and INSERT it.

Revision ID: b2c3d4e5f6a8
Revises: a1b2c3d4e5f7
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.migrations.write_once import create_append_only_triggers, drop_append_only_triggers

revision: str = "b2c3d4e5f6a8"
down_revision: str | None = "a1b2c3d4e5f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settlement_approvals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.Uuid(), nullable=False),
        sa.Column("statement_hashes", sa.JSON(), nullable=False),
        sa.Column("draft_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["approved_by"],
            ["api_clients.id"],
            name=op.f("fk_settlement_approvals_approved_by_api_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_approvals")),
    )
    with op.batch_alter_table("settlement_approvals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_settlement_approvals_period"), ["period"], unique=False
        )
    create_append_only_triggers(
        "settlement_approvals", "an approval is never changed, only superseded"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER settlement_approvals_no_truncate BEFORE TRUNCATE ON "
            "settlement_approvals FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER settlement_approvals_no_truncate ON settlement_approvals")
    drop_append_only_triggers("settlement_approvals")
    with op.batch_alter_table("settlement_approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_approvals_period"))
    op.drop_table("settlement_approvals")
