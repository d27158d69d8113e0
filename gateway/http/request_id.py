"""Give every request an id, return it as ``X-Request-ID`` and put it in every log line.

nginx sends ``$request_id`` as the ``X-Request-ID`` request header; a well-formed
incoming id is reused (also in-process, without nginx), anything else is replaced by a
fresh one, so a client cannot inject text into the logs::

    app = RequestIdMiddleware(DispatcherMiddleware(frontend, {"/backend": backend}))

The middleware rewrites ``HTTP_X_REQUEST_ID`` in the environ, so the mounted apps read
the same id from ``request.headers``.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

HEADER = "X-Request-ID"
ENVIRON_KEY = "HTTP_X_REQUEST_ID"
# nginx's $request_id is 32 hex digits; UUIDs and other tracers' ids fit this too.
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


# Fresh ids: a random prefix per process and a counter, 32 hex digits like nginx's
# $request_id; unique without a system call per request. A forked worker draws its own.
_prefix = os.urandom(8).hex()
_counter = itertools.count()


def _new_process() -> None:
    global _prefix, _counter
    _prefix, _counter = os.urandom(8).hex(), itertools.count()


os.register_at_fork(after_in_child=_new_process)


def ensure_request_id(value: str | None) -> str:
    """Return ``value`` when it is a well-formed request id, else a new one."""
    if value and WELL_FORMED.fullmatch(value):
        return value
    return f"{_prefix}{next(_counter) & 0xFFFFFFFFFFFFFFFF:016x}"


class RequestIdMiddleware:
    """WSGI middleware that assigns, propagates and returns the request id."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request_id = ensure_request_id(environ.get(ENVIRON_KEY))
        environ[ENVIRON_KEY] = request_id

        def start_with_id(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # Appended, not replaced: no layer inside sets it (the cache never stores it).
            return start_response(status, [*headers, (HEADER, request_id)], exc_info)

        token = current_request_id.set(request_id)
        try:
            return self.app(environ, start_with_id)
        finally:
            current_request_id.reset(token)


def install_log_records() -> None:
    """Give every log record a ``request_id`` attribute, whatever handler formats it.

    A record factory, unlike a handler filter, also reaches pytest's caplog and any
    handler a deployment adds. Installing it twice is harmless.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = current_request_id.get()
        return record

    factory.adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr with the request id, unless the host already configured logging."""
    install_log_records()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(level)
