"""The catalogue as the release before migrations created it.

Revision ID: 0001
Revises:
Create Date: 2026-12-01

That release ran ``CREATE TABLE IF NOT EXISTS`` at every start; its databases have
these tables and no version table. This migration creates only what is missing, so
such a database is adopted as it is, every row kept, and a new one gets the same schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    text = sa.Text()
    if "categories" not in existing:
        op.create_table(
            "categories",
            sa.Column("slug", text, primary_key=True),
            sa.Column("name", text, nullable=False),
            sa.Column("description", text, nullable=False),
        )
    if "extensions" not in existing:
        op.create_table(
            "extensions",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("slug", text, nullable=False, unique=True),
            sa.Column("name", text, nullable=False),
            sa.Column("category", text, sa.ForeignKey("categories.slug"), nullable=False),
            sa.Column("summary", text, nullable=False),
            sa.Column("homepage", text, nullable=False),
            sa.Column("created_at", text, nullable=False),
            sa.Column("updated_at", text, nullable=False),
        )
    op.create_index("extensions_category", "extensions", ["category"], if_not_exists=True)
    op.create_index("extensions_updated", "extensions", ["updated_at"], if_not_exists=True)
    if "meta" not in existing:
        op.create_table(
            "meta",
            sa.Column("key", text, primary_key=True),
            sa.Column("value", text, nullable=False),
        )
    if "sign_ins" not in existing:
        op.create_table(
            "sign_ins",
            sa.Column("id", text, primary_key=True),
            sa.Column("expires_at", sa.Integer(), nullable=False),
        )


def downgrade() -> None:
    raise NotImplementedError("roll back by running the previous release on this schema")
