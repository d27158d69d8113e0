"""The catalogue of Flask extensions, on Flask-SQLAlchemy: owned by the backend.

    catalogue.init_app(app, writes=True)    # the API: it writes and migrates
    catalogue.init_app(app, writes=False)   # the site: reads only

Both apps bind the one ``db`` of gateway.extensions, each with its own engine
(``engine``); ``reads`` serve both, ``writes`` only the API, ``schema`` migrates and
seeds, ``nodes`` compares the secrets of the nodes sharing a database. A database that
does not answer (down, restarting, locked past its timeout) is a 503 with Retry-After
in each app's own error format, never a 500 or a hang.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import ServiceUnavailable

from backend_app.catalogue import engine
from backend_app.catalogue.engine import UNAVAILABLE
from backend_app.catalogue.reads import (
    category_slugs,
    check_readable,
    get_category,
    get_extension,
    list_categories,
    list_extensions,
    recent_extensions,
    sign_in_valid,
)
from backend_app.catalogue.writes import (
    FIELDS,
    DuplicateSlug,
    add_sign_in,
    create_extension,
    delete_extension,
    end_sign_in,
    update_extension,
)
from gateway.extensions import db, migrate
from gateway.signals import catalogue_created

__all__ = [
    "FIELDS",
    "DuplicateSlug",
    "add_sign_in",
    "category_slugs",
    "check_readable",
    "create_extension",
    "delete_extension",
    "end_sign_in",
    "get_category",
    "get_extension",
    "init_app",
    "list_categories",
    "list_extensions",
    "recent_extensions",
    "sign_in_valid",
    "update_extension",
]

log = logging.getLogger(__name__)


def unavailable(exc: Exception) -> Response:
    """The database does not answer: 503 with Retry-After, in the app's own format."""
    url = current_app.config["DATABASE_URL"]
    reason = engine.scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, url)
    log.error("database %s does not answer: %s", engine.shown(url), reason)
    error = ServiceUnavailable(
        "The catalogue is unavailable for a moment; try again shortly.",
        retry_after=int(current_app.config["DB_RETRY_AFTER"]),
    )
    response: Response = current_app.handle_http_exception(error)  # type: ignore[assignment]
    return response


def end_session(_exc: BaseException | None = None) -> None:
    """Return this context's connection to the pool; a database that went away meanwhile
    (its rollback fails) costs that connection, never the answer already given."""
    try:
        db.session.remove()
    except SQLAlchemyError as exc:
        log.warning("database connection dropped at the end of a request: %s", type(exc).__name__)
        db.session.registry.clear()


def init_app(app: Flask, *, writes: bool) -> None:
    """Bind ``db`` to ``app`` (read-only unless ``writes``); the writer also migrates."""
    engine.configure(app, readonly=not writes)
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            engine.prepare_sqlite(
                db.engine, readonly=not writes, busy_timeout_ms=app.config["DB_BUSY_TIMEOUT_MS"]
            )
    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (teardowns run
    # in reverse): the answer has been handed to the server by then, and a failure here
    # would cut it short.
    app.teardown_appcontext(end_session)
    for error in UNAVAILABLE:
        app.register_error_handler(error, unavailable)
    if writes and app.config["DB_AUTO_UPGRADE"]:
        # Development and tests; production migrates once before any worker starts
        # (`gateway check --upgrade`), and its workers never import Alembic.
        from backend_app.catalogue import schema

        with app.app_context():
            seeded = schema.upgrade().seeded
        if seeded:
            # A new catalogue: answers cached from an earlier one must not be served.
            catalogue_created.send(app)


def bind_migrate(app: Flask) -> None:
    """Bind Flask-Migrate to the catalogue's owner, for Flask-Migrate's own commands
    (``flask --app gateway.cli:catalogue_app db ...``)."""
    from backend_app.catalogue.schema import MIGRATIONS

    migrate().init_app(app, db, directory=str(MIGRATIONS))
