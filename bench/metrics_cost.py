"""What the gateway's counters cost a request under uWSGI (bench/run.py's in-process
table): the Metrics layer and one cache event on uWSGI's shared counters, around a
trivial app, against the same app alone. Served by a one-worker uWSGI with the cache."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from gateway.http.metrics import Metrics, UwsgiCounters, cache_key

CALLS = 20000
OWNERS = [("", "frontend"), ("/backend", "backend"), ("/_gateway", "gateway")]


def trivial(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def cost(app: Any, counters: Any = None) -> float:
    """us per call of ``app`` (and one cache event on ``counters``)."""
    environ = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/category/orm"}
    started = time.perf_counter()
    for _ in range(CALLS):
        app(environ, lambda status, headers, exc_info=None: None)
        if counters is not None:
            counters.inc(cache_key("frontend", "hit"))
    return (time.perf_counter() - started) / CALLS * 1e6


def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """``{"metrics_us": [...]}``: the extra us a request pays, over interleaved rounds."""
    import uwsgi

    counters = UwsgiCounters(uwsgi)
    counted = Metrics(trivial, counters, OWNERS)
    extra = [cost(counted, counters) - cost(trivial) for _ in range(5)]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"metrics_us": extra}).encode()]
