"""The catalogue's tables, as this release's newest migration leaves them.

The schema changes only through migrations (backend_app/migrations); these classes say
what the code reads and writes. Reads and writes use the tables' Core form
(``Extension.__table__``): rows become plain dicts, with no ORM identity map or lazy
loading between a page and its queries.

Columns a later release adds are nullable or have a default, so this release still
runs on that schema (expand, then contract in a release after).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.extensions import db


class Category(db.Model):  # type: ignore[name-defined,misc]
    """A kind of extension (ORM, forms, ...), with its number of extensions."""

    __tablename__ = "categories"

    slug: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    # Kept by triggers on `extensions` (migration 0002), so counts never scan that table
    # and stay right whichever release writes.
    extension_count: Mapped[int] = mapped_column(Integer, server_default="0")


class Extension(db.Model):  # type: ignore[name-defined,misc]
    """One Flask extension of the directory."""

    __tablename__ = "extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text, ForeignKey("categories.slug"))
    summary: Mapped[str] = mapped_column(Text)
    homepage: Mapped[str] = mapped_column(Text)
    # ISO 8601 UTC text, as the API shows them; they sort as they read.
    created_at: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("extensions_category", "category"),
        Index("extensions_updated", "updated_at"),
    )


class Meta(db.Model):  # type: ignore[name-defined,misc]
    """Facts about the catalogue itself: when it was seeded, which revisions it went through."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SignIn(db.Model):  # type: ignore[name-defined,misc]
    """A sign-in of the browsable API: sign-out deletes it on every node at once."""

    __tablename__ = "sign_ins"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    expires_at: Mapped[int] = mapped_column(Integer)


class Node(db.Model):  # type: ignore[name-defined,misc]
    """A gateway node sharing this database, and a fingerprint of its secrets."""

    __tablename__ = "nodes"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    # sha256 digests of each secret (never the secret), as JSON: nodes compare them.
    fingerprint: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[int] = mapped_column(Integer)


categories = Category.__table__
extensions = Extension.__table__
meta = Meta.__table__
sign_ins = SignIn.__table__
nodes = Node.__table__
