"""Reads that cost the same at 100,000 extensions; the nodes sharing the database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Expand only, so the release before still runs on it (it ignores what is new):

- ``categories.extension_count``, kept by triggers on ``extensions``: counts read one
  row per category instead of scanning (whichever release writes, the triggers count);
- indexes in the listing's order (name without case, slug), overall and per category;
- a substring search index: SQLite FTS5's trigram tokenizer (kept by triggers), or
  PostgreSQL's pg_trgm GIN index;
- ``nodes``: each node's secret digests (backend_app.catalogue.nodes).

PostgreSQL builds the indexes ``CONCURRENTLY`` (writes go on meanwhile), outside the
migration's transaction; every step is written to be run again should one fail.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_COUNTS = [
    """CREATE TRIGGER IF NOT EXISTS extensions_count_insert AFTER INSERT ON extensions
    BEGIN
        UPDATE categories SET extension_count = extension_count + 1 WHERE slug = NEW.category;
    END""",
    """CREATE TRIGGER IF NOT EXISTS extensions_count_delete AFTER DELETE ON extensions
    BEGIN
        UPDATE categories SET extension_count = extension_count - 1 WHERE slug = OLD.category;
    END""",
    """CREATE TRIGGER IF NOT EXISTS extensions_count_update AFTER UPDATE OF category ON extensions
    WHEN OLD.category IS NOT NEW.category
    BEGIN
        UPDATE categories SET extension_count = extension_count - 1 WHERE slug = OLD.category;
        UPDATE categories SET extension_count = extension_count + 1 WHERE slug = NEW.category;
    END""",
]
SQLITE_SEARCH = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS extensions_search USING fts5(
        name, summary, slug, content='extensions', content_rowid='id', tokenize='trigram'
    )""",
    """CREATE TRIGGER IF NOT EXISTS extensions_search_insert AFTER INSERT ON extensions
    BEGIN
        INSERT INTO extensions_search (rowid, name, summary, slug)
        VALUES (NEW.id, NEW.name, NEW.summary, NEW.slug);
    END""",
    """CREATE TRIGGER IF NOT EXISTS extensions_search_delete AFTER DELETE ON extensions
    BEGIN
        INSERT INTO extensions_search (extensions_search, rowid, name, summary, slug)
        VALUES ('delete', OLD.id, OLD.name, OLD.summary, OLD.slug);
    END""",
    """CREATE TRIGGER IF NOT EXISTS extensions_search_update AFTER UPDATE ON extensions
    BEGIN
        INSERT INTO extensions_search (extensions_search, rowid, name, summary, slug)
        VALUES ('delete', OLD.id, OLD.name, OLD.summary, OLD.slug);
        INSERT INTO extensions_search (rowid, name, summary, slug)
        VALUES (NEW.id, NEW.name, NEW.summary, NEW.slug);
    END""",
    "INSERT INTO extensions_search (extensions_search) VALUES ('rebuild')",
    "CREATE INDEX IF NOT EXISTS extensions_by_name ON extensions (name COLLATE NOCASE, slug)",
    """CREATE INDEX IF NOT EXISTS extensions_by_category_name
    ON extensions (category, name COLLATE NOCASE, slug)""",
]
POSTGRES_COUNTS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """CREATE OR REPLACE FUNCTION extensions_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND OLD.category IS NOT DISTINCT FROM NEW.category THEN
            RETURN NULL;
        END IF;
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            UPDATE categories SET extension_count = extension_count - 1 WHERE slug = OLD.category;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            UPDATE categories SET extension_count = extension_count + 1 WHERE slug = NEW.category;
        END IF;
        RETURN NULL;
    END $$""",
    # Taking the trigger's lock waits for running writes and holds off new ones until the
    # commit, so the count below misses no row.
    """CREATE OR REPLACE TRIGGER extensions_count
    AFTER INSERT OR DELETE OR UPDATE OF category ON extensions
    FOR EACH ROW EXECUTE FUNCTION extensions_count()""",
]
POSTGRES_INDEXES = [
    """CREATE INDEX CONCURRENTLY IF NOT EXISTS extensions_by_name
    ON extensions (lower(name), slug)""",
    """CREATE INDEX CONCURRENTLY IF NOT EXISTS extensions_by_category_name
    ON extensions (category, lower(name), slug)""",
    """CREATE INDEX CONCURRENTLY IF NOT EXISTS extensions_updated_id
    ON extensions (updated_at, id)""",
    """CREATE INDEX CONCURRENTLY IF NOT EXISTS extensions_search_trgm ON extensions
    USING gin (name gin_trgm_ops, summary gin_trgm_ops, slug gin_trgm_ops)""",
]
BACKFILL = """UPDATE categories SET extension_count =
    (SELECT count(*) FROM extensions WHERE extensions.category = categories.slug)"""


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "extension_count" not in {c["name"] for c in inspector.get_columns("categories")}:
        op.add_column(
            "categories",
            sa.Column("extension_count", sa.Integer(), nullable=False, server_default="0"),
        )
    if not inspector.has_table("nodes"):
        op.create_table(
            "nodes",
            sa.Column("name", sa.String(200), primary_key=True),
            sa.Column("fingerprint", sa.Text(), nullable=False),
            sa.Column("seen_at", sa.Integer(), nullable=False),
        )
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_COUNTS:
            op.execute(statement)
        op.execute(BACKFILL)
        for statement in SQLITE_SEARCH:
            op.execute(statement)
        return
    for statement in POSTGRES_COUNTS:
        op.execute(statement)
    op.execute(BACKFILL)
    with op.get_context().autocommit_block():
        for statement in POSTGRES_INDEXES:
            op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("roll back by running the previous release on this schema")
