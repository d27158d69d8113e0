"""What an app lets the shared response cache keep: its own, opt-in decision.

Every mounted app runs ``mark_shareable`` after each view. An answer is marked
``Cache-Control: public, max-age=0, s-maxage=N`` only when ``share_refusal`` finds
nothing of this visitor in it; the response cache stores nothing else. ``max-age=0``
keeps browsers asking again (a visitor who stars must see the star at once), while
``s-maxage`` is the shared cache's lifetime::

    response = app.make_response(...)      # an anonymous GET of a catalogue page
    share_refusal(request, response)       # None: may be shared
    mark_shareable(response)               # Cache-Control: public, max-age=0, s-maxage=300
                                           # ETag: "<stamp>-<length>" (gateway.http.etags)

A shared answer carries a strong ETag, so a browser's revalidation (``max-age=0``) costs
a 304 (``gateway.http.conditional``) instead of the page.

Flask adds ``Vary: Cookie`` after this hook whenever the view read the session (the
site's layout reads the stars on every page): the cache honours it by sharing such an
answer only among requests that carry no session cookie of that app.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from flask import Flask, Request, Response, current_app, request, session

from gateway.http.etags import body_stamp, strong_etag

SHAREABLE_METHODS = ("GET", "HEAD")
# Where the app's verdict (True: shareable) waits for the response cache: a URL it had
# refused is tried again once the app shares it, without reading the headers twice.
VERDICT_KEY = "gateway.shareable"
# Directives with which an app says "this answer is not for everyone".
PRIVATE_DIRECTIVES = ("private", "no-store", "no-cache")
# Request headers the cache keys on or bypasses for; a Vary on anything else is refused.
KEYED_VARY = frozenset({"accept", "accept-encoding", "cookie"})


def answer_refusal(status: str, headers: Iterable[tuple[str, str]]) -> str | None:
    """The rules on the answer itself, which the app's hook (``share_refusal``) and the
    store (``store_refusal``) both apply: None when nothing in the status line and the
    headers makes the answer this visitor's, else the rule that refuses it."""
    return _refusal(status, headers)[0]


def _refusal(status: str, headers: Iterable[tuple[str, str]]) -> tuple[str | None, str, str | None]:
    """``answer_refusal``, and what the store also needs of the same single pass over the
    headers: the Cache-Control (lower case) and the Content-Length."""
    if not status.startswith("200"):
        return f"status {status[:3]} is not 200", "", None
    control = vary = ""
    length = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == "set-cookie":
            return "the answer sets a cookie", "", None
        if lowered == "cache-control":
            control = f"{control},{value.lower()}"
        elif lowered == "vary":
            vary = f"{vary},{value}"
        elif lowered == "content-length" and length is None:
            length = value
    for directive in PRIVATE_DIRECTIVES:
        if directive in control:
            return f"Cache-Control: {directive}", control, length
    return _vary_refusal(vary) if vary else None, control, length


@lru_cache(maxsize=256)
def _vary_refusal(vary: str) -> str | None:
    """The refusal of a Vary (all its headers' values joined by commas), or None; the
    same few values come back on every answer, so each is parsed once."""
    names = {v.strip() for v in vary.lower().split(",")} - {""}
    if "*" in names:
        return "Vary: *"
    if names - KEYED_VARY:
        return f"Vary on {', '.join(sorted(names - KEYED_VARY))}"
    return None


def share_refusal(req: Request, response: Response) -> str | None:
    """None when ``response`` to ``req`` may be shared; else the rule that refuses it."""
    if req.method not in SHAREABLE_METHODS:
        return f"{req.method} answers are never shared"
    if "Authorization" in req.headers:
        return "the request carries Authorization"
    if session:
        return "the session is not empty (this page shows the visitor's own state)"
    if session.modified:
        return "the session changed (the answer sets a cookie)"
    refusal = answer_refusal(response.status, response.headers.items())
    if refusal is not None:
        return refusal
    # Last, so a developer's toolbar names any other rule that would refuse this answer.
    if current_app.config.get("DEBUG_TB_ENABLED"):
        return "the debug toolbar is on this page"
    return None


def store_refusal(status: str, headers: list[tuple[str, str]], max_size: int) -> str | None:
    """None when the response cache may keep an answer with this status line and these
    headers (the app marked it public, and it is at most ``max_size`` bytes), else why."""
    refusal, control, length = _refusal(status, headers)
    if refusal is not None:
        return refusal
    if "public" not in control:
        return "the app did not mark the answer public"
    if length is None or not length.isdigit():
        return "no Content-Length"
    if int(length) > max_size:
        return f"larger than {max_size} bytes"
    return None


def mark_shareable(response: Response) -> Response:
    """``after_request`` hook: mark the answer public when nothing refuses it, and leave
    the verdict in the environ for the response cache (``VERDICT_KEY``)."""
    shareable = request.environ[VERDICT_KEY] = share_refusal(request, response) is None
    if shareable:
        response.cache_control.public = True
        response.cache_control.max_age = 0
        response.cache_control.s_maxage = current_app.config["RESPONSE_CACHE_TIMEOUT"]
        body = response.get_data()
        response.headers["ETag"] = strong_etag(body_stamp(body), len(body))
    return response


def init_app(app: Flask) -> None:
    """Let ``app`` mark its shareable answers (the factory calls this first, so the hook
    runs after every hook the app's own package registers)."""
    app.after_request(mark_shareable)
