"""Unbound extension objects, bound to each app by the factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_caching import Cache
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

if TYPE_CHECKING:
    from flask_debugtoolbar import DebugToolbarExtension
    from flask_migrate import Migrate

# One Cache object serves every app; its store is shared because CACHE_TYPE points at
# gateway.cache.backends.shared_store, which hands every app the same backend.
cache = Cache()
csrf = CSRFProtect()
# The catalogue's database: one object, bound by both apps (backend_app.catalogue), each
# with an engine of its own (the site's refuses writes). Its sessions end with each app
# context; no session outlives a request.
db = SQLAlchemy(session_options={"expire_on_commit": False})


def toolbar() -> DebugToolbarExtension:
    """The debug toolbar, imported only by an app that runs it: a production worker
    never loads it (nor Pygments, which it pulls in), ~1.5 MB less per process."""
    from flask_debugtoolbar import DebugToolbarExtension

    return DebugToolbarExtension()


def migrate() -> Migrate:
    """Flask-Migrate (Alembic), imported only by the commands that migrate: a worker
    never loads Alembic, ~11 MB less per process. Workers never migrate."""
    from flask_migrate import Migrate

    return Migrate()
