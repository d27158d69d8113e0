"""The composition: every app of the mount table, built by the one factory, behind one
WSGI callable with the gateway's layers around them.

    gateway = build_gateway("production")   # or a mapping shaped like os.environ
    gateway.apps["/backend"].url_map        # each mounted Flask app by prefix

A request goes, outermost first (``Gateway.__init__`` writes it as one expression):
ErrorGuard (a clean 500), Metrics, RequestId,
Conditional (304s), the ResponseCache, Compression, then Werkzeug's DispatcherMiddleware
to the app that owns the path (or to HealthApp under ``/_gateway``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from gateway.build_id import source_digest
from gateway.cache.backends import page_store
from gateway.cache.middleware import EXTENSION_KEY, ResponseCache, Route
from gateway.devtools.inventory import EXTENSION_KEY as INVENTORY_KEY
from gateway.devtools.inventory import Inventory, RouteRow, mount_table, route_table
from gateway.extensions import cache
from gateway.factory import create_app
from gateway.health import HealthApp, checks_of
from gateway.http.compression import Compression
from gateway.http.conditional import Conditional
from gateway.http.error_guard import JSON_PAGE, ErrorGuard, error_page
from gateway.http.metrics import (
    Counters,
    Family,
    Metrics,
    exposition,
    file_hits,
    open_counters,
    server_count,
)
from gateway.http.request_id import RequestIdMiddleware, configure_logging
from gateway.mounts import GATEWAY_PREFIX, Mount, load_mounts
from gateway.settings import ConfigError, resolve_source
from gateway.signals import catalogue_changed, catalogue_created

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class Gateway:
    """The composed WSGI callable, with the Flask app behind each prefix."""

    def __init__(
        self, apps: dict[str, Flask], mounts: tuple[Mount, ...], *, fresh_catalogue: bool = False
    ) -> None:
        """Compose ``apps`` (by prefix) as ``mounts`` says; ``fresh_catalogue``: the
        catalogue was created as they started, so no answer cached earlier may serve."""
        self.apps = apps
        self.mounts = mounts
        default = apps[""]
        owners = [(m.prefix, m.namespace) for m in mounts] + [(GATEWAY_PREFIX, "gateway")]
        self.metrics = open_counters()
        self.health = HealthApp(
            checks_of(apps),
            timeout=default.config["HEALTH_TIMEOUT"],
            build_id=default.config["BUILD_ID"],
        )
        self.health.metrics = partial(self.exposition, [n for _, n in owners], default.config)
        self.health.metrics_clients |= frozenset(default.config["METRICS_CLIENTS"])
        mounted: dict[str, Any] = {p: a for p, a in apps.items() if p}
        mounted[GATEWAY_PREFIX] = self.health
        # Answers are gzipped inside the cache, so it keeps (and nginx serves) the bytes.
        served: WSGIApplication = Compression(DispatcherMiddleware(default, mounted))
        self.cache: ResponseCache | None = None
        if default.config["RESPONSE_CACHE"]:
            self.cache = served = response_cache_for(apps, mounts, served, self.metrics)
            self.health.cache_stats = self.cache.stats
            for app in apps.values():
                app.extensions[EXTENSION_KEY] = self.cache  # for the toolbar's cache panel
                # Weakly, as blinker holds a bound method: a dropped gateway is collected.
                catalogue_changed.connect(self.catalogue_changed, sender=app)
            if fresh_catalogue:
                self.cache.invalidate()
        # The request path, outermost first: counted (every answer, the guard's 500s too),
        # given its id, revalidated (a hit and a miss answer If-None-Match alike), then
        # the cache, compression and the app that owns the path.
        self.wsgi_app: WSGIApplication = Metrics(
            RequestIdMiddleware(Conditional(served)), self.metrics, owners
        )
        # Around it all, a failure of any layer is a clean 500 in the mount's format; in
        # development the Werkzeug debugger is the outermost layer instead.
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

    def catalogue_changed(self, sender: Flask, **_: Any) -> None:
        """A write to the catalogue committed (``gateway.signals``): every shared answer
        is stale."""
        if self.cache is not None:
            self.cache.invalidate()

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
    apps: dict[str, Flask], mounts: tuple[Mount, ...], app: WSGIApplication, metrics: Counters
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
        metrics=metrics,
    )


def build_gateway(config: str | Mapping[str, Any] | None = None) -> Gateway:
    """Build every app of the mount table from ``config`` and compose them."""
    configure_logging()
    source, profile = resolve_source(config)
    mounts = load_mounts(source)
    # The profile and the build id are resolved once, for every app alike; the digest
    # reads every source file, so it is not computed again per app.
    build_id = source.get("GATEWAY_BUILD_ID") or source_digest()
    source = {**source, "GATEWAY_BUILD_ID": build_id, "GATEWAY_PROFILE": profile}
    # The backend first: it owns the catalogue and creates it on first start.
    ordered = sorted(mounts, key=lambda m: m.prefix == "")
    apps, problems, created = {}, [], []
    with catalogue_created.connected_to(lambda sender, **_: created.append(sender)):
        for mount in ordered:
            try:
                apps[mount.prefix] = create_app(mount.app, source, mounts=mounts)
            except ConfigError as exc:
                problems += exc.problems  # report every app's problems at once
    if problems:
        raise ConfigError(problems)
    return Gateway(apps, mounts, fresh_catalogue=bool(created))
