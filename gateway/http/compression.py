"""gzip for every text answer of the mounted apps, for clients that take it.

    app = Compression(DispatcherMiddleware(frontend, {"/backend": backend}))

The apps render identity bodies; this layer, inside the response cache, gzips those of
a text type (HTML, JSON, CSS, ...) when ``preferred_encoding`` says the client takes
gzip, and says ``Vary: Accept-Encoding`` on every text answer, gzipped or not. The cache
keys each answer by the same choice and keeps the gzipped bytes, so a hit is never
compressed again; nginx serves those very bytes from page files. An ETag of the
gateway's form (``gateway.http.etags``) follows the bytes sent: same stamp, their length.

A HEAD is answered as the GET it stands for, without the body: its Content-Length and
ETag are those of the gzipped bytes a GET would get.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gateway.http.etags import restamp
from gateway.http.negotiation import preferred_encoding

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

TEXT_TYPES = ("text/", "application/json", "application/javascript", "image/svg+xml")
# Below this, gzip's header and trailer (18 bytes) eat most of the gain.
MIN_SIZE = 256
LEVEL = 6


def is_text(headers: list[tuple[str, str]]) -> bool:
    """True for an answer whose Content-Type is text: compressible, and varying on it."""
    kind = next((v for k, v in headers if k.lower() == "content-type"), "")
    return kind.lower().startswith(TEXT_TYPES)


class Compression:
    """WSGI middleware: gzip text answers for clients that take gzip."""

    def __init__(self, app: WSGIApplication, level: int = LEVEL) -> None:
        self.app = app
        self.level = level

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        gzipped = preferred_encoding(environ.get("HTTP_ACCEPT_ENCODING")) == "gzip"
        head = environ.get("REQUEST_METHOD") == "HEAD"
        if gzipped and head:  # the body decides the length: render it, send none
            environ = {**environ, "REQUEST_METHOD": "GET"}
        started: list[tuple[str, list[tuple[str, str]]]] = []
        late = False

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if late:  # a generator app that starts on its first chunk: passed through
                return start_response(status, vary(headers), exc_info)
            started[:] = [(status, headers)]
            return lambda data: None  # no app of the gateway writes through it

        body = self.app(environ, start)
        if not started:
            late = True
            return body
        status, headers = started[0]
        if not (gzipped and is_text(headers)) or any(
            k.lower() == "content-encoding" for k, _ in headers
        ):
            start_response(status, vary(headers))
            return _without_body(body) if gzipped and head else body
        data = _read(body)
        if len(data) < MIN_SIZE:
            start_response(status, vary(headers))
            return [] if head else [data]
        packed = gzip.compress(data, self.level, mtime=0)
        kept = []
        for name, value in vary(headers):
            lowered = name.lower()
            if lowered == "content-length":
                continue
            kept.append((name, restamp(value, len(packed)) if lowered == "etag" else value))
        kept += [("Content-Encoding", "gzip"), ("Content-Length", str(len(packed)))]
        start_response(status, kept)
        return [] if head else [packed]


def vary(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` with Accept-Encoding added to Vary when the answer is text."""
    if not is_text(headers):
        return headers
    found = [v for k, v in headers if k.lower() == "vary"]
    if any("accept-encoding" in v.lower() or "*" in v for v in found):
        return headers
    if not found:
        return [*headers, ("Vary", "Accept-Encoding")]
    return [
        (k, f"{v}, Accept-Encoding") if k.lower() == "vary" and v == found[-1] else (k, v)
        for k, v in headers
    ]


def _read(body: Iterable[bytes]) -> bytes:
    """The whole body, the iterable closed."""
    try:
        return b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def _without_body(body: Iterable[bytes]) -> list[bytes]:
    """Nothing of ``body`` (a HEAD answered as a GET), the iterable closed."""
    close = getattr(body, "close", None)
    if close is not None:
        close()
    return []
