"""The mount table and the composition of the mounted apps into one WSGI callable.

The table is data: a third app is one more ``Mount`` here, or one more entry of the
``GATEWAY_MOUNTS`` JSON list in the environment. The app mounted at ``""`` is the
default app of Werkzeug's ``DispatcherMiddleware``: it gets every path no other prefix
owns (``/backendx`` included). Other prefixes start with ``/`` and never end with one,
or the dispatcher and Flask's slash redirect loop.

    gateway = build_gateway("production")   # or a mapping shaped like os.environ
    gateway.apps["/backend"].url_map        # each mounted Flask app by prefix
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from gateway.build_id import source_digest
from gateway.cache.generations import page_store
from gateway.cache.middleware import EXTENSION_KEY, ResponseCache, Route
from gateway.devtools.inventory import EXTENSION_KEY as INVENTORY_KEY
from gateway.devtools.inventory import Inventory, RouteRow, mount_table, route_table
from gateway.extensions import cache
from gateway.health import HealthApp
from gateway.http.compression import Compression
from gateway.http.conditional import Conditional
from gateway.http.error_guard import JSON_PAGE, ErrorGuard, error_page
from gateway.http.metrics import (
    Family,
    Metrics,
    exposition,
    file_hits,
    open_counters,
    server_count,
)
from gateway.http.request_id import RequestIdMiddleware, configure_logging
from gateway.settings import ConfigError, resolve_source

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# The gateway's own endpoints live under this prefix, ahead of the default app.
GATEWAY_PREFIX = "/_gateway"
PREFIX_SHAPE = re.compile(r"(/[A-Za-z0-9._~-]+)+")


@dataclass(frozen=True)
class Mount:
    """One row of the mount table: where an app package is served."""

    prefix: str
    app: str
    namespace: str


MOUNTS: tuple[Mount, ...] = (
    Mount(prefix="", app="frontend_app", namespace="frontend"),
    Mount(prefix="/backend", app="backend_app", namespace="backend"),
)


def validate_mounts(mounts: tuple[Mount, ...]) -> tuple[Mount, ...]:
    """Return ``mounts`` when the table can be served; raise ``ConfigError`` otherwise."""
    problems = []
    defaults = [m for m in mounts if m.prefix == ""]
    if len(defaults) != 1:
        problems.append(f'mounts: exactly one app must have the prefix "", found {len(defaults)}')
    for mount in mounts:
        if mount.prefix and not PREFIX_SHAPE.fullmatch(mount.prefix):
            problems.append(
                f"mounts: prefix {mount.prefix!r} must start with '/' and not end with one"
            )
        if mount.prefix == GATEWAY_PREFIX:
            problems.append(f"mounts: prefix {GATEWAY_PREFIX!r} is reserved for the gateway")
    for field in ("prefix", "app", "namespace"):
        values = [getattr(m, field) for m in mounts]
        if len(values) != len(set(values)):
            problems.append(f"mounts: two entries share one {field}")
    if problems:
        raise ConfigError(problems)
    return mounts


def load_mounts(source: Mapping[str, Any]) -> tuple[Mount, ...]:
    """The mount table: ``GATEWAY_MOUNTS`` (a JSON list of objects) or ``MOUNTS``."""
    raw = source.get("GATEWAY_MOUNTS")
    if not raw:
        return MOUNTS
    try:
        rows = json.loads(raw) if isinstance(raw, str) else raw
        mounts = tuple(Mount(**row) for row in rows)
    except (ValueError, TypeError) as exc:
        raise ConfigError([f"GATEWAY_MOUNTS is not a list of mount objects: {exc}"]) from None
    return validate_mounts(mounts)


def prefix_of(mounts: Iterable[Mount], app: str) -> str:
    """The prefix the package ``app`` is mounted at."""
    for mount in mounts:
        if mount.app == app:
            return mount.prefix
    raise ConfigError([f"mounts: no mount for app {app!r}"])


class Gateway:
    """The composed WSGI callable, with the Flask app behind each prefix."""

    def __init__(self, apps: dict[str, Flask], mounts: tuple[Mount, ...]) -> None:
        self.apps = apps
        self.mounts = mounts
        default = apps[""]
        self.health = HealthApp(
            apps, timeout=default.config["HEALTH_TIMEOUT"], build_id=default.config["BUILD_ID"]
        )
        mounted: dict[str, Any] = {p: a for p, a in apps.items() if p}
        mounted[GATEWAY_PREFIX] = self.health
        # Answers are gzipped inside the cache, so it keeps (and nginx serves) the bytes.
        dispatcher = Compression(DispatcherMiddleware(default, mounted))
        self.cache: ResponseCache | None = None
        if default.config["RESPONSE_CACHE"]:
            self.cache = response_cache_for(apps, mounts, dispatcher)
            self.health.cache_stats = self.cache.stats
            # The catalogue's write path finds the cache here (response_cache.data_changed).
            for app in apps.values():
                app.extensions[EXTENSION_KEY] = self.cache
            # A catalogue created just now: nothing cached from an earlier one may serve.
            if any([app.extensions.pop("catalogue_seeded", False) for app in apps.values()]):
                self.cache.invalidate()
        # Revalidation outside the cache: a hit and a miss answer If-None-Match alike.
        self.wsgi_app: WSGIApplication = RequestIdMiddleware(Conditional(self.cache or dispatcher))
        # Counted outside all of it: every answer, the guard's 500s included.
        namespaces = [*(m.namespace for m in mounts), "gateway"]
        self.metrics = open_counters()
        owners = [(m.prefix, m.namespace) for m in mounts] + [(GATEWAY_PREFIX, "gateway")]
        self.wsgi_app = Metrics(self.wsgi_app, self.metrics, owners)
        if self.cache is not None:
            self.cache.metrics = self.metrics
        self.health.metrics = partial(self.exposition, namespaces, default.config)
        self.health.metrics_clients |= frozenset(default.config["METRICS_CLIENTS"])
        # Outermost: a failure of any layer above is a clean 500 in the mount's format.
        # In development the Werkzeug debugger is the outermost layer instead.
        if not any(app.config["USE_DEBUGGER"] for app in apps.values()):
            pages = {m.prefix: error_page(m.app) for m in mounts}
            self.wsgi_app = ErrorGuard(self.wsgi_app, {**pages, GATEWAY_PREFIX: JSON_PAGE})
        # Both tables once, for `gateway routes`/`mounts` and each app's toolbar panels.
        health = RouteRow(f"{GATEWAY_PREFIX}/health", ("GET",), "gateway.health", "gateway")
        self.inventory = Inventory(mount_table(mounts, apps), route_table(apps, [health]))
        for app in apps.values():
            app.extensions[INVENTORY_KEY] = self.inventory

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def exposition(self, namespaces: list[str], config: Any) -> str:
        """/_gateway/metrics: the counters, and what only the server knows (evictions,
        nginx's page-file hits, reloads, the build)."""
        evictions = self.cache.stats()["evictions"] if self.cache is not None else None
        extra: dict[str, Family] = {
            "gateway_build_info": ("gauge", "The build serving (a digest of the code).",
                                   [({"build": config["BUILD_ID"]}, 1)]),
            "gateway_reloads_total": ("counter", "Chain reloads done (reload, rollback).",
                                      [({}, server_count(config.get("RUN_DIR"), "reloads"))]),
            "gateway_nginx_file_hits_total": (
                "counter",
                "Hits nginx answered from page files, without the app (its hit log's lines).",
                [({}, file_hits(config.get("LOG_DIR")))],
            ),
        }  # fmt: skip
        if evictions is not None:
            extra["gateway_cache_evictions_total"] = (
                "counter", "Answers the page cache dropped to make room.", [({}, evictions)]
            )  # fmt: skip
        return exposition(self.metrics, namespaces, extra)


def response_cache_for(
    apps: dict[str, Flask], mounts: tuple[Mount, ...], app: WSGIApplication
) -> ResponseCache:
    """The shared response cache in front of ``app``, keyed by each mount's namespace."""
    routes = [
        Route(
            prefix=m.prefix,
            namespace=m.namespace,
            session_cookie=apps[m.prefix].config["SESSION_COOKIE_NAME"],
            # Pages carrying the debug toolbar are never shared.
            never="toolbar" if apps[m.prefix].config["DEBUG_TB_ENABLED"] else "",
        )
        for m in mounts
    ]
    routes.append(Route(GATEWAY_PREFIX, "gateway", "", never="gateway"))
    default = apps[""]
    return ResponseCache(
        app,
        pages=page_store(
            default.config["CACHE_URL"],
            default.extensions["cache"][cache],
            # Where nginx finds the hits it answers without entering uWSGI (nginx.conf).
            files=Path(default.config["DATA_DIR"]) / "pages",
            timeout=default.config["RESPONSE_CACHE_TIMEOUT"],
        ),
        routes=routes,
        timeout=default.config["RESPONSE_CACHE_TIMEOUT"],
        build=default.config["BUILD_ID"],
    )


def build_gateway(config: str | Mapping[str, Any] | None = None) -> Gateway:
    """Build every app of the mount table from ``config`` and compose them."""
    from gateway.factory import create_app

    configure_logging()
    source, profile = resolve_source(config)
    mounts = load_mounts(source)
    # The profile and the build id are resolved once, for every app alike; the digest
    # reads every source file, so it is not computed again per app.
    build_id = source.get("GATEWAY_BUILD_ID") or source_digest()
    source = {**source, "GATEWAY_BUILD_ID": build_id, "GATEWAY_PROFILE": profile}
    # The backend first: it owns the catalogue and creates it on first start.
    ordered = sorted(mounts, key=lambda m: m.prefix == "")
    apps, problems = {}, []
    for mount in ordered:
        try:
            apps[mount.prefix] = create_app(mount.app, source, mounts=mounts)
        except ConfigError as exc:
            problems += exc.problems  # report every app's problems at once
    if problems:
        raise ConfigError(problems)
    return Gateway(apps, mounts)
