"""Write-once tables: database triggers that refuse UPDATE and DELETE (SQLite and
PostgreSQL), so issued settlement cannot change even by hand in SQL.

Used by the Alembic revisions (importable wherever the package is installed): applied
revisions depend on it, so never change what these functions emit (the SQL is the same
as when they were written); add new ones instead.
"""

from alembic import op


def create_write_once_triggers(table: str) -> None:
    _create_refusing_triggers(table, "write_once", "write-once: issued settlement never changes")


def drop_write_once_triggers(table: str) -> None:
    _drop_refusing_triggers(table, "write_once")


def create_append_only_triggers(table: str, why: str) -> None:
    """Like create_write_once_triggers, for history that is not issued settlement; `why` is
    the error message (no quotes)."""
    _create_refusing_triggers(table, "append_only", f"append-only: {why}")


def drop_append_only_triggers(table: str) -> None:
    _drop_refusing_triggers(table, "append_only")


def _create_refusing_triggers(table: str, kind: str, message: str) -> None:
    """Triggers that refuse UPDATE and DELETE on `table` with '<table> is <message>'.
    PostgreSQL: one trigger function `<table>_<kind>`; SQLite: `<table>_no_update|delete`."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION {table}_{kind}() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{table} is {message}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_{kind} BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_{kind}()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, '{table} is {message}'); END"
            )


def _drop_refusing_triggers(table: str, kind: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {table}_{kind} ON {table}")
        op.execute(f"DROP FUNCTION {table}_{kind}()")
    else:
        op.execute(f"DROP TRIGGER {table}_no_update")
        op.execute(f"DROP TRIGGER {table}_no_delete")
