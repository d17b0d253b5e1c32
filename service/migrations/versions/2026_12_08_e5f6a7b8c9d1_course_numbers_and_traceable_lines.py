"""course numbers and lines finance can trace

`courses.number`: a short human number per course ("IV-2026-00042"), unique, from a counter
per registration year (`course_number_counters`); the courses already recorded are numbered
here in the order they were created (year of creation, Copenhagen time).
`courses.municipality_ref`: the municipality's own case reference.
`statement_lines`: the course number, start and end date, the hospital's name, its referral
reference and department, and the municipality's reference, as they stood at the issue
(NULL in the lines issued before: those statements' content and hashes stay as issued).

Revision ID: e5f6a7b8c9d1
Revises: d4e5f6a7b8c0
Create Date: 2026-12-08
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "e5f6a7b8c9d1"
down_revision: str | None = "d4e5f6a7b8c0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCAL = ZoneInfo("Europe/Copenhagen")
_LINE_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("course_number", sa.String(length=20)),
    ("course_start", sa.Date()),
    ("course_end", sa.Date()),
    ("hospital_name", sa.String(length=200)),
    ("external_ref", sa.String(length=100)),
    ("department", sa.String(length=200)),
    ("municipality_ref", sa.String(length=100)),
)


def _local_year(created_at: datetime | str) -> int:
    if isinstance(created_at, str):  # SQLite hands the stored text back
        created_at = datetime.fromisoformat(created_at)
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return created_at.astimezone(_LOCAL).year


def upgrade() -> None:
    op.create_table(
        "course_number_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_course_number_counters")),
    )
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    # Plain ADD COLUMN (no batch copy): the tables keep their triggers and partial indexes.
    # SQLite cannot make a column NOT NULL later, so there it gets an empty default that a
    # trigger refuses on insert (every insert sets the number; the old rows are numbered).
    op.add_column(
        "courses",
        sa.Column(
            "number",
            sa.String(length=20),
            nullable=not sqlite,
            server_default="" if sqlite else None,
        ),
    )
    op.add_column("courses", sa.Column("municipality_ref", sa.String(length=100), nullable=True))
    for name, type_ in _LINE_COLUMNS:
        op.add_column("statement_lines", sa.Column(name, type_, nullable=True))

    rows = bind.execute(sa.text("SELECT id, created_at FROM courses ORDER BY created_at, id")).all()
    last: dict[int, int] = defaultdict(int)
    for course_id, created_at in rows:
        year = _local_year(created_at)
        last[year] += 1
        bind.execute(
            sa.text("UPDATE courses SET number = :number WHERE id = :id"),
            {"number": f"IV-{year}-{last[year]:05d}", "id": course_id},
        )
    for year, number in sorted(last.items()):
        bind.execute(
            sa.text("INSERT INTO course_number_counters (year, last_number) VALUES (:y, :n)"),
            {"y": year, "n": number},
        )
    op.create_index(op.f("ix_courses_number"), "courses", ["number"], unique=True)
    if sqlite:
        op.execute(
            "CREATE TRIGGER courses_number_required BEFORE INSERT ON courses "
            "WHEN NEW.number IS NULL OR NEW.number = '' BEGIN "
            "SELECT RAISE(ABORT, 'a course needs its number'); END"
        )
    else:
        op.alter_column("courses", "number", nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER courses_number_required")
    op.drop_index(op.f("ix_courses_number"), table_name="courses")
    for name, _ in reversed(_LINE_COLUMNS):
        op.drop_column("statement_lines", name)
    op.drop_column("courses", "municipality_ref")
    op.drop_column("courses", "number")
    op.drop_table("course_number_counters")
