"""Fixtures: a gateway built from a mapping (never os.environ), its client and CLI runner."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from gateway import build_gateway
from gateway.mounts import Gateway

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


@pytest.fixture
def settings(tmp_path: Path) -> dict[str, Any]:
    return make_settings(tmp_path)


@pytest.fixture
def gateway(settings: dict[str, Any]) -> Gateway:
    return build_gateway(settings)


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
