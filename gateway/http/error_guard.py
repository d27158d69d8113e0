"""The outermost layer: whatever fails inside it, the client gets a clean 500.

    app = ErrorGuard(RequestIdMiddleware(cache), pages=error_pages(mounts))

Each mounted app answers its own errors (the site an HTML page, the API JSON). What the
gateway itself runs around them (request ids, the response cache, the dispatcher) has
no such handler: an exception there would reach uWSGI, which drops the connection, and
nginx would answer 502 and may send the request again. This middleware catches it,
logs it with the request id, and answers 500 in the format of the mount the path
belongs to: the same page nginx shows for its own errors (``<package>/static/errors/``),
filled in as nginx's SSI would.

In development the Werkzeug debugger is the outermost layer instead (it shows the
traceback), so the composition leaves this out there.
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from gateway.http.prefixes import ByPrefix
from gateway.http.request_id import ENVIRON_KEY, HEADER, current_request_id, ensure_request_id

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

STATUS = "500 INTERNAL SERVER ERROR"
# What nginx.conf's error maps say for a 500 (gateway_error_title, gateway_error_message).
FILLED = {
    "status": "500",
    "gateway_error_title": "Internal Server Error",
    "gateway_error_message": "Something went wrong on our side.",
}
SSI_ECHO = re.compile(r'<!--# echo var="([a-z_]+)"[^>]*-->')
TYPES = {"json": "application/json", "html": "text/html; charset=utf-8"}


class ErrorPage(NamedTuple):
    """One mount's 500 answer: its body and content type."""

    body: bytes
    content_type: str


# The gateway's own endpoints (/_gateway/...) speak JSON, like the API.
JSON_PAGE = ErrorPage(
    json.dumps({"error": {"status": 500, "message": FILLED["gateway_error_message"]}}).encode(),
    TYPES["json"],
)


def error_page(package: str) -> ErrorPage:
    """The 500 page of app package ``package``: its ``static/errors/error.json`` or
    ``error.html`` (the page nginx serves for its own errors), filled in."""
    folder = importlib.resources.files(package) / "static" / "errors"
    for extension, content_type in TYPES.items():
        source = folder / f"error.{extension}"
        if source.is_file():
            text = SSI_ECHO.sub(lambda m: FILLED.get(m.group(1), ""), source.read_text("utf-8"))
            return ErrorPage(text.encode(), content_type)
    raise LookupError(f"{package} ships no static/errors/error.json or error.html")


class ErrorGuard:
    """WSGI middleware: an exception from ``app`` becomes a 500 in the path's format.

    ``pages`` maps a mount prefix (``""`` for the default app) to its error page; the
    mount that owns the path is the one Werkzeug's ``DispatcherMiddleware`` picks
    (``gateway.http.prefixes``). The layers inside start their answer on this middleware,
    which starts it on the server only once the answer is whole (or its first chunk is
    ready): until then a failure can still replace it, without the ``exc_info`` call
    that uWSGI 2.0 turns into a SystemError.
    """

    def __init__(self, app: WSGIApplication, pages: dict[str, ErrorPage]) -> None:
        self.app = app
        self.pages = ByPrefix(pages.items())

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer = _Answer(start_response)
        try:
            body = self.app(environ, answer.start)
            if isinstance(body, list | tuple):  # what the apps and the cache return
                answer.send()
                return body
        except Exception:  # noqa: BLE001 - the last layer: anything becomes a 500
            return self.fail(environ, start_response)
        return _Guarded(self, body, answer, environ)

    def fail(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        """Log the exception being handled with the request id, and answer 500."""
        request_id = ensure_request_id(environ.get(ENVIRON_KEY))
        token = current_request_id.set(request_id)
        try:
            log.error(
                "the gateway failed on %s %s",
                environ.get("REQUEST_METHOD", "?"),
                environ.get("REQUEST_URI") or environ.get("PATH_INFO", ""),
                exc_info=sys.exc_info(),
            )
        finally:
            current_request_id.reset(token)
        page = self.pages.of(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        start_response(
            STATUS,
            [
                ("Content-Type", page.content_type),
                ("Content-Length", str(len(page.body))),
                ("Cache-Control", "no-store"),
                (HEADER, request_id),
            ],
        )
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [page.body]


class _Answer:
    """The status and headers an inner layer started, held until the answer is sent."""

    def __init__(self, start_response: StartResponse) -> None:
        self.start_response = start_response
        self.started: tuple[str, list[tuple[str, str]]] | None = None
        self.write: Any = None

    def start(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        """The inner layers' start_response: keeps the latest status and headers."""
        if exc_info is not None and self.write is not None:
            raise exc_info[1].with_traceback(exc_info[2])  # too late: already sent
        self.started = (status, headers)
        return self._write

    def send(self) -> None:
        """Start the answer on the server (once); an app that never started one fails."""
        if self.write is None:
            if self.started is None:
                raise RuntimeError("the application returned without starting a response")
            self.write = self.start_response(*self.started)

    def _write(self, data: bytes) -> None:
        # WSGI's legacy write(): the answer goes out now.
        self.send()
        self.write(data)


class _Guarded:
    """A body iterable whose first chunk may still fail into the guard's 500."""

    def __init__(
        self, guard: ErrorGuard, body: Iterable[bytes], answer: _Answer, environ: WSGIEnvironment
    ) -> None:
        self.guard = guard
        self.body = body
        self.answer = answer
        self.environ = environ

    def __iter__(self) -> Iterator[bytes]:
        try:
            chunks = iter(self.body)
            first = next(chunks, None)
            self.answer.send()
        except Exception:  # noqa: BLE001 - nothing was sent yet: a clean 500 still can be
            yield from self.guard.fail(self.environ, self.answer.start_response)
            return
        if first is not None:
            yield first
            # Once bytes are out the answer cannot change; the server logs and closes.
            yield from chunks

    def close(self) -> None:
        close: Any = getattr(self.body, "close", None)
        if close is not None:
            close()
