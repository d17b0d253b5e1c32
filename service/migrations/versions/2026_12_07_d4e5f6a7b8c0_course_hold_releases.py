"""review holds: the region's releases of courses held by review rules

`course_hold_releases`: append-only, and on PostgreSQL never truncated (a write-once
table: the service role may only SELECT and INSERT it).

Revision ID: d4e5f6a7b8c0
Revises: c3d4e5f6a7b9
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.migrations.write_once import create_append_only_triggers, drop_append_only_triggers

revision: str = "d4e5f6a7b8c0"
down_revision: str | None = "c3d4e5f6a7b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "course_hold_releases",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("course_id", sa.Uuid(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_course_hold_releases_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["released_by"],
            ["api_clients.id"],
            name=op.f("fk_course_hold_releases_released_by_api_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_hold_releases")),
    )
    with op.batch_alter_table("course_hold_releases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_course_hold_releases_course_id"), ["course_id"], unique=False
        )
    create_append_only_triggers("course_hold_releases", "a release is never changed")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER course_hold_releases_no_truncate BEFORE TRUNCATE ON "
            "course_hold_releases FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER course_hold_releases_no_truncate ON course_hold_releases")
    drop_append_only_triggers("course_hold_releases")
    with op.batch_alter_table("course_hold_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_hold_releases_course_id"))
    op.drop_table("course_hold_releases")
