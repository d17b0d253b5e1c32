"""Engine and session factories, and the dialect-neutral insert-or-ignore."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from service.kit.settings import Settings
from service.models.base import Base


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine that never puts parameter values (CPR, say) into its error messages."""
    if settings.is_sqlite:
        # aiosqlite traces every statement with its parameters at DEBUG, out of reach of
        # hide_parameters: a CPR typed into a filter would reach the logs.
        logging.getLogger("aiosqlite").setLevel(max(logging.INFO, _level("aiosqlite")))
        engine = create_async_engine(
            settings.database_url,
            hide_parameters=True,
            echo=settings.echo_sql,
            connect_args={"timeout": 30},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return engine
    return create_async_engine(
        settings.database_url,
        hide_parameters=True,
        echo=settings.echo_sql,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
    )


def _level(name: str) -> int:
    return logging.getLogger(name).level


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (below), so writers take the lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # INSERT OR REPLACE (REPLACE INTO) deletes the row it replaces; without recursive
    # triggers that delete fires no trigger, so it would rewrite a write-once row past its
    # no-delete trigger. With them it is refused like any DELETE.
    cursor.execute("PRAGMA recursive_triggers=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE: a transaction takes SQLite's write lock at its start, so two writers
    # queue on busy_timeout instead of failing with "database is locked" on upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def standalone_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on an engine of its own, disposed afterwards: for the command line, the
    demo, the simulation and tests, which run outside the app's lifespan. The caller commits."""
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            yield session
    finally:
        await engine.dispose()


def dialect_insert(session: AsyncSession, table: Table | type[Base]) -> Any:
    """`INSERT` in the session's dialect (PostgreSQL's or SQLite's), the one that knows
    `ON CONFLICT`."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def insert_ignoring_conflicts(
    session: AsyncSession,
    table: Table | type[Base],
    rows: Sequence[dict[str, Any]],
    conflict_on: Sequence[str],
    returning: Any = None,
) -> Any:
    """`INSERT … ON CONFLICT (…) DO NOTHING` in the session's dialect: the one statement
    behind every idempotent write (never check-then-insert).

    With `returning` (a column), the result holds it for the rows this call inserted, and
    the rows go as one executemany of one cached statement, which SQLAlchemy sends in its
    batched "insertmanyvalues" form (for large batches: a multi-row VALUES compiled per
    call is far slower)."""
    stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=list(conflict_on))
    if returning is not None:
        return session.execute(stmt.returning(returning), list(rows))
    return session.execute(stmt.values(list(rows)))
