"""Fixtures: a gateway built from a mapping (never os.environ), its client and CLI runner.

The catalogue's tests run on both engines: a module that defines its ``database_url``
fixture as ``any_database`` gets every test twice, on SQLite and on a private
PostgreSQL (tests/postgres.py, marked ``integration``, one server per test session).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from gateway import build_gateway, create_app
from gateway.compose import Gateway
from gateway.extensions import db
from tests.postgres import Postgres

# Generated per run: no secret, not even a test one, lives in the repo.
TOKEN = secrets.token_urlsafe(32)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
# The debug toolbar's routes under both mounts: 404s wherever the toolbar is off.
TOOLBAR_PATHS = [
    "/_debug_toolbar/static/css/toolbar.css",
    "/_debug_toolbar/static/js/toolbar.js",
    "/_debug_toolbar/views/template/x",
    "/backend/_debug_toolbar/static/css/toolbar.css",
    "/backend/_debug_toolbar/static/js/toolbar.js",
    "/backend/_debug_toolbar/views/template/x",
]


def make_settings(data_dir: Path, **overrides: Any) -> dict[str, Any]:
    """A testing-profile source shaped like the environment."""
    return {
        "GATEWAY_PROFILE": "testing",
        "GATEWAY_DATA_DIR": str(data_dir),
        # One in-process store per test, shared by both apps of that test's gateway.
        "GATEWAY_CACHE_URL": f"simple://{data_dir.name}",
        "FRONTEND_SECRET_KEY": secrets.token_urlsafe(32),
        "BACKEND_SECRET_KEY": secrets.token_urlsafe(32),
        "BACKEND_API_TOKEN": TOKEN,
        **overrides,
    }


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One private PostgreSQL server for the whole test run, stopped by PID at the end."""
    base = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
    base.chmod(0o755)  # the server runs as the postgres user
    server = Postgres.start(base / "cluster")
    yield server
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_template(postgres: Postgres) -> str:
    """A database migrated and seeded once: each test's database is a copy of it."""
    name = "gateway_template"
    url = postgres.create_database(name)
    data = Path(tempfile.mkdtemp(prefix="gateway-pg-template-"))
    backend = create_app("backend_app", make_settings(data, GATEWAY_DATABASE_URL=url))
    with backend.app_context():
        db.engine.dispose()  # a template may have no connection
    shutil.rmtree(data, ignore_errors=True)
    return name


@pytest.fixture
def postgres_url(postgres: Postgres, postgres_template: str) -> Iterator[str]:
    """A fresh catalogue of its own on the test run's PostgreSQL server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with postgres.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def any_database(request: pytest.FixtureRequest) -> str | None:
    """``None`` (SQLite in the data dir), then a PostgreSQL URL: for catalogue tests."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def database_url() -> str | None:
    """The catalogue every test uses unless its module says otherwise: SQLite."""
    return None


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> dict[str, Any]:
    if database_url:
        return make_settings(tmp_path, GATEWAY_DATABASE_URL=database_url)
    return make_settings(tmp_path)


@pytest.fixture
def gateway(settings: dict[str, Any]) -> Iterator[Gateway]:
    built = build_gateway(settings)
    yield built
    dispose(built)


def dispose(gateway: Gateway) -> None:
    """Close every pooled connection of ``gateway``'s apps (a worker that restarts)."""
    for app in gateway.apps.values():
        with app.app_context():
            db.engine.dispose()


def corrupt_catalogue(gateway: Gateway, data_dir: Path) -> None:
    """A real fault: the SQLite file is overwritten with garbage under the running apps
    (their pooled connections closed, as a worker's are when it restarts)."""
    dispose(gateway)
    (data_dir / "backend_app" / "catalog.sqlite3").write_bytes(b"not a database" * 1000)
    for suffix in ("-wal", "-shm"):
        (data_dir / "backend_app" / f"catalog.sqlite3{suffix}").unlink(missing_ok=True)


def migrate(data_dir: Path) -> None:
    """What `gateway db upgrade` does before a production gateway serves ``data_dir``."""
    backend = create_app("backend_app", make_settings(data_dir))
    with backend.app_context():
        db.engine.dispose()


@pytest.fixture
def client(gateway: Gateway) -> Iterator[Client]:
    yield Client(gateway)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def extension(slug: str = "flask-example", **fields: str) -> dict[str, str]:
    """A valid new extension."""
    return {
        "slug": slug,
        "name": fields.pop("name", "Flask-Example"),
        "category": "testing",
        "summary": "An extension made up by the tests.",
        "homepage": "https://example.org/flask-example",
        **fields,
    }
