"""Fixtures: a gateway built from a mapping (never os.environ), its client and CLI runner.

The catalogue's tests run on both engines: a module that defines its ``database_url``
fixture as ``any_database`` gets every test twice, on SQLite and on a private
PostgreSQL (the session's ``postgres`` fixture, marked ``integration``).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.compose import Gateway, build_gateway
from gateway.extensions import db
from gateway.factory import create_app
from tests.support.catalogue import dispose
from tests.support.client import Client
from tests.support.postgres import Postgres
from tests.support.settings import make_settings


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


@pytest.fixture
def client(gateway: Gateway) -> Iterator[Client]:
    yield Client(gateway)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
