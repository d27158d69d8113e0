"""How Alembic runs the catalogue's migrations: on the backend app's own engine.

One transaction for the whole upgrade: a migration that fails leaves the database as
it was, and the release is refused. SQLite: the transaction takes the write lock first
(``BEGIN IMMEDIATE``), and batch mode rebuilds tables where SQLite cannot ALTER them.
PostgreSQL: a session advisory lock lets only one node migrate at a time (the others
then find nothing to do), a lock timeout keeps a migration that waits for a busy table
from stalling every request queued behind it, and no statement timeout applies (an
index build may take longer than a request may).
"""

from __future__ import annotations

from alembic import context

from backend_app.catalogue.engine import WRITE
from gateway.extensions import db

# Any constant: the advisory lock's key for "the catalogue is being migrated".
MIGRATION_LOCK = 16_2026


def run_offline() -> None:
    """`--sql`: print the SQL instead of running it."""
    context.configure(
        url=db.engine.url, target_metadata=db.metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the backend's engine, in one transaction."""
    with db.engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql("SET lock_timeout = '5s'")
            connection.exec_driver_sql("SET statement_timeout = 0")
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            connection.commit()
        connection = connection.execution_options(**{WRITE: True})
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            # SQLite too: the "begin" event (catalogue.engine) makes its DDL transactional,
            # so the whole upgrade, version check included, is one transaction.
            transactional_ddl=True,
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
