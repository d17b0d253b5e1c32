"""tamper evidence: truncate guards, write-once visits, hash chains

Revision ID: a1b2c3d4e5f7
Revises: e1f2a3b4c5d6
Create Date: 2026-12-07

- PostgreSQL: a statement-level BEFORE TRUNCATE trigger on every write-once and
  append-only table (row triggers do not fire on TRUNCATE).
- `visits` becomes write-once (the service only ever inserts visits).
- The issue chain (settlement_issues.previous_sha256/chain_sha256) and the audit chain
  (audit_events.chain_seq/chain_sha256, audit_chain_head): existing rows are chained here,
  with the service's own functions (service.domain.chain).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from service.domain.chain import AUDIT_FIELDS, GENESIS, audit_link, issue_link
from service.migrations.write_once import create_append_only_triggers, drop_append_only_triggers
from service.models.base import UtcDateTime

revision: str = "a1b2c3d4e5f7"
down_revision: str | None = "e1f2a3b4c5d6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table whose rows never change once written (their UPDATE/DELETE triggers exist).
GUARDED = (
    "audit_events",
    "course_versions",
    "settlement_inputs",
    "settlement_issues",
    "statements",
    "statement_lines",
    "course_positions",
    "statement_files",
    "visits",
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    create_append_only_triggers("visits", "a recorded visit never changes")
    op.add_column("settlement_issues", sa.Column("previous_sha256", sa.String(64)))
    op.add_column("settlement_issues", sa.Column("chain_sha256", sa.String(64)))
    op.add_column("settlement_issues", sa.Column("audit_seq", sa.BigInteger()))
    op.add_column("settlement_issues", sa.Column("audit_sha256", sa.String(64)))
    op.create_index(
        "ix_settlement_issues_chain_sha256", "settlement_issues", ["chain_sha256"], unique=True
    )
    op.add_column("audit_events", sa.Column("chain_seq", sa.BigInteger()))
    op.add_column("audit_events", sa.Column("chain_sha256", sa.String(64)))
    op.create_index("ix_audit_events_chain_seq", "audit_events", ["chain_seq"], unique=True)
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    _chain_existing_rows()
    if _postgres():
        op.execute(
            """
            CREATE FUNCTION refuse_truncate() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% is write-once: it is never truncated', TG_TABLE_NAME;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in GUARDED:
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate()"
            )


def downgrade() -> None:
    if _postgres():
        for table in GUARDED:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION refuse_truncate()")
    op.drop_table("audit_chain_head")
    op.drop_index("ix_audit_events_chain_seq", "audit_events")
    op.drop_index("ix_settlement_issues_chain_sha256", "settlement_issues")
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35): a batch copy would lose the triggers.
    for table, column in (
        ("audit_events", "chain_sha256"),
        ("audit_events", "chain_seq"),
        ("settlement_issues", "audit_sha256"),
        ("settlement_issues", "audit_seq"),
        ("settlement_issues", "chain_sha256"),
        ("settlement_issues", "previous_sha256"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    drop_append_only_triggers("visits")


def _lift(table: str, trigger: str) -> None:
    if _postgres():
        op.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    else:
        op.execute(f"DROP TRIGGER {table}_no_update")


def _restore(table: str, trigger: str, sqlite_message: str) -> None:
    if _postgres():
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
    else:  # the same trigger as the revision that made it
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN "
            f"SELECT RAISE(ABORT, '{table} is {sqlite_message}'); END"
        )


def _chain_existing_rows() -> None:
    bind = op.get_bind()
    issues = sa.table(
        "settlement_issues",
        sa.column("id", sa.Uuid()),
        sa.column("period", sa.String()),
        sa.column("previous_sha256", sa.String()),
        sa.column("chain_sha256", sa.String()),
    )
    statements = sa.table(
        "statements",
        sa.column("issue_id", sa.Uuid()),
        sa.column("municipality_code", sa.String()),
        sa.column("number_year", sa.Integer()),
        sa.column("number", sa.Integer()),
        sa.column("content_sha256", sa.String()),
    )
    rows = bind.execute(sa.select(issues.c.id, issues.c.period).order_by(issues.c.period)).all()
    if rows:
        _lift("settlement_issues", "settlement_issues_write_once")
        previous = GENESIS
        for issue_id, period in rows:
            own = bind.execute(
                sa.select(
                    statements.c.municipality_code,
                    statements.c.number_year,
                    statements.c.number,
                    statements.c.content_sha256,
                ).where(statements.c.issue_id == issue_id)
            ).all()
            chained = issue_link(previous, period, [tuple(s) for s in own], None)
            bind.execute(
                issues.update()
                .where(issues.c.id == issue_id)
                .values(previous_sha256=previous, chain_sha256=chained)
            )
            previous = chained
        _restore(
            "settlement_issues",
            "settlement_issues_write_once",
            "write-once: issued settlement never changes",
        )
    audit = sa.table(
        "audit_events",
        sa.column("id", sa.BigInteger()),
        sa.column("at", UtcDateTime()),
        sa.column("client_id", sa.Uuid()),
        sa.column("client_name", sa.String()),
        sa.column("role", sa.String()),
        sa.column("org_code", sa.String()),
        sa.column("action", sa.String()),
        sa.column("object_type", sa.String()),
        sa.column("object_id", sa.String()),
        sa.column("patient_id", sa.Uuid()),
        sa.column("request_id", sa.String()),
        sa.column("detail", sa.JSON()),
        sa.column("chain_seq", sa.BigInteger()),
        sa.column("chain_sha256", sa.String()),
    )
    events = bind.execute(
        sa.select(audit.c.id, *(audit.c[name] for name in AUDIT_FIELDS)).order_by(audit.c.id)
    ).all()
    head = (0, GENESIS)
    if events:
        _lift("audit_events", "audit_events_append_only")
        for seq, event in enumerate(events, start=1):
            chained = audit_link(head[1], seq, dict(event._mapping))
            bind.execute(
                audit.update()
                .where(audit.c.id == event.id)
                .values(chain_seq=seq, chain_sha256=chained)
            )
            head = (seq, chained)
        _restore("audit_events", "audit_events_append_only", "append-only")
    op.execute(
        sa.text("INSERT INTO audit_chain_head (id, seq, sha256) VALUES (1, :seq, :sha)").bindparams(
            seq=head[0], sha=head[1]
        )
    )
