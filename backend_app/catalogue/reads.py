"""Reads of the catalogue, by both apps: each costs about the same whatever the size.

Listings walk an index in their own order (name without case, then slug), counts come
from the per-category counters kept by triggers, and search goes through the index the
engine offers for substrings (SQLite FTS5's trigram tokenizer, PostgreSQL's pg_trgm), so
a read costs about the same with 1,000 extensions as with 100,000. ``page`` numbers
still skip rows one by one; a client walking the whole list follows ``after`` (the
cursor of the last row it got), which starts at its row in the index.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    column,
    func,
    literal,
    or_,
    select,
    table,
    text,
)

from backend_app.catalogue.models import categories, extensions, sign_ins
from gateway.extensions import db

# What a reader sees of an extension (its id stays inside the database).
COLUMNS = (
    extensions.c.slug,
    extensions.c.name,
    extensions.c.category,
    extensions.c.summary,
    extensions.c.homepage,
    extensions.c.created_at,
    extensions.c.updated_at,
)
# FTS5's trigram tokenizer indexes runs of three characters: shorter text is a scan.
TRIGRAM = 3


def storable(*values: str | None) -> bool:
    """False when a value holds NUL: no stored text can (PostgreSQL refuses it in text,
    FTS5 in a query), so a lookup by it finds nothing instead of failing."""
    return not any(value and "\x00" in value for value in values)


def _dialect() -> str:
    """``sqlite`` or ``postgresql``: the engine of the current app."""
    return str(db.engine.dialect.name)


def _sort_name(value: Any = None) -> ColumnElement[Any]:
    """The listing's first sort key (the name without case), as its index holds it."""
    if _dialect() == "sqlite":
        target = extensions.c.name if value is None else literal(value)
        return target.collate("NOCASE")
    return func.lower(extensions.c.name if value is None else literal(value))


def _like(text_: str) -> str:
    """A LIKE pattern matching ``text_`` anywhere, its wildcards taken literally."""
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(query: str) -> ColumnElement[bool]:
    """Extensions whose name, summary or slug contain ``query`` (any case)."""
    fields = (extensions.c.name, extensions.c.summary, extensions.c.slug)
    if _dialect() == "postgresql":
        # pg_trgm's GIN index (migration 0002) serves ILIKE '%...%' on each column.
        return or_(*(f.ilike(_like(query), escape="\\") for f in fields))
    if len(query) < TRIGRAM:
        return or_(*(f.like(_like(query), escape="\\") for f in fields))
    phrase = '"' + query.replace('"', '""') + '"'
    found: Select[Any] = (
        select(column("rowid"))
        .select_from(table("extensions_search"))
        .where(text("extensions_search MATCH :phrase").bindparams(phrase=phrase))
    )
    matches: ColumnElement[bool] = extensions.c.id.in_(found)
    return matches


def _filters(category: str | None, query: str | None) -> list[ColumnElement[bool]]:
    where = []
    if category:
        where.append(extensions.c.category == category)
    if query:
        where.append(_matches(query))
    return where


def _count(category: str | None, query: str | None) -> int:
    """How many extensions match, from the counters when no text is searched."""
    if query:
        stmt: Select[Any] = select(func.count()).select_from(extensions)
        stmt = stmt.where(*_filters(category, query))
    elif category:
        stmt = select(categories.c.extension_count).where(categories.c.slug == category)
    else:
        stmt = select(func.coalesce(func.sum(categories.c.extension_count), 0))
    return int(db.session.execute(stmt).scalar() or 0)


def list_extensions(
    *,
    category: str | None = None,
    query: str | None = None,
    page: int = 1,
    per_page: int = 20,
    after: tuple[str, str] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of extensions (by name) and the total matching ``category``/``query``.

    ``after`` (the name and slug of the last row a client got) starts the page just
    after that row instead of skipping ``page - 1`` pages.
    """
    if not storable(category, query, *(after or ())):
        return [], 0
    stmt = select(*COLUMNS).where(*_filters(category, query))
    if after is not None:
        # (name, slug) > after, written so both engines seek the listing's index to the
        # cursor's row (SQLite scans the whole index for the row-value form).
        name, slug = after
        stmt = stmt.where(
            _sort_name() >= _sort_name(name),
            or_(_sort_name() > _sort_name(name), extensions.c.slug > slug),
        )
    else:
        stmt = stmt.offset((page - 1) * per_page)
    stmt = stmt.order_by(_sort_name(), extensions.c.slug).limit(per_page)
    rows = [dict(row) for row in db.session.execute(stmt).mappings()]
    if after is None and len(rows) < per_page and (rows or page == 1):
        # The last page: what it holds and what came before is the total (most searches
        # fit one page), no count needed.
        return rows, (page - 1) * per_page + len(rows)
    return rows, _count(category, query)


def recent_extensions(limit: int = 8) -> list[dict[str, Any]]:
    """The most recently updated extensions."""
    stmt = (
        select(*COLUMNS)
        .order_by(extensions.c.updated_at.desc(), extensions.c.id.desc())
        .limit(limit)
    )
    return [dict(row) for row in db.session.execute(stmt).mappings()]


def get_extension(slug: str) -> dict[str, Any] | None:
    """The extension with ``slug``, or ``None``."""
    if not storable(slug):
        return None
    row = db.session.execute(select(*COLUMNS).where(extensions.c.slug == slug)).mappings().first()
    return dict(row) if row else None


def list_categories() -> list[dict[str, Any]]:
    """Every category with its number of extensions, by name."""
    stmt = select(
        categories.c.slug,
        categories.c.name,
        categories.c.description,
        categories.c.extension_count.label("count"),
    ).order_by(categories.c.name)
    return [dict(row) for row in db.session.execute(stmt).mappings()]


def get_category(slug: str) -> dict[str, Any] | None:
    """The category with ``slug``, or ``None``."""
    if not storable(slug):
        return None
    stmt = select(categories.c.slug, categories.c.name, categories.c.description).where(
        categories.c.slug == slug
    )
    row = db.session.execute(stmt).mappings().first()
    return dict(row) if row else None


def category_slugs() -> set[str]:
    """The slugs of every category."""
    return set(db.session.execute(select(categories.c.slug)).scalars())


def check_readable() -> None:
    """Raise unless the current app can read the catalogue (``/_gateway/health``)."""
    db.session.execute(select(extensions.c.id).limit(1)).all()


def sign_in_valid(sign_in_id: str) -> bool:
    """True while the sign-in ``sign_in_id`` has neither ended nor expired."""
    if not storable(sign_in_id):
        return False
    stmt = select(sign_ins.c.id).where(
        sign_ins.c.id == sign_in_id, sign_ins.c.expires_at > int(time.time())
    )
    return db.session.execute(stmt).first() is not None
