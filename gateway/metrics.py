"""Counters of the whole gateway, for ``/_gateway/metrics`` (Prometheus text format).

    metrics = open_metrics(["frontend", "backend", "gateway"])
    app = Metrics(app, metrics, route_of)          # requests and their latency
    metrics.inc(cache_name("frontend", "hit"))     # the response cache's events

Under uWSGI the counters are uWSGI's own metrics: they live in the master, so every
worker adds to the same numbers and a chain reload (new workers, same master) keeps
them. uWSGI only counts metrics declared before it starts: ``gateway uwsgi-metrics``
writes their declarations (``metrics.ini`` in the run dir, which uwsgi.ini reads).
Elsewhere (tests, the dev server, gunicorn) they are this process's own.

uWSGI's metrics measured ~0.3-0.6 us an increment on this machine, prometheus_client's
multiprocess mode ~4.3 us a request (a counter, a histogram, a cache counter), hence
uWSGI's; the text format is written here (a few lines, no library).
"""

from __future__ import annotations

import bisect
import ipaddress
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other")
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
# Latency buckets (seconds): a page-file hit never reaches here; a Python hit takes
# ~0.1 ms, a miss a few ms, a slow query or a cold worker far more.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CACHE_EVENTS = ("hit", "miss", "store", "error")
BYPASSES = ("method", "authorization", "session", "toolbar", "gateway", "unshared")


def request_name(app: str, method: str, status: int) -> str:
    return f"gateway.requests.{app}.{method}.{status // 100}xx"


def bucket_name(app: str, index: int) -> str:
    return f"gateway.latency.{app}.{index}"


def cache_name(app: str, event: str) -> str:
    return f"gateway.cache.{app}.{event}"


def bypass_name(app: str, reason: str) -> str:
    return f"gateway.bypass.{app}.{reason}"


def metric_names(apps: Sequence[str]) -> list[str]:
    """Every counter the gateway keeps for these apps (namespaces)."""
    names = []
    for app in apps:
        names += [request_name(app, m, c * 100) for m in METHODS for c in range(1, 6)]
        names += [bucket_name(app, i) for i in range(len(BUCKETS) + 1)]
        names.append(f"gateway.latency_us.{app}")
        names += [cache_name(app, event) for event in CACHE_EVENTS]
        names += [bypass_name(app, reason) for reason in BYPASSES]
    return names


def uwsgi_declarations(apps: Sequence[str]) -> str:
    """The uwsgi.ini lines declaring every counter (``gateway uwsgi-metrics``)."""
    lines = ["[uwsgi]"] + [f"metric = name={n},type=counter" for n in metric_names(apps)]
    return "\n".join(lines) + "\n"


def nginx_allow(clients: Sequence[str]) -> str:
    """nginx.conf's allow lines for the scrapers besides loopback (@METRICS_ALLOW@)."""
    return " ".join(f"allow {ipaddress.ip_network(c, strict=False)};" for c in clients)


def owner_of(owners: Sequence[tuple[str, str]], path: str) -> str:
    """The namespace of the mount that owns ``path`` (``owners``: prefix, namespace), the
    longest prefix on a segment boundary winning, as in DispatcherMiddleware."""
    best = ("", "")
    for prefix, namespace in owners:
        if (not prefix or path == prefix or path.startswith(prefix + "/")) and (
            len(prefix) >= len(best[0])
        ):
            best = (prefix, namespace)
    return best[1]


def file_hits(log_dir: str | None) -> int:
    """nginx's page-file hits: one byte a hit in its hit log (nginx.conf), so its size."""
    if not log_dir:
        return 0
    try:
        return os.stat(os.path.join(log_dir, "file-hits.log")).st_size
    except OSError:
        return 0


def server_count(run_dir: str | None, name: str) -> int:
    """A count the server scripts keep in the run dir (deploy/chain_reload.py: reloads)."""
    if not run_dir:
        return 0
    try:
        with open(os.path.join(run_dir, name)) as counted:
            return int(counted.read().strip() or 0)
    except (OSError, ValueError):
        return 0


class Counters(Protocol):
    """Where the counters live."""

    def inc(self, name: str, value: int = 1) -> None:
        """Add ``value`` to counter ``name``."""

    def get(self, name: str) -> int:
        """The value of counter ``name``."""


class LocalCounters:
    """This process's counters (tests, the dev server)."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc(self, name: str, value: int = 1) -> None:
        self.values[name] = self.values.get(name, 0) + value

    def get(self, name: str) -> int:
        return self.values.get(name, 0)


class UwsgiCounters:
    """uWSGI's metrics, in the master's memory."""

    def __init__(self, uwsgi: Any) -> None:
        self.uwsgi = uwsgi

    def inc(self, name: str, value: int = 1) -> None:
        self.uwsgi.metric_inc(name, value)

    def get(self, name: str) -> int:
        return int(self.uwsgi.metric_get(name) or 0)


def open_metrics(apps: Sequence[str]) -> Counters:
    """uWSGI's metrics when this process runs in uWSGI and they were declared for these
    apps; else this process's own counters."""
    try:
        import uwsgi
    except ImportError:
        return LocalCounters()
    probe = request_name(apps[0], "GET", 200)
    if uwsgi.metric_get(probe) is None:  # not declared: uWSGI would not count it
        return LocalCounters()
    return UwsgiCounters(uwsgi)


class Metrics:
    """WSGI middleware: count each request by app, method and status class, and its
    latency (until the app returned its body), in ``counters``."""

    def __init__(
        self, app: WSGIApplication, counters: Counters, app_of: Callable[[str], str]
    ) -> None:
        self.app = app
        self.counters = counters
        self.app_of = app_of

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status = 500  # what the client gets when an inner layer raises (the guard's)

        def counted(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status
            status = int(code[:3])
            return start_response(code, headers, exc_info)

        try:
            return self.app(environ, counted)
        finally:
            app = self.app_of(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
            method = environ.get("REQUEST_METHOD", "")
            elapsed = time.perf_counter() - started
            inc = self.counters.inc
            inc(request_name(app, method if method in METHODS else "other", status))
            inc(bucket_name(app, bisect.bisect_left(BUCKETS, elapsed)))
            inc(f"gateway.latency_us.{app}", int(elapsed * 1e6))


# A metric family the server adds: (type, help, [(labels, value)]).
Family = tuple[str, str, list[tuple[dict[str, str], float]]]


def exposition(counters: Counters, apps: Sequence[str], extra: dict[str, Family]) -> str:
    """The Prometheus text format of every counter, and of ``extra`` families
    (name -> (type, help, [(labels, value)]))."""
    out: list[str] = []

    def family(
        name: str, kind: str, text: str, samples: list[tuple[str, dict[str, str], float]]
    ) -> None:
        out.append(f"# HELP {name} {text}")
        out.append(f"# TYPE {name} {kind}")
        for sample, labels, value in samples:
            shown = ",".join(f'{k}="{v}"' for k, v in labels.items())
            out.append(f"{sample}{{{shown}}} {value:g}" if shown else f"{sample} {value:g}")

    get = counters.get
    family(
        "gateway_requests_total",
        "counter",
        "Requests the gateway answered (past nginx), by app, method and status class.",
        [
            ("gateway_requests_total", {"app": a, "method": m, "status": c}, v)
            for a in apps
            for m in METHODS
            for c in CLASSES
            if (v := get(request_name(a, m, int(c[0]) * 100)))
        ],
    )
    latency: list[tuple[str, dict[str, str], float]] = []
    for a in apps:
        cumulative = 0
        for i, edge in enumerate((*BUCKETS, float("inf"))):
            cumulative += get(bucket_name(a, i))
            le = "+Inf" if edge == float("inf") else f"{edge:g}"
            latency.append(
                ("gateway_request_duration_seconds_bucket", {"app": a, "le": le}, cumulative)
            )
        latency.append(
            (
                "gateway_request_duration_seconds_sum",
                {"app": a},
                get(f"gateway.latency_us.{a}") / 1e6,
            )
        )
        latency.append(("gateway_request_duration_seconds_count", {"app": a}, cumulative))
    family(
        "gateway_request_duration_seconds",
        "histogram",
        "Time until the app returned its answer, by app.",
        latency,
    )
    family(
        "gateway_cache_events_total",
        "counter",
        "The shared response cache's hits, misses, stores and store errors, by app.",
        [
            ("gateway_cache_events_total", {"app": a, "event": e}, get(cache_name(a, e)))
            for a in apps
            for e in CACHE_EVENTS
        ],
    )
    family(
        "gateway_cache_bypasses_total",
        "counter",
        "Requests that did not use the shared cache, by app and reason.",
        [
            ("gateway_cache_bypasses_total", {"app": a, "reason": r}, get(bypass_name(a, r)))
            for a in apps
            for r in BYPASSES
        ],
    )
    for name, (kind, text, samples) in extra.items():
        family(name, kind, text, [(name, labels, value) for labels, value in samples])
    return "\n".join(out) + "\n"
