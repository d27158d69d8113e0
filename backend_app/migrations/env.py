"""How Alembic runs the catalogue's migrations: on the backend app's own engine.

One transaction for the whole upgrade: a migration that fails leaves the database as
it was, and the release is refused. SQLite: the transaction takes the write lock first
(``BEGIN IMMEDIATE``), and batch mode rebuilds tables where SQLite cannot ALTER them.
PostgreSQL: a session advisory lock lets only one node migrate at a time (the others
wait, then find nothing to do), a lock timeout keeps a migration that waits for a busy table
from stalling every request queued behind it, and no statement timeout applies (an
index build may take longer than a request may).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.migration import MigrationContext, MigrationInfo
from sqlalchemy.engine import Connection

from backend_app.catalogue.engine import WRITE
from gateway.extensions import db

# Any constant: the advisory lock's key for "the catalogue is being migrated".
MIGRATION_LOCK = 16_2026
# Seconds a node waits for another node's migration before it gives up.
LOCK_WAIT = 300


def run_offline() -> None:
    """`--sql`: print the SQL instead of running it."""
    context.configure(
        url=db.engine.url, target_metadata=db.metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def wait_for_the_lock(connection: Connection) -> None:
    """Take the migration lock, polling: a session blocked in pg_advisory_lock() holds a
    snapshot, which the other node's CREATE INDEX CONCURRENTLY waits for (a deadlock)."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        taken = connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({MIGRATION_LOCK})")
        if taken.scalar():
            connection.commit()
            return
        connection.commit()  # no transaction, so no snapshot, while waiting
        if time.monotonic() > deadline:
            raise TimeoutError(f"another migration held the lock for over {LOCK_WAIT} s")
        time.sleep(0.2)


def note_applied(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    """Tell the caller (catalogue.schema.upgrade) which revisions this run applied."""
    applied = context.config.attributes.get("applied")
    if applied is not None:
        applied.append(step.up_revision_id)


def run_online() -> None:
    """Run the migrations on the backend's engine, in one transaction."""
    with db.engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql("SET lock_timeout = '5s'")
            connection.exec_driver_sql("SET statement_timeout = 0")
            connection.commit()
            wait_for_the_lock(connection)
        else:
            # Persistent in the file: set once here, not by every connection of a worker
            # (which would wait for this very lock while a release migrates).
            # Outside any transaction (SQLite refuses it within one): on the driver's own
            # connection, which pysqlite leaves in autocommit (catalogue.engine).
            driver = connection.connection.driver_connection
            assert driver is not None  # a pooled connection, checked out above
            driver.execute("PRAGMA journal_mode = WAL")
        connection = connection.execution_options(**{WRITE: True})
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            # SQLite too: the "begin" event (catalogue.engine) makes its DDL transactional,
            # so the whole upgrade, version check included, is one transaction.
            transactional_ddl=True,
            on_version_apply=note_applied,
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if postgres:
                # Closing the session ends the advisory lock and the SET lock and
                # statement timeouts: the pool never hands them to a request.
                connection.invalidate()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
