"""approvals record the courses held out of the draft they approved

`settlement_approvals.held_courses`: course id → the review rules holding it at the
approval (NULL in approvals made before). Plain ADD COLUMN: the table keeps its
append-only triggers.

Revision ID: f6a7b8c9d0e2
Revises: e5f6a7b8c9d1
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f6a7b8c9d0e2"
down_revision: str | None = "e5f6a7b8c9d1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("settlement_approvals", sa.Column("held_courses", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("settlement_approvals", "held_courses")
