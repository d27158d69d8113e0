"""Counters of the whole gateway, for ``/_gateway/metrics`` (Prometheus text format).

    counters = open_counters()
    app = Metrics(app, counters, owners)        # requests, by latency bucket
    counters.inc(cache_key("frontend", "hit"))  # the response cache's events

Under uWSGI the counters are 64-bit integers in a cache of uWSGI's own
(``gateway-metrics`` in uwsgi.ini, incremented with ``cache_inc``): it lives in the
master, so every worker adds to the same numbers and a chain reload (new workers, same
master) keeps them. Elsewhere (tests, the dev server, gunicorn) they are this process's.

Measured on this machine, per request: prometheus_client's multiprocess mode ~4.3 us
(a counter, a histogram, a cache counter); uWSGI's metrics subsystem 0.4-1.4 us an
increment (it finds a metric by name in a list, after its own ~60) and must be declared
before uWSGI starts; uWSGI's cache 0.28 us an increment whatever the number of keys,
created on first use. Hence the cache, three increments a request (the request in its
latency bucket, the latency's sum, one cache event), and the text format written here.
"""

from __future__ import annotations

import bisect
import ipaddress
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

from gateway.http.prefixes import ByPrefix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CACHE = "gateway-metrics"  # uwsgi.ini's cache2 of the counters
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Latency buckets (seconds): a page-file hit never reaches here; a Python hit takes
# ~0.1 ms, a miss a few ms, a slow query or a cold worker far more.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CACHE_EVENTS = ("hit", "miss", "store", "error")
# Families the server adds beside the counters: (type, help, [(labels, value)]).
Family = tuple[str, str, list[tuple[dict[str, str], float]]]


def request_key(app: str, method: str, status: str, bucket: int) -> str:
    """The counter of one request: its app, method, status class and latency bucket."""
    return f"req|{app}|{method}|{status[0]}xx|{bucket}"


def cache_key(app: str, event: str) -> str:
    return f"cache|{app}|{event}"


def bypass_key(app: str, reason: str) -> str:
    return f"bypass|{app}|{reason}"


class Counters(Protocol):
    """Where the counters live."""

    def inc(self, key: str, value: int = 1) -> None:
        """Add ``value`` to counter ``key`` (created at 0)."""

    def items(self) -> Iterable[tuple[str, int]]:
        """Every counter and its value."""


class LocalCounters:
    """This process's counters (tests, the dev server)."""

    def __init__(self) -> None:
        self.values: dict[str, int] = defaultdict(int)

    def inc(self, key: str, value: int = 1) -> None:
        self.values[key] += value

    def items(self) -> Iterable[tuple[str, int]]:
        return list(self.values.items())


class UwsgiCounters:
    """Integers in uWSGI's cache ``gateway-metrics``, in the master's memory."""

    def __init__(self, uwsgi: Any) -> None:
        self.uwsgi = uwsgi

    def inc(self, key: str, value: int = 1) -> None:
        self.uwsgi.cache_inc(key, value, 0, CACHE)

    def items(self) -> Iterable[tuple[str, int]]:
        found = []
        for raw in self.uwsgi.cache_keys(CACHE) or ():
            key = raw.decode() if isinstance(raw, bytes) else raw
            found.append((key, int(self.uwsgi.cache_num(key, CACHE) or 0)))
        return found


def open_counters() -> Counters:
    """uWSGI's shared counters when this process runs in uWSGI with the cache declared;
    else this process's own."""
    try:
        import uwsgi
    except ImportError:
        return LocalCounters()
    if not uwsgi.cache_exists("gateway:probe", CACHE) and not uwsgi.cache_inc(
        "gateway:probe", 0, 0, CACHE
    ):
        return LocalCounters()  # uwsgi.ini declares no such cache: count here
    return UwsgiCounters(uwsgi)


class Metrics:
    """WSGI middleware: count each request by app, method, status class and latency
    (until the app returned its body), in ``counters``.

    ``owners`` are (mount prefix, namespace): a path belongs to the mount that
    ``gateway.http.prefixes`` picks, as DispatcherMiddleware does.
    """

    def __init__(
        self, app: WSGIApplication, counters: Counters, owners: Sequence[tuple[str, str]]
    ) -> None:
        self.app = app
        self.inc = counters.inc
        # Each mount's namespace with its latency counter's name, built once (a request
        # would otherwise format it).
        self.owners = ByPrefix((prefix, (name, f"lat|{name}")) for prefix, name in owners)
        self.keys: dict[tuple[str, str, str, int], str] = {}

    def owner(self, path: str) -> str:
        """The namespace of the mount that owns ``path``."""
        return self.owners.of(path)[0]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = perf_counter()
        status = "500"  # what the client gets when an inner layer raises (the guard's)

        def counted(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status
            status = code
            return start_response(code, headers, exc_info)

        try:
            return self.app(environ, counted)
        finally:
            elapsed = perf_counter() - started
            # Read after the call: the dispatcher has moved the prefix to SCRIPT_NAME.
            path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            app, latency = self.owners.of(path)
            method = environ.get("REQUEST_METHOD", "")
            if method not in METHODS:  # a client invents any: one name for them all
                method = "other"
            bucket = bisect.bisect_left(BUCKETS, elapsed)
            found = (app, method, status[0], bucket)
            key = self.keys.get(found)
            if key is None:  # a few hundred at most: apps x methods x classes x buckets
                key = self.keys[found] = request_key(app, method, status, bucket)
            self.inc(key)
            self.inc(latency, int(elapsed * 1e6))


def nginx_allow(clients: Sequence[str]) -> str:
    """nginx.conf's allow lines for the scrapers besides loopback (@METRICS_ALLOW@)."""
    return " ".join(f"allow {ipaddress.ip_network(c, strict=False)};" for c in clients)


def file_hits(log_dir: str | None) -> int:
    """nginx's page-file hits: one byte a hit in its hit log (nginx.conf), so its size."""
    if not log_dir:
        return 0
    try:
        return os.stat(os.path.join(log_dir, "file-hits.log")).st_size
    except OSError:
        return 0


def server_count(run_dir: str | None, name: str) -> int:
    """A count the server keeps in the run dir (gateway.chain_reload: reloads)."""
    if not run_dir:
        return 0
    try:
        with open(os.path.join(run_dir, name)) as counted:
            return int(counted.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def exposition(counters: Counters, apps: Sequence[str], extra: dict[str, Family]) -> str:
    """The Prometheus text format of every counter, and of the ``extra`` families."""
    requests: dict[tuple[str, str, str], int] = defaultdict(int)
    buckets: dict[str, list[int]] = {app: [0] * (len(BUCKETS) + 1) for app in apps}
    latency: dict[str, int] = defaultdict(int)
    events: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, value in counters.items():
        parts = key.split("|")
        if parts[0] == "req" and len(parts) == 5 and parts[1] in buckets:
            _, app, method, status, bucket = parts
            requests[app, method, status] += value
            buckets[app][int(bucket)] += value
        elif parts[0] == "lat" and len(parts) == 2:
            latency[parts[1]] += value
        elif parts[0] in ("cache", "bypass") and len(parts) == 3:
            events[parts[0]][f"{parts[1]}|{parts[2]}"] += value

    out: list[str] = []

    def family(name: str, kind: str, text: str, samples: Iterable[tuple[str, str, float]]) -> None:
        out.extend((f"# HELP {name} {text}", f"# TYPE {name} {kind}"))
        out.extend(f"{sample}{{{labels}}} {value:g}" if labels else f"{sample} {value:g}"
                   for sample, labels, value in samples)  # fmt: skip

    family(
        "gateway_requests_total", "counter",
        "Requests the gateway answered (past nginx), by app, method and status class.",
        (("gateway_requests_total", f'app="{a}",method="{m}",status="{s}"', v)
         for (a, m, s), v in sorted(requests.items())),
    )  # fmt: skip
    histogram: list[tuple[str, str, float]] = []
    for app, counts in buckets.items():
        total = 0
        for edge, count in zip((*BUCKETS, "+Inf"), counts, strict=True):
            total += count
            le = edge if isinstance(edge, str) else f"{edge:g}"
            histogram.append(
                ("gateway_request_duration_seconds_bucket", f'app="{app}",le="{le}"', total)
            )
        histogram.append(
            ("gateway_request_duration_seconds_sum", f'app="{app}"', latency[app] / 1e6)
        )
        histogram.append(("gateway_request_duration_seconds_count", f'app="{app}"', total))
    family(
        "gateway_request_duration_seconds", "histogram",
        "Time until the app returned its answer, by app.", histogram,
    )  # fmt: skip
    for kind, name, text, label in (
        ("cache", "gateway_cache_events_total",
         "The shared response cache's hits, misses, stores and store errors, by app.", "event"),
        ("bypass", "gateway_cache_bypasses_total",
         "Requests that did not use the shared cache, by app and reason.", "reason"),
    ):  # fmt: skip
        family(name, "counter", text, (
            (name, f'app="{pair.split("|")[0]}",{label}="{pair.split("|")[1]}"', value)
            for pair, value in sorted(events[kind].items())
        ))  # fmt: skip
    for name, (kind, text, samples) in extra.items():
        family(name, kind, text, (
            (name, ",".join(f'{k}="{v}"' for k, v in labels.items()), value)
            for labels, value in samples
        ))  # fmt: skip
    return "\n".join(out) + "\n"
