"""A shared response cache in front of the mounted apps, with ``X-Cache: HIT|MISS``.

    app = ResponseCache(DispatcherMiddleware(frontend, {"/backend": backend}), pages, routes)

What may be shared is the app's decision (``gateway.cache.policy``): only a 200 to GET
that the app marked ``Cache-Control: public`` is stored, and never one with
``Set-Cookie``, ``private``/``no-store``/``no-cache``, ``Vary: *`` or a ``Vary`` on a
header the key does not hold. On the request side the store is never used for:

- methods other than GET and HEAD (HEAD is answered from GET's entry);
- requests with ``Authorization``, or with the session cookie of the app they go to, as
  that app's own parser reads it (``gateway.http.sessions``): a shared answer that says
  ``Vary: Cookie`` is thus only shared among requests without a session;
- apps that run the debug toolbar.

The key is ``sha256(build, namespace, scheme, host, script root + path, query, Accept
variant, content coding)``, the variant and coding chosen by the apps' own negotiation
(``gateway.http.negotiation``); each key lives in the current data generation of the page
store (``gateway.cache.generations``).

Freshness comes from the data: the catalogue's write path sends
``gateway.signals.catalogue_changed`` after its transaction commits, and the composition
calls ``invalidate()``, which starts a new generation. Nothing else invalidates: no
method, status or route of a request does.

Failure: a store that errs or times out is skipped for ``retry_after`` seconds (pages are
served uncached meanwhile) and the error is logged once per outage. When it answers
again the generation is renewed, in case an invalidation was lost meanwhile.

Answers the app would not share (a probe's ``no-store``, a 404, a page that sets a
cookie) are remembered per process by URL and ``Accept``: the next request for the same
URL goes straight to the app, without reading the store (no generation, key or get).
Skipping the store never serves anything stale; should that URL's answer become
shareable, it is forgotten, and the request after it is stored as usual.

For the debug toolbar's Cache panel, each request's reads and writes of the store go
into ``environ["gateway.cache"]`` where a toolbar runs (None elsewhere: no cost on the
production path).
"""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, NamedTuple, ParamSpec, TypeVar

from gateway.cache.policy import VERDICT_KEY, store_refusal
from gateway.http.metrics import CACHE_EVENTS, LocalCounters, bypass_key, cache_key
from gateway.http.metrics import Counters as MetricCounters
from gateway.http.negotiation import preferred_encoding, preferred_type
from gateway.http.prefixes import ByPrefix
from gateway.http.sessions import carries_session_cookie

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from gateway.cache.generations import Entry, PageStore

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class Failed(enum.Enum):
    """What a guarded store call returns when the store failed or is being skipped."""

    FAILED = "failed"


FAILED: Final = Failed.FAILED

EXTENSION_KEY = "gateway.cache.middleware"  # where each app finds the cache (toolbar panel)
TRACE_KEY = "gateway.cache"  # the environ key of a request's trace (or None)
# A request's reads and writes of the store, for the toolbar: store, ops, bypass.
Trace = dict[str, Any]
SAFE_METHODS = ("GET", "HEAD")
# Headers that describe one connection or one request, never replayed.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "x-request-id", "x-cache"}
# What a mount that is never stored says in the toolbar, by reason.
NEVER = {
    "toolbar": "this app runs the debug toolbar",
    "gateway": "the gateway's own answers are never stored",
}
# Why a request did not use the store (the metrics' reasons).
BYPASSES = ("method", "authorization", "session", "unshared", *NEVER)
# How many unshareable URLs a process remembers; past it, it forgets them all at once, so
# a client inventing URLs costs a few lookups, never memory.
MAX_UNSHARED = 4096


@dataclass
class Route:
    """What the cache needs to know about one mounted app."""

    prefix: str
    namespace: str
    session_cookie: str
    # Why nothing of this mount is ever stored ("toolbar", "gateway"), or "".
    never: str = ""
    # The names of this mount's counters, by event or bypass reason (built once: a
    # request would otherwise format one).
    metric_keys: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.metric_keys = {event: cache_key(self.namespace, event) for event in CACHE_EVENTS}
        self.metric_keys |= {reason: bypass_key(self.namespace, reason) for reason in BYPASSES}


class Requested(NamedTuple):
    """What a request asks for: every part of its store key but the mount's namespace."""

    scheme: str
    host: str
    path: str
    query: str
    accept: str  # the raw header; the key holds the variant the API's negotiation picks
    accept_encoding: str  # the raw header; the key holds the content coding chosen

    @property
    def variant(self) -> str:
        """``application/json`` or ``text/html``, as the API would answer this request."""
        return preferred_type(self.accept or None)

    @property
    def encoding(self) -> str:
        """``gzip`` or ``identity``, as ``gateway.http.compression`` encodes this answer."""
        return preferred_encoding(self.accept_encoding or None)


@dataclass
class Counters:
    """Per-namespace statistics of this process."""

    hits: int = 0
    misses: int = 0
    sets: int = 0
    errors: int = 0
    too_big: int = 0

    def count(self, event: str) -> None:
        """One more ``hit``, ``miss``, ``store`` or ``error``."""
        if event == "hit":
            self.hits += 1
        elif event == "miss":
            self.misses += 1
        elif event == "store":
            self.sets += 1
        else:
            self.errors += 1

    def as_dict(self) -> dict[str, int]:
        """The counters as a JSON-ready mapping."""
        return dict(self.__dict__)


@dataclass
class ResponseCache:
    """WSGI middleware: answer shareable GETs from the page store."""

    app: WSGIApplication
    pages: PageStore
    routes: list[Route]
    timeout: int = 300
    max_size: int = 60 * 1024
    # The code this process serves (gateway.build_id): in every key, so that while old and
    # new workers overlap during a chain reload each serves and stores its own answers.
    build: str = ""
    retry_after: float = 5.0
    counters: dict[str, Counters] = field(default_factory=dict)
    # (host, path, query, Accept) of answers the app refused to share, with the reason.
    unshared: dict[tuple[str, ...], str] = field(default_factory=dict)
    down_until: float = 0.0
    failing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The gateway's counters (gateway.http.metrics), shared by every worker under uWSGI.
    metrics: MetricCounters = field(default_factory=LocalCounters)

    tracing: bool = field(init=False)
    by_prefix: ByPrefix[Route] = field(init=False)

    def __post_init__(self) -> None:
        # Where a toolbar runs, each request's store operations are traced for its panel.
        self.tracing = any(route.never == "toolbar" for route in self.routes)
        # Longest prefix first, like DispatcherMiddleware; "" (the default app) last.
        self.routes.sort(key=lambda r: len(r.prefix), reverse=True)
        self.by_prefix = ByPrefix((route.prefix, route) for route in self.routes)
        for route in self.routes:
            self.counters.setdefault(route.namespace, Counters())

    # -- the store, guarded -----------------------------------------------------------

    def _guarded(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | Failed:
        """``call`` the page store; on any error skip it for ``retry_after`` seconds and
        return FAILED (also while it is skipped)."""
        if time.monotonic() < self.down_until:
            return FAILED
        try:
            result = call(*args, **kwargs)
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
                self.invalidate()
        return result

    def generation(self) -> str | None:
        """The current data generation (started when the store has none); None if down."""
        token = self._guarded(self.pages.generation)
        if token is None:  # never set, or evicted: start one
            token = self._guarded(self.pages.renew)
        return None if token is FAILED else token

    def invalidate(self) -> bool:
        """Start a new data generation: every stored answer is stale at once."""
        if self._guarded(self.pages.renew) is not FAILED:
            return True
        # The store is down or skipped: its old generation comes back unreachable (it is
        # renewed on recovery), but files nginx serves by itself must go now.
        self.pages.withdraw()
        return False

    # -- the middleware ---------------------------------------------------------------

    def route_of(self, path: str) -> Route:
        """The mount that serves ``path``, chosen as DispatcherMiddleware chooses."""
        return self.by_prefix.of(path)

    def bypass(self, route: Route, environ: WSGIEnvironment) -> tuple[str, str] | tuple[None, None]:
        """Why this GET or HEAD must not be answered from the store (a reason for the
        metrics, a sentence for the toolbar), or (None, None)."""
        if route.never:
            return route.never, NEVER[route.never]
        if environ.get("HTTP_AUTHORIZATION"):
            return "authorization", "the request carries Authorization"
        cookie = environ.get("HTTP_COOKIE")  # most requests carry none: nothing to parse
        if cookie and carries_session_cookie(cookie, route.session_cookie):
            return "session", f"the request carries the {route.session_cookie} cookie"
        return None, None

    @staticmethod
    def asked(environ: WSGIEnvironment) -> tuple[str, str, str, str, str, str]:
        """What this request asks for, read before the dispatcher moves the prefix: the
        fields of its ``Requested``, as a plain tuple (equal to it, and cheaper to build
        on every request; most never need the rest of ``Requested``)."""
        get = environ.get
        return (
            # The scheme and host too: an answer for one (trusted) host or scheme, whose
            # external URLs name it, never serves another.
            get("wsgi.url_scheme", "http"),
            get("HTTP_HOST", ""),
            get("SCRIPT_NAME", "") + get("PATH_INFO", ""),
            get("QUERY_STRING", ""),
            get("HTTP_ACCEPT", ""),
            get("HTTP_ACCEPT_ENCODING", ""),
        )

    def key(self, route: Route, requested: Requested) -> str:
        """The store key of this request's answer (within a generation)."""
        parts = (self.build, route.namespace, *requested[:4], requested.variant, requested.encoding)
        digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape"))
        return f"{route.namespace}:{digest.hexdigest()}"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # The trace is for the toolbar's Cache panel: built only where a toolbar runs.
        trace: Trace | None = None
        if self.tracing:
            trace = {"store": self.pages.name, "ops": [], "bypass": None}
        environ[TRACE_KEY] = trace
        method = environ.get("REQUEST_METHOD", "GET")
        route = self.route_of(environ.get("PATH_INFO", "") or "/")
        if method not in SAFE_METHODS:
            self._bypassed(trace, route, "method", f"{method} is never answered from the store")
            return self.app(environ, start_response)
        reason, why = self.bypass(route, environ)
        if reason and why:
            self._bypassed(trace, route, reason, why)
            return self.app(environ, start_response)
        asked = self.asked(environ)
        refusal = self.unshared.get(asked)
        if refusal is not None:
            self._bypassed(trace, route, "unshared", "its last answer was not shareable", refusal)
            return self._unshared(environ, start_response, asked)
        requested = Requested(*asked)
        counters = self.counters[route.namespace]
        generation = self.generation()
        key = self.key(route, requested)
        if generation is None:  # the store is down: serve uncached
            self._counted(trace, route, counters, "error", "get", key)
            return self.app(environ, start_response)
        entry = self._guarded(self.pages.get, generation, key)
        if entry is FAILED:
            self._counted(trace, route, counters, "error", "get", key)
            return self.app(environ, start_response)
        if entry is not None:
            self._counted(trace, route, counters, "hit", "get", key)
            status, headers, body = entry
            start_response(status, [*headers, ("X-Cache", "HIT")])
            return [] if method == "HEAD" else [body]
        self._counted(trace, route, counters, "miss", "get", key)
        return self._miss(environ, start_response, trace, generation, key, route, requested)

    def _bypassed(
        self, trace: Trace | None, route: Route, reason: str, why: str, detail: str = ""
    ) -> None:
        """Count a request the store is not used for (and say why, for the toolbar)."""
        self.metrics.inc(route.metric_keys[reason])
        if trace is not None:
            trace["bypass"] = f"{why} ({detail})" if detail else why

    def _counted(
        self,
        trace: Trace | None,
        route: Route,
        counters: Counters,
        event: str,
        op: str,
        key: str,
        result: str = "",
    ) -> None:
        """Count one store event (hit, miss, store, error) and trace its operation."""
        counters.count(event)
        self.metrics.inc(route.metric_keys[event])
        if trace is not None:
            trace["ops"].append({"op": op, "key": key, "result": result or event})

    def _remember_unshared(self, requested: tuple[str, ...], refusal: str) -> None:
        if len(self.unshared) >= MAX_UNSHARED:
            self.unshared.clear()
        self.unshared[requested] = refusal

    def _unshared(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        requested: tuple[str, ...],
    ) -> Iterable[bytes]:
        """Run the app for a URL whose last answer was not shareable; nothing is stored
        (no generation was read before the app ran), but a shareable answer is noticed."""

        def watch(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # The app's own verdict when it gave one (gateway.cache.policy), else the
            # store's rule; the next request's miss checks the headers all the same.
            shareable = environ.get(VERDICT_KEY)
            if shareable is None:
                shareable = store_refusal(status, headers, self.max_size) is None
            if shareable:
                self.unshared.pop(requested, None)
            return start_response(status, [*headers, ("X-Cache", "MISS")], exc_info)

        return self.app(environ, watch)

    def _miss(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        trace: Trace | None,
        generation: str,
        key: str,
        route: Route,
        requested: Requested,
    ) -> Iterable[bytes]:
        """Run the app; keep its answer when it may be shared."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            captured["refusal"] = store_refusal(status, headers, self.max_size)
            return start_response(status, [*headers, ("X-Cache", "MISS")], exc_info)

        body_iter = self.app(environ, capture)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return body_iter
        refusal = captured.get("refusal", "not started")
        if refusal:
            self._not_stored(trace, key, refusal)
            if "refusal" in captured:  # the app answered, and would not share it
                self._remember_unshared(requested, refusal)
            return body_iter
        try:
            body = b"".join(body_iter)
        finally:
            close = getattr(body_iter, "close", None)
            if close is not None:
                close()
        counters = self.counters[route.namespace]
        if len(body) > self.max_size:
            counters.too_big += 1
            self._not_stored(trace, key, "too big")
            self._remember_unshared(requested, "too big")
            return [body]
        kept = [(k, v) for k, v in captured["headers"] if k.lower() not in HOP_BY_HOP]
        entry: Entry = (captured["status"], kept, body)
        # The generation read before the app ran: an answer rendered from data that
        # changed meanwhile lands in the old, unreachable generation.
        if self._guarded(self.pages.set, generation, key, entry, self.timeout) is True:
            self._counted(trace, route, counters, "store", "set", key, "stored")
            variant = "html" if requested.variant == "text/html" else "json"
            self.pages.publish(generation, route.namespace, variant, requested, kept, body)
        else:
            self._counted(trace, route, counters, "error", "set", key)
        return [body]

    @staticmethod
    def _not_stored(trace: Trace | None, key: str, refusal: str) -> None:
        if trace is not None:
            trace["ops"].append({"op": "set", "key": key, "result": f"not stored: {refusal}"})

    def stats(self) -> dict[str, Any]:
        """This process's counters per namespace, the store's evictions, and its state."""
        # A figure for people: failing to read it says nothing of the store's answers,
        # so it is not a store failure (that would skip the store for everyone).
        try:
            evictions = self.pages.evictions()
        except Exception as exc:  # noqa: BLE001 - reported as unknown
            log.warning("could not read the store's evictions (%s: %s)", type(exc).__name__, exc)
            evictions = None
        return {
            "namespaces": {name: c.as_dict() for name, c in self.counters.items()},
            "evictions": evictions,
            "store": "skipped" if time.monotonic() < self.down_until else "in use",
        }
