"""The catalogue of Flask extensions in SQLite (WAL): owned and written by the backend.

The frontend reads it through the same functions on a connection that refuses writes.
Writes run in ``BEGIN IMMEDIATE`` transactions with ``synchronous=FULL``: a write that
returned is on disk, a write that raised changed nothing. Every write that changed the
catalogue then makes the shared response cache stale (``data_changed``), in this code
path and nowhere else, so whoever writes (the API, the browsable forms, a command)
the next read anywhere is fresh.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_app_context

from gateway.response_cache import data_changed

FIXTURE = Path(__file__).parent / "fixtures" / "extensions.json"
FIELDS = ("slug", "name", "category", "summary", "homepage")
# How long a statement waits for another writer's lock before it fails.
BUSY_TIMEOUT_MS = 5000

SCHEMA = """
CREATE TABLE IF NOT EXISTS categories (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS extensions (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    category TEXT NOT NULL REFERENCES categories (slug),
    summary TEXT NOT NULL,
    homepage TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS extensions_category ON extensions (category);
CREATE INDEX IF NOT EXISTS extensions_updated ON extensions (updated_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sign_ins (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
"""


class DuplicateSlug(Exception):
    """Another extension already has this slug."""


def now() -> str:
    """The current UTC time as an ISO 8601 string."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def connect(
    path: str, *, readonly: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> sqlite3.Connection:
    """Open the catalogue; a read-only connection never creates the file."""
    if readonly:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
        db.execute("PRAGMA query_only = ON")
    else:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    db.row_factory = sqlite3.Row
    return db


def catalogue_changed() -> None:
    """After a committed change of the catalogue: every cached page derived from it is stale."""
    if has_app_context():
        data_changed()


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock up front and rolls back on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def init_db(path: str) -> bool:
    """Create the catalogue and seed it from the fixture, once per data dir (then True)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = connect(path)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        with transaction(db):
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            seeded = db.execute("SELECT 1 FROM meta WHERE key = 'seeded'").fetchone() is None
            if seeded:
                seed(db, json.loads(FIXTURE.read_text()))
                db.execute("INSERT INTO meta (key, value) VALUES ('seeded', ?)", (now(),))
    finally:
        db.close()
    return seeded


def seed(db: sqlite3.Connection, fixture: dict[str, Any]) -> None:
    """Insert the fixture's categories and extensions."""
    db.executemany(
        "INSERT INTO categories (slug, name, description) VALUES (:slug, :name, :description)",
        fixture["categories"],
    )
    stamp = now()
    db.executemany(
        "INSERT INTO extensions (slug, name, category, summary, homepage, created_at, updated_at)"
        " VALUES (:slug, :name, :category, :summary, :homepage, :stamp, :stamp)",
        [{**row, "stamp": stamp} for row in fixture["extensions"]],
    )


def get_db() -> sqlite3.Connection:
    """The connection of the current app context (read-only for readers)."""
    if "db" not in g:
        config = current_app.config
        g.db = connect(
            config["DATABASE"],
            readonly=config["DB_READONLY"],
            busy_timeout_ms=config["DB_BUSY_TIMEOUT_MS"],
        )
    db: sqlite3.Connection = g.db
    return db


def close_db(_exc: BaseException | None = None) -> None:
    """Close the app context's connection, if one was opened."""
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app: Flask) -> None:
    """Close connections at teardown; create and seed the catalogue if this app writes."""
    app.teardown_appcontext(close_db)
    if not app.config["DB_READONLY"] and init_db(app.config["DATABASE"]):
        # A new catalogue: answers cached from an earlier one must not be served.
        app.extensions["catalogue_seeded"] = True


def check_readable() -> None:
    """Raise unless the current app can read the catalogue."""
    get_db().execute("SELECT count(*) FROM extensions").fetchone()


def _row(row: sqlite3.Row) -> dict[str, Any]:
    return {key: row[key] for key in row.keys() if key != "id"}


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_extensions(
    db: sqlite3.Connection,
    *,
    category: str | None = None,
    query: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[dict[str, Any]], int]:
    """One page of extensions (by name) and the total matching ``category``/``query``."""
    where, params = [], []
    if category:
        where.append("category = ?")
        params.append(category)
    if query:
        where.append(
            "(name LIKE ? ESCAPE '\\' OR summary LIKE ? ESCAPE '\\' OR slug LIKE ? ESCAPE '\\')"
        )
        params += [_like(query)] * 3
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = db.execute(f"SELECT count(*) FROM extensions {clause}", params).fetchone()[0]
    rows = db.execute(
        f"SELECT * FROM extensions {clause} ORDER BY name COLLATE NOCASE, slug LIMIT ? OFFSET ?",
        [*params, per_page, (page - 1) * per_page],
    ).fetchall()
    return [_row(r) for r in rows], total


def recent_extensions(db: sqlite3.Connection, limit: int = 8) -> list[dict[str, Any]]:
    """The most recently updated extensions."""
    rows = db.execute(
        "SELECT * FROM extensions ORDER BY updated_at DESC, id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [_row(r) for r in rows]


def get_extension(db: sqlite3.Connection, slug: str) -> dict[str, Any] | None:
    """The extension with ``slug``, or ``None``."""
    row = db.execute("SELECT * FROM extensions WHERE slug = ?", (slug,)).fetchone()
    return _row(row) if row else None


def list_categories(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every category with its number of extensions, by name."""
    rows = db.execute(
        "SELECT c.slug, c.name, c.description, count(e.id) AS count FROM categories c"
        " LEFT JOIN extensions e ON e.category = c.slug GROUP BY c.slug ORDER BY c.name"
    ).fetchall()
    return [dict(r) for r in rows]


def get_category(db: sqlite3.Connection, slug: str) -> dict[str, Any] | None:
    """The category with ``slug``, or ``None``."""
    row = db.execute("SELECT * FROM categories WHERE slug = ?", (slug,)).fetchone()
    return dict(row) if row else None


def category_slugs(db: sqlite3.Connection) -> set[str]:
    """The slugs of every category."""
    return {row[0] for row in db.execute("SELECT slug FROM categories")}


def create_extension(db: sqlite3.Connection, fields: dict[str, str]) -> dict[str, Any]:
    """Insert a new extension; raise ``DuplicateSlug`` when the slug is taken."""
    stamp = now()
    try:
        with transaction(db):
            db.execute(
                "INSERT INTO extensions"
                " (slug, name, category, summary, homepage, created_at, updated_at)"
                " VALUES (:slug, :name, :category, :summary, :homepage, :stamp, :stamp)",
                {**fields, "stamp": stamp},
            )
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" not in str(exc):
            raise
        raise DuplicateSlug(fields["slug"]) from exc
    catalogue_changed()
    created = get_extension(db, fields["slug"])
    assert created is not None
    return created


def update_extension(
    db: sqlite3.Connection, slug: str, fields: dict[str, str]
) -> dict[str, Any] | None:
    """Change the given fields; ``None`` when ``slug`` does not exist."""
    assignments = ", ".join(f"{key} = :{key}" for key in fields if key in FIELDS)
    try:
        with transaction(db):
            cursor = db.execute(
                f"UPDATE extensions SET {assignments + ', ' if assignments else ''}"
                "updated_at = :stamp WHERE slug = :current",
                {**fields, "stamp": now(), "current": slug},
            )
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" not in str(exc):
            raise
        raise DuplicateSlug(fields.get("slug", slug)) from exc
    if cursor.rowcount == 0:
        return None
    catalogue_changed()
    return get_extension(db, fields.get("slug", slug))


def delete_extension(db: sqlite3.Connection, slug: str) -> bool:
    """Delete the extension; ``False`` when it did not exist."""
    with transaction(db):
        cursor = db.execute("DELETE FROM extensions WHERE slug = ?", (slug,))
    if cursor.rowcount == 0:
        return False
    catalogue_changed()
    return True


# -- sign-ins of the browsable API ----------------------------------------------------
# A signed cookie cannot be taken back, so each sign-in also has a row here: sign-out
# deletes it, and a cookie whose row is gone or expired opens nothing.


def add_sign_in(db: sqlite3.Connection, lifetime_seconds: int) -> str:
    """Record a new sign-in valid for ``lifetime_seconds``; return its id."""
    sign_in_id = secrets.token_urlsafe(32)
    stamp = int(time.time())
    with transaction(db):
        db.execute("DELETE FROM sign_ins WHERE expires_at <= ?", (stamp,))
        db.execute(
            "INSERT INTO sign_ins (id, expires_at) VALUES (?, ?)",
            (sign_in_id, stamp + lifetime_seconds),
        )
    return sign_in_id


def sign_in_valid(db: sqlite3.Connection, sign_in_id: str) -> bool:
    """True while the sign-in ``sign_in_id`` has neither ended nor expired."""
    row = db.execute(
        "SELECT 1 FROM sign_ins WHERE id = ? AND expires_at > ?", (sign_in_id, int(time.time()))
    ).fetchone()
    return row is not None


def end_sign_in(db: sqlite3.Connection, sign_in_id: str) -> None:
    """End a sign-in for every copy of its cookie."""
    with transaction(db):
        db.execute("DELETE FROM sign_ins WHERE id = ?", (sign_in_id,))
