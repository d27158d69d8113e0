"""The one application factory: it builds the website and the API alike."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from gateway.cache import policy as cache_policy
from gateway.cache.backends import cache_settings
from gateway.extensions import cache, csrf, toolbar
from gateway.http.responses import WholeResponse
from gateway.http.sessions import GatewaySessionInterface
from gateway.mounts import MOUNTS, Mount, prefix_of
from gateway.settings import (
    ConfigError,
    config_problems,
    load_config,
    resolve_source,
    toolbar_problems,
    value_problems,
)


def create_app(
    name: str,
    config: str | Mapping[str, Any] | None = None,
    *,
    mounts: tuple[Mount, ...] = MOUNTS,
) -> Flask:
    """Build the app of package ``name`` (``frontend_app``, ``backend_app``, ...).

    ``config`` is a profile name, a mapping shaped like the environment
    (``GATEWAY_PROFILE``, ``GATEWAY_*``, ``BACKEND_*``, ...), or ``None`` for
    ``os.environ``. ``mounts`` tells the app where it and its siblings are mounted.
    Raises ``ConfigError`` when the production profile must not serve.
    """
    source, profile = resolve_source(config)
    prefix = prefix_of(mounts, name)
    package = importlib.import_module(name)
    app = Flask(name, instance_relative_config=False)
    problems = load_config(app.config, name, source, profile, prefix)
    # Each app gets its own instance folder inside the data dir, not the package's.
    app.instance_path = str(Path(app.config["DATA_DIR"]) / name)
    app.config["MOUNT_PREFIXES"] = {mount.app: mount.prefix for mount in mounts}
    app.config["CACHE_NAMESPACE"] = next(m.namespace for m in mounts if m.app == name)

    problems += value_problems(app.config)
    problems += config_problems(app.config) if profile == "production" else []
    # Said in one line here, instead of flask-debugtoolbar's RuntimeError at init_app.
    problems += toolbar_problems(app.config)
    if problems:
        raise ConfigError(problems)

    app.response_class = WholeResponse
    # The session cookie is read by the same function the response cache asks.
    app.session_interface = GatewaySessionInterface()
    # First, so its after_request hook runs last, after every hook of the app's own.
    cache_policy.init_app(app)
    register_extensions(app)
    version_static_urls(app)
    package.init_app(app)
    return app


def version_static_urls(app: Flask) -> None:
    """Add the build id to static URLs, so nginx may let browsers cache them for a year."""

    @app.url_defaults
    def add_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values:
            values.setdefault("v", app.config["BUILD_ID"])


def register_extensions(app: Flask) -> None:
    """Bind the shared extension objects to ``app``."""
    cache.init_app(app, config=cache_settings(app.config["CACHE_URL"]))
    csrf.init_app(app)
    # The toolbar can never be switched on in production, whatever the config says.
    if app.config["DEBUG_TB_ENABLED"] and app.config["PROFILE"] != "production":
        toolbar().init_app(app)
