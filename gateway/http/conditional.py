"""Revalidation: a GET or HEAD whose If-None-Match names the answer's ETag gets a 304.

    app = Conditional(ResponseCache(...))

Outside the response cache, so a hit and a miss revalidate alike: the answer (stored or
fresh) is compared with the client's copy by its ETag (``gateway.http.etags``, weak
comparison), and a match is sent as a 304 with the answer's headers but its body and
the headers that describe the body, as nginx does for a page file with that ETag.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gateway.http.etags import none_match

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# The reason phrase nginx writes for its own 304 (a page file): the two answers are one.
NOT_MODIFIED = "304 Not Modified"
# What a 304 leaves out: it has no body to describe (nginx drops the same).
BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "accept-ranges"})


class Conditional:
    """WSGI middleware: answer If-None-Match with 304 when the ETag matches."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if not if_none_match or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        matched = False

        def check(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal matched
            etag = next((v for k, v in headers if k.lower() == "etag"), None)
            if status.startswith("200") and etag and none_match(if_none_match, etag):
                matched = True
                status = NOT_MODIFIED
                headers = [(k, v) for k, v in headers if k.lower() not in BODY_HEADERS]
            return start_response(status, headers, exc_info)

        body = self.app(environ, check)
        if not matched:
            return body
        close = getattr(body, "close", None)
        if close is not None:
            close()
        return []
