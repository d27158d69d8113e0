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


def _described(headers: list[tuple[str, str]]) -> tuple[bool, bool, int | None, int | None]:
    """What one pass over ``headers`` tells: a text type, an encoding already, the
    length, and where the last Vary is (-1 when one already names Accept-Encoding or
    ``*``: nothing to add)."""
    text = encoded = False
    length = found = None
    for index, (name, value) in enumerate(headers):
        lowered = name.lower()
        if lowered == "content-type":
            text = value.lower().startswith(TEXT_TYPES)
        elif lowered == "content-encoding":
            encoded = True
        elif lowered == "content-length" and value.isdigit():
            length = int(value)
        elif lowered == "vary" and found != -1:
            covered = "accept-encoding" in value.lower() or "*" in value
            found = -1 if covered else index
    return text, encoded, length, found


def vary(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` with Accept-Encoding added to Vary when the answer is text."""
    text, _, _, found = _described(headers)
    return _varied(headers, text, found)


def _varied(headers: list[tuple[str, str]], text: bool, found: int | None) -> list[tuple[str, str]]:
    """``vary``, given what ``_described`` found."""
    if not text or found == -1:
        return headers
    if found is None:
        return [*headers, ("Vary", "Accept-Encoding")]
    varied = list(headers)
    name, value = varied[found]
    varied[found] = (name, f"{value}, Accept-Encoding")
    return varied


def _no_write(data: bytes) -> None:
    """The write() of a deferred start: no app of the gateway writes through it."""


class Compression:
    """WSGI middleware: gzip text answers for clients that take gzip."""

    def __init__(self, app: WSGIApplication, level: int = LEVEL) -> None:
        self.app = app
        self.level = level

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        accept_encoding = environ.get("HTTP_ACCEPT_ENCODING")
        if not accept_encoding or preferred_encoding(accept_encoding) != "gzip":
            # Nothing to compress: only say that another client would get gzip.
            def identity(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                return start_response(status, vary(headers), exc_info)

            return self.app(environ, identity)
        head = environ.get("REQUEST_METHOD") == "HEAD"
        if head:  # the body decides the length: render it, send none
            environ = {**environ, "REQUEST_METHOD": "GET"}
        status = ""
        headers: list[tuple[str, str]] = []
        late = False

        def start(code: str, sent: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status, headers
            if late:  # a generator app that starts on its first chunk: passed through
                return start_response(code, vary(sent), exc_info)
            status, headers = code, sent
            return _no_write

        body = self.app(environ, start)
        if not status:
            late = True
            return body
        text, encoded, length, found = _described(headers)
        if not text or encoded or (length is not None and length < MIN_SIZE):
            start_response(status, _varied(headers, text, found))
            return _without_body(body) if head else body
        data = _read(body)
        if len(data) < MIN_SIZE:
            start_response(status, _varied(headers, text, found))
            return [] if head else [data]
        packed = gzip.compress(data, self.level, mtime=0)
        kept = []
        for name, value in _varied(headers, text, found):
            lowered = name.lower()
            if lowered == "content-length":
                continue
            kept.append((name, restamp(value, len(packed)) if lowered == "etag" else value))
        kept += [("Content-Encoding", "gzip"), ("Content-Length", str(len(packed)))]
        start_response(status, kept)
        return [] if head else [packed]


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
