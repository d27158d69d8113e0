"""A shared response cache in front of the mounted apps, with ``X-Cache: HIT|MISS``.

    app = ResponseCache(DispatcherMiddleware(frontend, {"/backend": backend}), store, mounts)

A hit is answered here, from the shared store, without entering Flask. The key is
``sha256(generation, namespace, host, method, script root + path, query, Accept variant)``:
the mount's namespace keeps ``/`` and ``/backend/`` apart, and HTML and JSON variants of
one URL never meet. What is never stored or served from the store:

- methods other than GET and HEAD (HEAD shares GET's entry);
- requests with ``Authorization`` or with the session cookie of the app they go to;
- answers other than 200, with ``Set-Cookie``, with ``Cache-Control`` private, no-store or
  no-cache, without a ``Content-Length`` or larger than ``max_size``;
- anything from an app that runs the debug toolbar.

Freshness: every key includes the data generation, a random token kept in the store.
A successful (< 400) POST, PUT, PATCH or DELETE through the gateway replaces the token
before its answer leaves, so every worker and node reads fresh data right after a write.

Failure: a store that errs or times out is skipped for ``retry_after`` seconds (pages
are served uncached meanwhile, at full speed) and the error is logged once per outage.
When it answers again the generation is renewed, in case a write's renewal was lost.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask_caching.backends.base import BaseCache

log = logging.getLogger(__name__)

GENERATION_KEY = "gateway:generation"
FAILED = object()  # what a guarded store call returns when the store failed
SAFE_METHODS = ("GET", "HEAD")
UNCACHEABLE = ("private", "no-store", "no-cache")
# Headers that describe one connection, never replayed.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "x-request-id", "x-cache"}


@dataclass
class Route:
    """What the cache needs to know about one mounted app."""

    prefix: str
    namespace: str
    session_cookie: str
    cacheable: bool = True


@dataclass
class Counters:
    """Per-namespace statistics of this process."""

    hits: int = 0
    misses: int = 0
    sets: int = 0
    errors: int = 0
    too_big: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a JSON-ready mapping."""
        return dict(self.__dict__)


@dataclass
class ResponseCache:
    """WSGI middleware: answer cacheable GETs from the shared store."""

    app: WSGIApplication
    store: BaseCache
    routes: list[Route]
    timeout: int = 300
    max_size: int = 60 * 1024
    retry_after: float = 5.0
    counters: dict[str, Counters] = field(default_factory=dict)
    down_until: float = 0.0
    failing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # Longest prefix first, like DispatcherMiddleware; "" (the default app) last.
        self.routes.sort(key=lambda r: len(r.prefix), reverse=True)
        for route in self.routes:
            self.counters.setdefault(route.namespace, Counters())

    # -- the store, guarded -----------------------------------------------------------

    def _call(self, name: str, *args: Any) -> Any:
        """Call the store; on any error skip it for ``retry_after`` seconds: FAILED."""
        if time.monotonic() < self.down_until:
            return FAILED
        try:
            result = getattr(self.store, name)(*args)
        except Exception as exc:  # noqa: BLE001 - any store failure means "uncached"
            with self.lock:
                self.down_until = time.monotonic() + self.retry_after
                if not self.failing:
                    log.error(
                        "cache store failed (%s: %s); serving uncached", type(exc).__name__, exc
                    )
                self.failing = True
            return FAILED
        if self.failing:
            with self.lock:
                recovered, self.failing = self.failing, False
            if recovered:
                log.warning("cache store answers again; renewing the data generation")
                self.renew_generation()
        return result

    def generation(self) -> str | None:
        """The current data generation (created when the store has none); None if down."""
        token = self._call("get", GENERATION_KEY)
        if token is None:  # never set, expired or evicted: start a new generation
            token = self.renew_generation()
        return token if isinstance(token, str) else None

    def renew_generation(self) -> str | None:
        """Invalidate every stored response at once; None when the store failed."""
        token = uuid.uuid4().hex
        ok = self._call("set", GENERATION_KEY, token, 0)
        return token if ok is True else None

    # -- the middleware ---------------------------------------------------------------

    def route_of(self, path: str) -> Route:
        """The mount that serves ``path``, chosen as DispatcherMiddleware chooses."""
        for route in self.routes:
            if not route.prefix or path == route.prefix or path.startswith(route.prefix + "/"):
                return route
        raise LookupError(path)  # unreachable: the default app's prefix is ""

    @staticmethod
    def variant(environ: WSGIEnvironment) -> str:
        """The Accept variant: what the API's negotiation would choose."""
        accept = parse_accept_header(environ.get("HTTP_ACCEPT"), MIMEAccept)
        return accept.best_match(["application/json", "text/html"]) or "application/json"

    @staticmethod
    def has_cookie(environ: WSGIEnvironment, name: str) -> bool:
        """True when the request carries the cookie ``name`` (or cookies we cannot read)."""
        raw = environ.get("HTTP_COOKIE")
        if not raw:
            return False
        try:
            return name in SimpleCookie(raw)
        except CookieError:
            return True  # unparsable: do not risk sharing an answer

    def key(self, generation: str, route: Route, environ: WSGIEnvironment) -> str:
        """The store key of this request's answer in this data generation."""
        parts = (
            generation,
            route.namespace,
            # The host too: an answer for one (trusted) host never serves another.
            environ.get("HTTP_HOST", ""),
            "GET",
            environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            self.variant(environ),
        )
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        return f"gateway:page:{route.namespace}:{digest}"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in SAFE_METHODS:
            return self._write(environ, start_response)
        route = self.route_of(environ.get("PATH_INFO", "") or "/")
        if (
            not route.cacheable
            or environ.get("HTTP_AUTHORIZATION")
            or self.has_cookie(environ, route.session_cookie)
        ):
            return self.app(environ, start_response)
        counters = self.counters[route.namespace]
        generation = self.generation()
        if generation is None:  # the store is down: serve uncached
            counters.errors += 1
            return self.app(environ, start_response)
        key = self.key(generation, route, environ)
        entry = self._call("get", key)
        if entry is FAILED:
            counters.errors += 1
            return self.app(environ, start_response)
        if entry is not None:
            counters.hits += 1
            status, headers, body = entry
            start_response(status, [*headers, ("X-Cache", "HIT")])
            return [] if method == "HEAD" else [body]
        counters.misses += 1
        return self._miss(environ, start_response, key, counters)

    def _miss(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        key: str,
        counters: Counters,
    ) -> Iterable[bytes]:
        """Run the app; keep its answer when it may be shared."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            captured["storable"] = self.storable(status, headers)
            return start_response(status, [*headers, ("X-Cache", "MISS")], exc_info)

        body_iter = self.app(environ, capture)
        if not captured.get("storable") or environ.get("REQUEST_METHOD") == "HEAD":
            return body_iter
        try:
            body = b"".join(body_iter)
        finally:
            close = getattr(body_iter, "close", None)
            if close is not None:
                close()
        if len(body) > self.max_size:
            counters.too_big += 1
        else:
            kept = [(k, v) for k, v in captured["headers"] if k.lower() not in HOP_BY_HOP]
            if self._call("set", key, (captured["status"], kept, body), self.timeout) is True:
                counters.sets += 1
            else:
                counters.errors += 1
        return [body]

    def storable(self, status: str, headers: list[tuple[str, str]]) -> bool:
        """True when an answer with this status and these headers may be shared."""
        if not status.startswith("200"):
            return False
        length = None
        for name, value in headers:
            lower = name.lower()
            if lower == "set-cookie":
                return False
            if lower == "cache-control" and any(d in value.lower() for d in UNCACHEABLE):
                return False
            if lower == "content-length":
                length = int(value)
        return length is not None and length <= self.max_size

    def _write(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Pass an unsafe request on; after a success, renew the generation first."""

        def renew_then_start(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            if int(status[:3]) < 400:
                self.renew_generation()
            return start_response(status, headers, exc_info)

        return self.app(environ, renew_then_start)

    def stats(self) -> dict[str, Any]:
        """This process's counters per namespace, and whether the store is being skipped."""
        return {
            "namespaces": {name: c.as_dict() for name, c in self.counters.items()},
            "store": "skipped" if time.monotonic() < self.down_until else "in use",
        }
