"""The catalogue's schema: Alembic migrations (backend_app/migrations), and the seed.

``upgrade`` brings the database to this release's newest revision and seeds an empty
catalogue from the fixture. It runs before any worker serves a release (`gateway db
upgrade`, from `make run`, `deploy/install` and `service uwsgi reload`), and when the
backend is built in development and tests (``DB_AUTO_UPGRADE``).

Migrations expand, then contract in a later release, so the previous release runs on
the newer schema: a database already past this release's newest revision (a rollback)
is left alone. Alembic's version table holds only the newest revision, so each upgrade
also records the whole chain it applied (``meta.schema_revisions``): a release finds
its own newest revision there and knows the database is ahead, not foreign.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from backend_app.catalogue.models import categories, extensions, meta
from backend_app.catalogue.writes import now, transaction
from gateway.extensions import db

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "extensions.json"
CHAIN_KEY = "schema_revisions"


class SchemaError(Exception):
    """The database's schema cannot serve this release; the message says why."""


@dataclass(frozen=True)
class SchemaState:
    """Where the database stands beside this release's migrations."""

    revision: str | None  # the database's (None: no version table yet)
    head: str  # this release's newest
    status: str  # current, behind, ahead, foreign

    def describe(self) -> str:
        """One line for `gateway db current` and `gateway check`."""
        where = self.revision or "no revision (empty, or created before migrations)"
        return {
            "current": f"at {self.head}, this release's newest revision",
            "behind": f"at {where}; this release needs {self.head}: run `gateway db upgrade`",
            "ahead": f"at {where}, newer than this release's {self.head} and built on it",
            "foreign": f"at {where}, a revision this release does not know",
        }[self.status]


def config() -> Config:
    """Alembic's configuration (as Flask-Migrate builds it): the URL is the current
    app's engine's, which env.py uses."""
    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def chain() -> list[str]:
    """This release's revisions, oldest first."""
    return [rev.revision for rev in reversed(list(_script().walk_revisions()))]


def _recorded_chain() -> list[str]:
    """The revisions the database went through, as the newest upgrade recorded them."""
    if not inspect(db.engine).has_table("meta"):
        return []
    value = db.session.execute(select(meta.c.value).where(meta.c.key == CHAIN_KEY)).scalar()
    db.session.rollback()
    return list(json.loads(value)) if value else []


def state() -> SchemaState:
    """Compare the database's revision with this release's."""
    head = _script().get_current_head()
    assert head is not None, "backend_app/migrations has no revision"
    with db.engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    if revision == head:
        return SchemaState(revision, head, "current")
    if revision is None or revision in chain():
        return SchemaState(revision, head, "behind")
    status = "ahead" if head in _recorded_chain() else "foreign"
    return SchemaState(revision, head, status)


class Upgrade(NamedTuple):
    """What ``upgrade`` found and did."""

    before: SchemaState
    applied: list[str]  # the revisions this call ran (another node may have run them)
    seeded: bool


def upgrade() -> Upgrade:
    """Migrate to this release's newest revision, then seed an empty catalogue.

    A database ahead of this release is left as it is; a foreign one raises.
    """
    before = state()
    applied: list[str] = []
    if before.status == "foreign":
        raise SchemaError(f"the database is {before.describe()}")
    if before.status == "behind":
        cfg = config()
        cfg.attributes["applied"] = applied  # env.py notes each revision it runs
        try:
            command.upgrade(cfg, "head")
        except (CommandError, SQLAlchemyError) as exc:
            # The whole upgrade was one transaction: the database is as it was.
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise SchemaError(
                f"the migration to {before.head} failed, nothing changed: {reason[0]}"
            ) from exc
    if before.status != "ahead":
        _record_chain()
    return Upgrade(before, applied, _seed())


def _record_chain() -> None:
    """Note every revision of this release in the database (see the module's docstring)."""
    value = json.dumps(chain())
    try:
        with transaction() as connection:
            connection.execute(meta.delete().where(meta.c.key == CHAIN_KEY))
            connection.execute(insert(meta).values(key=CHAIN_KEY, value=value))
    except IntegrityError:
        # Another node of the same release recorded it at the same moment (PostgreSQL's
        # read committed lets both delete nothing): its row says what ours would.
        if not _has_meta(CHAIN_KEY):
            raise


def _has_meta(key: str) -> bool:
    """True when the catalogue's meta table holds ``key``."""
    with transaction() as connection:
        return connection.execute(select(meta.c.key).where(meta.c.key == key)).first() is not None


def _seed() -> bool:
    """Insert the fixture's categories and extensions, once per database (then True)."""
    fixture: dict[str, Any] = json.loads(FIXTURE.read_text())
    try:
        with transaction() as connection:
            if connection.execute(select(meta.c.key).where(meta.c.key == "seeded")).first():
                return False
            connection.execute(insert(categories), fixture["categories"])
            stamp = now()
            rows = [
                {**row, "created_at": stamp, "updated_at": stamp} for row in fixture["extensions"]
            ]
            connection.execute(insert(extensions), rows)
            connection.execute(insert(meta).values(key="seeded", value=stamp))
    except IntegrityError:
        # Two nodes upgrading one empty database at once both found it unseeded; the
        # other's transaction committed first, and ours rolled back whole.
        if _has_meta("seeded"):
            return False
        raise
    return True


def history() -> list[str]:
    """This release's migrations, newest first, one line each."""
    return [
        f"{rev.down_revision or '<base>'} -> {rev.revision}: {rev.doc}"
        for rev in _script().walk_revisions()
    ]
