"""Settings sources shaped like the environment (a mapping, never os.environ itself)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from gateway.extensions import db
from gateway.factory import create_app

# Generated per run: no secret, not even a test one, lives in the repo.
TOKEN = secrets.token_urlsafe(32)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
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


def migrate(data_dir: Path) -> None:
    """What `gateway db upgrade` does before a production gateway serves ``data_dir``."""
    backend = create_app("backend_app", make_settings(data_dir))
    with backend.app_context():
        db.engine.dispose()


def production(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """A production source that may serve, changed by ``overrides`` (None removes a key),
    on a catalogue already migrated (production never migrates while it builds)."""
    migrate(tmp_path)
    settings = make_settings(
        tmp_path,
        GATEWAY_PROFILE="production",
        GATEWAY_TRUSTED_HOSTS="gw.example.org,localhost",
    )
    settings.update(overrides)
    return {k: v for k, v in settings.items() if v is not None}
