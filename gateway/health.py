"""``GET /_gateway/health``: the state of every mounted app, the database and the cache;
``GET /_gateway/metrics``: the gateway's counters (``gateway.http.metrics``), for local clients.

Each mounted app package may define ``health_check()``, run inside that app's context;
it raises when the app cannot serve (its database is unreadable, say). The database
check runs one ``SELECT 1`` on the default app's engine and names the database (its URL,
password hidden). The cache check writes and reads one probe key in the shared store.
Every check runs in a worker thread with a deadline, so a frozen dependency makes the
answer 503, never a hang.

``secrets`` (when the composition provides ``peers``) says whether this node's secrets
agree with those of the other live nodes sharing the database; a difference is shown,
not failed on: a token rotation passes through it.

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
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from flask import Flask
from sqlalchemy import text
from werkzeug.wrappers import Response

from gateway.extensions import cache, db

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


def _database_check(app: Flask) -> None:
    """One round trip to the catalogue's database on ``app``'s engine."""
    with app.app_context():
        db.session.execute(text("SELECT 1"))


def _peers_check(apps: dict[str, Flask]) -> Callable[[], dict[str, Any]] | None:
    """The secrets comparison of the app package that defines ``compare_secrets``
    (the catalogue's owner), over every app's required secrets; None if none does."""
    secrets = {
        f"{app.config['ENV_PREFIX']}_{key}": app.config.get(key)
        for app in apps.values()
        for key in app.config.get("REQUIRED_SECRETS", ())
    }
    for app in apps.values():
        compare = getattr(importlib.import_module(app.import_name), "compare_secrets", None)
        if compare is not None:
            return partial(_compare_in, app, compare, str(app.config["NODE_NAME"]), secrets)
    return None


def _compare_in(
    app: Flask, compare: Callable[..., dict[str, Any]], node: str, secrets: dict[str, Any]
) -> dict[str, Any]:
    """Run ``compare(node, secrets)`` in ``app``'s context."""
    with app.app_context():
        return compare(node, secrets)


def _shown(app: Flask) -> str:
    """The database's URL as health may show it (no password)."""
    url = app.config.get("DATABASE_URL")
    return url.render_as_string(hide_password=True) if url is not None else "none"


@dataclass
class Checks:
    """What ``HealthApp`` runs: plain callables that raise when their part is down."""

    # Each mount's shown prefix ("/" for the default app): its app's name and check.
    apps: dict[str, tuple[str, Callable[[], None]]]
    cache: Callable[[], None]
    database: Callable[[], None]
    database_url: str  # as shown, without its password
    # Text never shown in a failure's reason (the database's password).
    hidden: str | None = None
    # This node's secrets beside those of the other nodes sharing the database.
    peers: Callable[[], dict[str, Any]] | None = None


def checks_of(apps: dict[str, Flask]) -> Checks:
    """The checks of the mounted ``apps`` (by prefix), each run in its app's context."""
    default = apps[""]
    password = getattr(default.config.get("DATABASE_URL"), "password", None)
    return Checks(
        apps={prefix or "/": (app.name, _app_check(app)) for prefix, app in apps.items()},
        cache=partial(_cache_check, default),
        database=partial(_database_check, default),
        database_url=_shown(default),
        hidden=str(password) if password else None,
        peers=_peers_check(apps),
    )


class HealthApp:
    """A WSGI app answering ``/health`` with the JSON state of the gateway."""

    def __init__(self, checks: Checks, timeout: float, build_id: str) -> None:
        self.checks = checks
        # Set by the gateway: /_gateway/metrics's text, for local clients only.
        self.metrics: Callable[[], str] | None = None
        self.metrics_clients: frozenset[str] = frozenset({"127.0.0.1", "::1"})
        self.timeout = timeout
        self.build_id = build_id
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
                    results[name] = self._reason(exc)
        finally:
            # A stuck check keeps its thread, not this request.
            pool.shutdown(wait=False, cancel_futures=True)
        return results

    def _reason(self, exc: Exception) -> str:
        """The first line of ``exc``, without the database's password should it appear."""
        text = str(exc).splitlines()[0] if str(exc) else ""
        if self.checks.hidden:
            text = text.replace(self.checks.hidden, "***")
        return f"{type(exc).__name__}: {text}"

    def state(self) -> tuple[int, dict[str, object]]:
        """The HTTP status and JSON body of the health answer."""
        checks = {prefix: check for prefix, (_, check) in self.checks.apps.items()}
        checks["cache"] = self.checks.cache
        checks["database"] = self.checks.database
        results = self._run(checks)
        cache_result = results.pop("cache")
        database_result = results.pop("database")
        apps = {
            prefix: {"app": self.checks.apps[prefix][0], "status": result}
            for prefix, result in results.items()
        }
        apps_ok = database_result == "ok" and all(result == "ok" for result in results.values())
        cache_ok = cache_result == "ok"
        status = "ok" if apps_ok and cache_ok else ("degraded" if apps_ok else "down")
        if status != "ok":
            log.warning(
                "health %s: apps=%s database=%s cache=%s",
                status,
                results,
                database_result,
                cache_result,
            )
        body: dict[str, object] = {
            "status": status,
            "build": self.build_id,
            "apps": apps,
            "database": {"status": database_result, "url": self.checks.database_url},
            "cache": {"status": cache_result},
        }
        if self.cache_stats is not None:
            body["cache"] = {"status": cache_result, "pid": os.getpid(), **self.cache_stats()}
        if self.checks.peers is not None and database_result == "ok":
            body["secrets"] = self._peers()
        return (200 if status == "ok" else 503), body

    def _peers(self) -> dict[str, Any]:
        """The secrets comparison, or why it could not be made (never a failure)."""
        assert self.checks.peers is not None
        try:
            return self.checks.peers()
        except Exception as exc:  # noqa: BLE001 - a report, not a check
            return {"status": "unknown", "reason": type(exc).__name__}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        headers = {"Cache-Control": "no-store"}
        body: dict[str, object]
        path = environ.get("PATH_INFO")
        if path == "/metrics" and self.metrics is not None:
            # nginx lets only local clients and the configured scrapers through; the app
            # checks too (the dev server, a stray proxy). Others: nothing is here.
            if environ.get("REMOTE_ADDR") in self.metrics_clients and environ.get(
                "REQUEST_METHOD"
            ) in ("GET", "HEAD"):
                text = Response(self.metrics(), 200, headers, mimetype="text/plain")
                text.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
                return text(environ, start_response)
            path = None
        if path != "/health":
            code, body = 404, {"error": {"status": 404, "message": "Not Found"}}
        elif environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            code, body = 405, {"error": {"status": 405, "message": "Method Not Allowed"}}
            headers["Allow"] = "GET, HEAD"
        else:
            code, body = self.state()
        response = Response(json.dumps(body), code, headers, mimetype="application/json")
        return response(environ, start_response)
