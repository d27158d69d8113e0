"""Writes of the catalogue: only the backend calls them (the site's engine refuses).

Each write is one transaction of its own: any read transaction of the request ends
first, SQLite takes the write lock up front (``BEGIN IMMEDIATE``), and the function
returns only after the commit, so a write that answered 2xx is durable and one that
raised changed nothing. A write that changed the catalogue then makes the shared
response cache stale (``gateway.signals.catalogue_changed``), here and nowhere else,
whoever writes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import delete, insert, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from backend_app.catalogue.engine import WRITE
from backend_app.catalogue.models import extensions, sign_ins
from backend_app.catalogue.reads import get_extension, storable
from gateway.extensions import db
from gateway.signals import catalogue_changed as changed

FIELDS = ("slug", "name", "category", "summary", "homepage")
# PostgreSQL's SQLSTATE for a unique violation; SQLite says it in the message.
UNIQUE_VIOLATION = "23505"


class DuplicateSlug(Exception):
    """Another extension already has this slug."""


def now() -> str:
    """The current UTC time as an ISO 8601 string."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def catalogue_changed() -> None:
    """After a committed change of the catalogue: every cached page derived from it is stale."""
    if has_app_context():
        changed.send(current_app._get_current_object())  # type: ignore[attr-defined]


@contextmanager
def transaction() -> Iterator[Connection]:
    """A write transaction that commits at the end and rolls back on any error."""
    session = db.session
    # Reads of this request ran in a transaction of their own: end it, so the write
    # begins afresh (and, on SQLite, with the write lock: no lock upgrade to deadlock on).
    session.rollback()
    connection = session.connection(execution_options={WRITE: True})
    try:
        yield connection
    except BaseException:
        session.rollback()
        raise
    session.commit()


def _duplicate(exc: IntegrityError) -> bool:
    """True when ``exc`` is a unique violation (the slug is taken)."""
    code = getattr(exc.orig, "sqlstate", None)
    return code == UNIQUE_VIOLATION or "UNIQUE constraint failed" in str(exc.orig)


def create_extension(fields: dict[str, str]) -> dict[str, Any]:
    """Insert a new extension; raise ``DuplicateSlug`` when the slug is taken."""
    stamp = now()
    try:
        with transaction() as connection:
            connection.execute(
                insert(extensions).values(**fields, created_at=stamp, updated_at=stamp)
            )
    except IntegrityError as exc:
        if not _duplicate(exc):
            raise
        raise DuplicateSlug(fields["slug"]) from exc
    catalogue_changed()
    created = get_extension(fields["slug"])
    assert created is not None
    return created


def update_extension(slug: str, fields: dict[str, str]) -> dict[str, Any] | None:
    """Change the given fields; ``None`` when ``slug`` does not exist."""
    if not storable(slug):
        return None
    values = {key: value for key, value in fields.items() if key in FIELDS}
    try:
        with transaction() as connection:
            result = connection.execute(
                update(extensions)
                .where(extensions.c.slug == slug)
                .values(**values, updated_at=now())
            )
    except IntegrityError as exc:
        if not _duplicate(exc):
            raise
        raise DuplicateSlug(fields.get("slug", slug)) from exc
    if result.rowcount == 0:
        return None
    catalogue_changed()
    return get_extension(fields.get("slug", slug))


def delete_extension(slug: str) -> bool:
    """Delete the extension; ``False`` when it did not exist."""
    if not storable(slug):
        return False
    with transaction() as connection:
        result = connection.execute(delete(extensions).where(extensions.c.slug == slug))
    if result.rowcount == 0:
        return False
    catalogue_changed()
    return True


# -- sign-ins of the browsable API ----------------------------------------------------
# A signed cookie cannot be taken back, so each sign-in also has a row here: sign-out
# deletes it, and a cookie whose row is gone or expired opens nothing, on every node.


def add_sign_in(lifetime_seconds: int) -> str:
    """Record a new sign-in valid for ``lifetime_seconds``; return its id."""
    sign_in_id = secrets.token_urlsafe(32)
    stamp = int(time.time())
    with transaction() as connection:
        connection.execute(delete(sign_ins).where(sign_ins.c.expires_at <= stamp))
        connection.execute(
            insert(sign_ins).values(id=sign_in_id, expires_at=stamp + lifetime_seconds)
        )
    return sign_in_id


def end_sign_in(sign_in_id: str) -> None:
    """End a sign-in for every copy of its cookie."""
    if not storable(sign_in_id):
        return
    with transaction() as connection:
        connection.execute(delete(sign_ins).where(sign_ins.c.id == sign_in_id))
