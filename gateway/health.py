"""``GET /_gateway/health``: the state of every mounted app and of the shared cache.

Each mounted app package may define ``health_check()``, run inside that app's context;
it raises when the app cannot serve (its database is unreadable, say). The cache check
writes and reads one probe key in the shared store. Every check runs in a worker thread
with a deadline, so a frozen dependency makes the answer 503, never a hang.

The answer is 200 when everything is up and 503 otherwise. A dead cache makes it 503 as
well (``status: "degraded"``): pages still answer uncached then, so a liveness probe
should use ``/backend/healthz``; this endpoint is the readiness signal for the whole stack.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.wrappers import Response

from gateway.extensions import cache

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)


def _app_check(app: Flask) -> Callable[[], None]:
    """The ``health_check`` of ``app``'s package, run in the app's context."""
    check = getattr(importlib.import_module(app.import_name), "health_check", None)

    def run() -> None:
        with app.app_context():
            if check is not None:
                check()

    return run


def _cache_check(app: Flask) -> None:
    """Write and read back a probe key in the shared store."""
    probe = uuid.uuid4().hex
    with app.app_context():
        key = f"gateway:health:{probe}"
        if not cache.set(key, probe, timeout=10) or cache.get(key) != probe:
            raise RuntimeError("the cache store did not keep a probe value")
        cache.delete(key)


class HealthApp:
    """A WSGI app answering ``/health`` with the JSON state of the gateway."""

    def __init__(self, apps: dict[str, Flask], timeout: float, build_id: str) -> None:
        self.apps = apps
        self.timeout = timeout
        self.build_id = build_id
        self.checks = {prefix or "/": _app_check(app) for prefix, app in apps.items()}
        self.default_app = apps[""]
        # Set by the gateway when the response cache runs: its counters in this process.
        self.cache_stats: Callable[[], dict[str, Any]] | None = None

    def _run(self, checks: dict[str, Callable[[], None]]) -> dict[str, str]:
        """Run every check in parallel; each result is ``ok`` or the reason it failed."""
        pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="health")
        futures = {name: pool.submit(check) for name, check in checks.items()}
        results = {}
        try:
            for name, future in futures.items():
                try:
                    future.result(timeout=self.timeout)
                    results[name] = "ok"
                except FutureTimeout:
                    results[name] = f"no answer within {self.timeout:g}s"
                except Exception as exc:  # noqa: BLE001 - any failure means "down"
                    results[name] = f"{type(exc).__name__}: {exc}"
        finally:
            # A stuck check keeps its thread, not this request.
            pool.shutdown(wait=False, cancel_futures=True)
        return results

    def state(self) -> tuple[int, dict[str, object]]:
        """The HTTP status and JSON body of the health answer."""
        checks = dict(self.checks)
        checks["cache"] = lambda: _cache_check(self.default_app)
        results = self._run(checks)
        cache_result = results.pop("cache")
        apps = {
            prefix: {"app": self.apps["" if prefix == "/" else prefix].name, "status": result}
            for prefix, result in results.items()
        }
        apps_ok = all(result == "ok" for result in results.values())
        cache_ok = cache_result == "ok"
        status = "ok" if apps_ok and cache_ok else ("degraded" if apps_ok else "down")
        if status != "ok":
            log.warning("health %s: apps=%s cache=%s", status, results, cache_result)
        body: dict[str, object] = {
            "status": status,
            "build": self.build_id,
            "apps": apps,
            "cache": {"status": cache_result},
        }
        if self.cache_stats is not None:
            body["cache"] = {"status": cache_result, "pid": os.getpid(), **self.cache_stats()}
        return (200 if status == "ok" else 503), body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        headers = {"Cache-Control": "no-store"}
        body: dict[str, object]
        if environ.get("PATH_INFO") != "/health":
            code, body = 404, {"error": {"status": 404, "message": "Not Found"}}
        elif environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            code, body = 405, {"error": {"status": 405, "message": "Method Not Allowed"}}
            headers["Allow"] = "GET, HEAD"
        else:
            code, body = self.state()
        response = Response(json.dumps(body), code, headers, mimetype="application/json")
        return response(environ, start_response)
