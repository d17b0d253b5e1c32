"""Alembic revisions and the DDL they share (write-once triggers)."""
