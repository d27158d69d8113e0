"""Configuration profiles shared by every mounted app, and the rules that load them.

An app's config is built in layers, later ones winning:

1. the profile class below (``development``, ``testing`` or ``production``);
2. the app's own ``<package>.settings`` module;
3. ``GATEWAY_*`` keys of the source (both apps), then the app's own prefix
   (``FRONTEND_*``, ``BACKEND_*``), the same convention as Flask's
   ``from_prefixed_env``; each value is read as the type of the setting's default
   (``typed``): JSON only where the value is structured.

The source is ``os.environ`` in production and a plain mapping in tests, so tests
never edit the process environment.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Config
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from gateway.build_id import REPO_ROOT, source_digest
from gateway.secret_file import read_secrets
from gateway.tls import secure_cookie_name, tls_problems

PROFILES = ("development", "testing", "production")
# The catalogue's engines: SQLite (one machine) and PostgreSQL through psycopg 3.
DATABASE_DRIVERS = ("sqlite", "postgresql+psycopg")
DEFAULT_PROFILE = "development"

# Secrets shorter than this are refused in production: generated ones are 43 characters.
MIN_SECRET_LENGTH = 32
# Values people type while setting up. Matched whole (or as a prefix for "change...")
# so a random generated secret can never trip them.
PLACEHOLDERS = frozenset(
    {"secret", "dev", "development", "test", "testing", "password", "default", "xxx", "todo"}
)
PLACEHOLDER_PREFIXES = ("change", "replace", "your-", "your_", "<", "placeholder")


class ConfigError(Exception):
    """A profile that must not serve; ``problems`` holds one line per reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Base:
    """Defaults for every profile."""

    DEBUG = False
    TESTING = False
    # The app's own body limit, enforced also without nginx in front (SPEC 4).
    MAX_CONTENT_LENGTH = 1024 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    TRUSTED_HOSTS: list[str] | None = None
    SERVER_NAME: str | None = None
    PREFERRED_URL_SCHEME = "http"
    # The catalogue's database (backend_app.catalogue.engine): None is SQLite in the data
    # dir; postgresql+psycopg://USER:PASS@HOST:PORT/DB for several machines.
    DATABASE_URL: str | None = None
    # How long a SQLite statement waits for another writer before it fails.
    DB_BUSY_TIMEOUT_MS = 5000
    # PostgreSQL: seconds to connect, and milliseconds a statement may run, both well below
    # uWSGI's harakiri (20 s): a dead or stuck database is a 503, not a killed worker.
    DB_CONNECT_TIMEOUT = 3
    DB_STATEMENT_TIMEOUT_MS = 8000
    # Connections per app engine and worker (PostgreSQL): a worker serves one request at a
    # time, health checks add one or two. 4 workers x 2 apps x (2 + 2) x nodes stays
    # under PostgreSQL's max_connections (100) for two nodes.
    DB_POOL_SIZE = 2
    DB_MAX_OVERFLOW = 2
    # This node's name among those sharing a database (GATEWAY_NODE_NAME); None: the
    # host name and the data dir, so two nodes on one box differ.
    NODE_NAME: str | None = None
    # Seconds a client is told to wait (Retry-After) when the database does not answer.
    DB_RETRY_AFTER = 5
    # Bring the schema to this release's head (and seed an empty catalogue) when the
    # backend is built. Production leaves it to `gateway db upgrade`, which `make run` and
    # the service run once before any worker starts, never each worker at once.
    DB_AUTO_UPGRADE = True
    # The toolbar's SQLAlchemy panel reads the queries Flask-SQLAlchemy records.
    SQLALCHEMY_RECORD_QUERIES = False
    CACHE_URL = "simple"
    CACHE_DEFAULT_TIMEOUT = 300
    # The shared response cache in front of the apps (gateway.cache.middleware).
    RESPONSE_CACHE = True
    RESPONSE_CACHE_TIMEOUT = 300
    # /_gateway/metrics: the client addresses besides loopback that may read it (the
    # service's scrapers; nginx.conf allows the same, GATEWAY_METRICS_CLIENTS).
    METRICS_CLIENTS: list[str] = []
    # Where the server keeps its counts (the starters export these): uWSGI's run dir
    # (reloads) and the logs' (nginx's page-file hits). None: not served by them.
    RUN_DIR: str | None = None
    LOG_DIR: str | None = None
    # HTTPS at nginx: the certificate chain and key nginx serves (PEM files).
    TLS_CERT: str | None = None
    TLS_KEY: str | None = None
    # Seconds a /_gateway/health check may take before its part counts as down.
    HEALTH_TIMEOUT = 2.0
    # None: a digest of the code (gateway.build_id); GATEWAY_BUILD_ID overrides it.
    BUILD_ID: str | None = None
    # The toolbar and the Werkzeug debugger are opt-in per profile, never implied by DEBUG.
    DEBUG_TB_ENABLED = False
    DEBUG_TB_INTERCEPT_REDIRECTS = False
    DEBUG_TB_HOSTS = ("127.0.0.1", "::1")
    USE_DEBUGGER = False
    # CSRF is checked by the form views that need it, not on every POST: the JSON API
    # authenticates with a bearer token instead.
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = None


# flask-debugtoolbar's own panels, SQLAlchemy's included (each page's queries).
STOCK_PANELS = (
    "flask_debugtoolbar.panels.versions.VersionDebugPanel",
    "flask_debugtoolbar.panels.timer.TimerDebugPanel",
    "flask_debugtoolbar.panels.headers.HeaderDebugPanel",
    "flask_debugtoolbar.panels.request_vars.RequestVarsDebugPanel",
    "flask_debugtoolbar.panels.config_vars.ConfigVarsDebugPanel",
    "flask_debugtoolbar.panels.template.TemplateDebugPanel",
    "flask_debugtoolbar.panels.sqlalchemy.SQLAlchemyDebugPanel",
    "flask_debugtoolbar.panels.logger.LoggingPanel",
    "flask_debugtoolbar.panels.route_list.RouteListDebugPanel",
    "flask_debugtoolbar.panels.profiler.ProfilerDebugPanel",
    "flask_debugtoolbar.panels.g.GDebugPanel",
)
# The gateway's panels (gateway.devtools.panels): they see every mounted app, not just one.
GATEWAY_PANELS = (
    "gateway.devtools.panels.GatewayPanel",
    "gateway.devtools.panels.CachePanel",
    "gateway.devtools.panels.RoutesPanel",
)


class Development(Base):
    """``make dev``: debug, reloader, debugger and toolbar on both apps."""

    DEBUG = True
    DEBUG_TB_ENABLED = True
    DEBUG_TB_PANELS = (*STOCK_PANELS, *GATEWAY_PANELS)
    USE_DEBUGGER = True
    SQLALCHEMY_RECORD_QUERIES = True
    # `gateway run --port N` replaces it with the address it listens on.
    SERVER_NAME = "127.0.0.1:5000"


class Testing(Base):
    """pytest: no toolbar, exceptions reach the test, an in-process shared cache."""

    TESTING = True
    SERVER_NAME = "localhost"
    TRUSTED_HOSTS = ["localhost", "127.0.0.1"]


class Production(Base):
    """uWSGI behind nginx: everything unsafe stays off, secrets come from outside."""

    DB_AUTO_UPGRADE = False


PROFILE_CLASSES: dict[str, type[Base]] = {
    "development": Development,
    "testing": Testing,
    "production": Production,
}


def resolve_source(config: str | Mapping[str, Any] | None) -> tuple[Mapping[str, Any], str]:
    """Return the key/value source and the profile named by ``config``.

    ``None`` reads ``os.environ`` (and the generated secrets file); a profile name does
    the same with that profile; a mapping is the whole source (tests).
    """
    if config is None or isinstance(config, str):
        # Generated secrets sit below the environment, which always wins.
        source: Mapping[str, Any] = {**read_secrets(data_dir(os.environ)), **os.environ}
        profile = config or str(source.get("GATEWAY_PROFILE") or DEFAULT_PROFILE)
    else:
        source = config
        profile = str(source.get("GATEWAY_PROFILE") or DEFAULT_PROFILE)
    if profile not in PROFILES:
        raise ConfigError([f"unknown profile {profile!r} (expected one of {', '.join(PROFILES)})"])
    return source, profile


def data_dir(source: Mapping[str, Any]) -> Path:
    """Where SQLite and generated secrets live: ``GATEWAY_DATA_DIR`` or ``var/``."""
    return Path(source.get("GATEWAY_DATA_DIR") or REPO_ROOT / "var").resolve()


# What a text value means where the default is a bool; anything else is left as text,
# and refused by ``value_problems``.
TRUE, FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off", ""})
# The expected kind of a value, by the type of its default, for the refusal's wording.
KINDS: dict[type, str] = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    list: "a comma-separated list",
    tuple: "a comma-separated list",
}
CACHE_TIMEOUT = "RESPONSE_CACHE_TIMEOUT"
# A year: nginx's slots and the stores' timeouts stay in range.
MAX_CACHE_TIMEOUT = 365 * 24 * 3600


def typed(value: Any, default: Any) -> Any:
    """The text ``value`` of an environment variable as the type of the setting's
    ``default``: a bool, an int, a float, a list (comma-separated, or a JSON list), a
    dict (JSON); text where the default is text or None. A value that does not parse
    stays text, for ``value_problems`` to name. Non-text values (tests) pass as given."""
    if not isinstance(value, str) or default is None or isinstance(default, str):
        return value
    text = value.strip()
    try:
        if isinstance(default, bool):
            lowered = text.lower()
            return True if lowered in TRUE else False if lowered in FALSE else value
        if isinstance(default, int | float):
            number = type(default)(text)
            # Every number setting is a size, a count or a time: finite, never negative.
            return number if math.isfinite(number) and number >= 0 else value
        if isinstance(default, list | tuple):
            if text.startswith("["):
                items = json.loads(text)
                return items if isinstance(items, list) else value
            return [item.strip() for item in text.split(",") if item.strip()]
        if isinstance(default, dict):
            return json.loads(text)
    except ValueError:
        return value
    return value


def apply_prefixed(config: Config, source: Mapping[str, Any], prefix: str) -> list[str]:
    """Copy every ``PREFIX_KEY`` of ``source`` into ``config[KEY]``, typed like the
    default already there (the profile's or the app's own settings); return a line for
    each value that is not of its default's kind."""
    start = f"{prefix}_"
    problems = []
    for key in sorted(source):
        if key.startswith(start) and len(key) > len(start):
            name = key[len(start) :]
            default = config.get(name)
            config[name] = typed(source[key], default)
            kind = KINDS.get(type(default)) if isinstance(source[key], str) else None
            # RESPONSE_CACHE_TIMEOUT says more of itself (value_problems).
            if kind and type(config[name]) is not type(default) and name != CACHE_TIMEOUT:
                if not (type(default) is float and type(config[name]) is int):
                    problems.append(f"{name} is {source[key]!r}: expected {kind} ({key})")
    return problems


def load_config(
    config: Config, name: str, source: Mapping[str, Any], profile: str, prefix: str
) -> list[str]:
    """Fill ``config`` for the app package ``name`` mounted at ``prefix``; return a line
    for each environment value of the wrong kind."""
    config.from_object(PROFILE_CLASSES[profile])
    config.from_object(f"{name}.settings")
    config["PROFILE"] = profile
    problems = apply_prefixed(config, source, "GATEWAY")
    problems += apply_prefixed(config, source, config["ENV_PREFIX"])

    root = data_dir(source)
    config["DATA_DIR"] = str(root)
    # One catalogue file, in the backend's instance folder; the frontend reads it.
    config.setdefault("DATABASE", None)
    if not config["DATABASE"]:
        config["DATABASE"] = str(root / "backend_app" / "catalog.sqlite3")
    # A URL object, never the text: its str() and repr() hide the password (toolbar's
    # config panel, logs).
    config["DATABASE_URL"] = database_url(config["DATABASE_URL"], config["DATABASE"])
    if not config["NODE_NAME"]:
        config["NODE_NAME"] = f"{socket.gethostname()}:{root}"

    # The mount prefix makes url_for, redirects and the session cookie path correct
    # also outside a request (CLI), where no SCRIPT_NAME exists.
    config["APPLICATION_ROOT"] = prefix or "/"
    config["SESSION_COOKIE_PATH"] = prefix or "/"

    if not config["BUILD_ID"]:
        config["BUILD_ID"] = source_digest()

    # HTTPS at nginx (GATEWAY_TLS_CERT, GATEWAY_TLS_KEY): external URLs say https and the
    # session cookie is Secure, with the prefix browsers enforce for it.
    if config.get("TLS_CERT"):
        config["PREFERRED_URL_SCHEME"] = "https"
        config["SESSION_COOKIE_SECURE"] = True
        config["SESSION_COOKIE_NAME"] = secure_cookie_name(
            config["SESSION_COOKIE_NAME"], config["SESSION_COOKIE_PATH"]
        )

    hosts = config["TRUSTED_HOSTS"]
    if isinstance(hosts, str):
        config["TRUSTED_HOSTS"] = [h.strip() for h in hosts.split(",") if h.strip()] or None
    if not config["SERVER_NAME"] and config["TRUSTED_HOSTS"]:
        config["SERVER_NAME"] = config["TRUSTED_HOSTS"][0]
    return problems


def database_url(given: Any, sqlite_path: str) -> URL:
    """The catalogue's URL: ``given`` (GATEWAY_DATABASE_URL) or the SQLite file."""
    if not given:
        return URL.create("sqlite", database=sqlite_path)
    try:
        url = make_url(str(given))
    except ArgumentError:
        # The value may hold a password: say what is wrong, not what it is.
        raise ConfigError(
            [
                "GATEWAY_DATABASE_URL is not a database URL (postgresql+psycopg://USER:PASS@HOST:PORT/DB)"
            ]
        ) from None
    if url.drivername not in DATABASE_DRIVERS:
        raise ConfigError(
            [
                f"GATEWAY_DATABASE_URL {url}: unsupported driver {url.drivername!r}"
                f" (use one of {', '.join(DATABASE_DRIVERS)})"
            ]
        )
    if not url.database:
        raise ConfigError([f"GATEWAY_DATABASE_URL {url}: names no database"])
    return url


def _secret_problem(value: Any) -> str | None:
    """Say what is wrong with a secret, or ``None`` when it may be used."""
    if not value:
        return "is missing"
    text = str(value)
    lowered = text.strip().lower()
    if lowered in PLACEHOLDERS or lowered.startswith(PLACEHOLDER_PREFIXES):
        return "is a placeholder"
    if len(text) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def value_problems(config: Config) -> list[str]:
    """Settings whose value cannot work in any profile, one line each."""
    problems = []
    timeout = config["RESPONSE_CACHE_TIMEOUT"]
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int)
        or not 1 <= timeout <= MAX_CACHE_TIMEOUT
    ):
        problems.append(
            f"RESPONSE_CACHE_TIMEOUT is {timeout!r}: a whole number of seconds, at least 1 "
            f"and at most {MAX_CACHE_TIMEOUT} "
            "(GATEWAY_RESPONSE_CACHE_TIMEOUT)"
        )
    clients = config["METRICS_CLIENTS"]
    for client in clients if isinstance(clients, list) else ():
        try:
            ipaddress.ip_network(client, strict=False)
        except ValueError:
            problems.append(
                f"METRICS_CLIENTS: {client!r} is not an address or network"
                " (GATEWAY_METRICS_CLIENTS)"
            )
    return problems


def toolbar_problems(config: Config) -> list[str]:
    """Why the debug toolbar cannot start outside production (it needs the app's secret)."""
    if config["PROFILE"] == "production" or not config.get("DEBUG_TB_ENABLED"):
        return []
    if config.get("SECRET_KEY"):
        return []
    prefix = config["ENV_PREFIX"]
    return [
        f"{prefix}: the debug toolbar needs {prefix}_SECRET_KEY: "
        "run `gateway secrets` (or `make dev`) first"
    ]


def config_problems(config: Config) -> list[str]:
    """Every reason this config must not serve in production, one line each."""
    prefix = config["ENV_PREFIX"]
    problems = []
    if config["DEBUG"]:
        problems.append(f"{prefix}: DEBUG is on")
    if config.get("DEBUG_TB_ENABLED"):
        problems.append(f"{prefix}: the debug toolbar is enabled (DEBUG_TB_ENABLED)")
    if config.get("USE_DEBUGGER"):
        problems.append(f"{prefix}: the Werkzeug debugger is enabled (USE_DEBUGGER)")
    for key in config["REQUIRED_SECRETS"]:
        problem = _secret_problem(config.get(key))
        if problem:
            problems.append(f"{prefix}: {prefix}_{key} {problem}")
    if not config["TRUSTED_HOSTS"]:
        problems.append(f"{prefix}: TRUSTED_HOSTS is unset (GATEWAY_TRUSTED_HOSTS)")
    problems += tls_problems(config.get("TLS_CERT"), config.get("TLS_KEY"))
    return problems
