"""master data of e-invoices: the municipalities' and the payers' identifiers and addresses

`municipalities`: legal name, CVR, EAN/GLN, structured address and the source of those values.
`payers`: each payer by CVR, with its EAN/GLN, address and the terms its invoices carry
(order reference, account string, reference person). NULL: not known yet (never guessed).

Revision ID: a7b8c9d0e1f3
Revises: f6a7b8c9d0e2
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7b8c9d0e1f3"
down_revision: str | None = "f6a7b8c9d0e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _address() -> list[sa.Column[str]]:
    return [
        sa.Column("cvr", sa.String(length=8), nullable=True),
        sa.Column("gln", sa.String(length=13), nullable=True),
        sa.Column("street_name", sa.String(length=200), nullable=True),
        sa.Column("building_number", sa.String(length=20), nullable=True),
        sa.Column("postal_zone", sa.String(length=10), nullable=True),
        sa.Column("city_name", sa.String(length=100), nullable=True),
    ]


def upgrade() -> None:
    # Plain ADD COLUMN: the table keeps what it has.
    for column in _address():
        op.add_column("municipalities", column)
    op.add_column("municipalities", sa.Column("legal_name", sa.String(length=200), nullable=True))
    op.add_column(
        "municipalities", sa.Column("master_data_source", sa.String(length=500), nullable=True)
    )
    op.create_table(
        "payers",
        sa.Column("cvr", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        *(c for c in _address() if c.name != "cvr"),
        sa.Column("order_reference", sa.String(length=100), nullable=True),
        sa.Column("accounting_cost", sa.String(length=100), nullable=True),
        sa.Column("contact_reference", sa.String(length=100), nullable=True),
        sa.Column("master_data_source", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("cvr", name=op.f("pk_payers")),
    )


def downgrade() -> None:
    op.drop_table("payers")
    for name in ("master_data_source", "legal_name", *(c.name for c in reversed(_address()))):
        op.drop_column("municipalities", name)
