"""The catalogue's engines: how each app connects, and what a failed connection means.

Both apps bind the one ``db`` (gateway.extensions); each gets an engine of its own from
``engine_settings``. The backend's writes; the site's refuses to (SQLite's
``query_only``, PostgreSQL's ``default_transaction_read_only``), so only the API can
change the catalogue, whatever a view of the site calls.

SQLite: every connection is set up in a ``connect`` event (foreign keys, busy timeout,
``synchronous=FULL``: a committed write is on disk; WAL is set on the file when it is
migrated), and pysqlite's own
transaction handling is replaced by an explicit ``BEGIN``; a write transaction takes
the write lock up front (``BEGIN IMMEDIATE``), so two writers never deadlock on a lock
upgrade. PostgreSQL: a connect timeout and a statement timeout below uWSGI's harakiri,
and a ping at each checkout (``pool_pre_ping``), so a restarted server costs no worker.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# The execution option a write transaction sets on its connection (catalogue.writes).
WRITE = "catalogue_write"
# Errors that mean "the database does not answer now" (down, restarting, locked, too
# slow): 503 with Retry-After. Anything else (a corrupt file) stays a 500.
UNAVAILABLE = (OperationalError, DisconnectionError, PoolTimeout)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot answer now, rather than a bug."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, UNAVAILABLE)


def shown(url: URL) -> str:
    """``url`` as logs, health, ``gateway mounts`` and the toolbar may show it."""
    return url.render_as_string(hide_password=True)


def scrub(text: str, url: URL) -> str:
    """``text`` (an error message) without the password of ``url``, should it appear."""
    if url.password:
        text = text.replace(str(url.password), "***")
    return re.sub(r"password=\S+", "password=***", text)


def sqlite_url(url: URL, *, readonly: bool) -> URL:
    """The URL pysqlite opens; a reader's never creates the file (``mode=rw``)."""
    if not readonly:
        # The writer creates the file (and its folder, in the data dir) on first start.
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
        return url
    path = quote(str(url.database))
    return URL.create("sqlite", database=f"file:{path}", query={"mode": "rw", "uri": "true"})


def engine_settings(config: dict[str, Any] | Any, *, readonly: bool) -> tuple[URL, dict[str, Any]]:
    """The URL and ``create_engine`` options of an app's engine."""
    url: URL = config["DATABASE_URL"]
    if url.get_backend_name() == "sqlite":
        # The busy timeout is set per connection in the connect event, in milliseconds.
        return sqlite_url(url, readonly=readonly), {}
    options = [f"-c statement_timeout={int(config['DB_STATEMENT_TIMEOUT_MS'])}"]
    if readonly:
        options.append("-c default_transaction_read_only=on")
    return url, {
        "pool_pre_ping": True,
        "pool_size": int(config["DB_POOL_SIZE"]),
        "max_overflow": int(config["DB_MAX_OVERFLOW"]),
        # Waiting for a free connection of this worker's pool is bounded as well.
        "pool_timeout": int(config["DB_CONNECT_TIMEOUT"]),
        "connect_args": {
            "connect_timeout": int(config["DB_CONNECT_TIMEOUT"]),
            "options": " ".join(options),
            "application_name": f"gateway {'site' if readonly else 'api'}",
        },
    }


def configure(app: Flask, *, readonly: bool) -> None:
    """Set the Flask-SQLAlchemy keys of ``app`` before ``db.init_app``."""
    url, options = engine_settings(app.config, readonly=readonly)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def prepare_sqlite(engine: Engine, *, readonly: bool, busy_timeout_ms: int) -> None:
    """Set every new SQLite connection up, and begin transactions ourselves."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite would BEGIN lazily before DML only; the "begin" event below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if readonly:
            cursor.execute("PRAGMA query_only = ON")
        else:
            # WAL is a property of the file, set when it is migrated (migrations/env.py).
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
