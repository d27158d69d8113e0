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

from flask import Flask, Request, Response, current_app, request, session

from gateway.http.etags import body_stamp, strong_etag

SHAREABLE_METHODS = ("GET", "HEAD")
# Directives with which an app says "this answer is not for everyone".
PRIVATE_DIRECTIVES = ("private", "no-store", "no-cache")
# Request headers the cache keys on or bypasses for; a Vary on anything else is refused.
KEYED_VARY = frozenset({"accept", "accept-encoding", "cookie"})


def share_refusal(req: Request, response: Response) -> str | None:
    """None when ``response`` to ``req`` may be shared; else the rule that refuses it."""
    if req.method not in SHAREABLE_METHODS:
        return f"{req.method} answers are never shared"
    if response.status_code != 200:
        return f"status {response.status_code} is not 200"
    if "Authorization" in req.headers:
        return "the request carries Authorization"
    if session:
        return "the session is not empty (this page shows the visitor's own state)"
    if session.modified:
        return "the session changed (the answer sets a cookie)"
    if "Set-Cookie" in response.headers:
        return "the answer sets a cookie"
    control = response.headers.get("Cache-Control", "").lower()
    for directive in PRIVATE_DIRECTIVES:
        if directive in control:
            return f"the view said Cache-Control: {directive}"
    vary = {v.lower() for v in response.vary}
    if "*" in vary:
        return "the answer says Vary: *"
    if vary - KEYED_VARY:
        return f"the answer varies on {', '.join(sorted(vary - KEYED_VARY))}"
    # Last, so a developer's toolbar names any other rule that would refuse this answer.
    if current_app.config.get("DEBUG_TB_ENABLED"):
        return "the debug toolbar is on this page"
    return None


def mark_shareable(response: Response) -> Response:
    """``after_request`` hook: mark the answer public when nothing refuses it."""
    if share_refusal(request, response) is None:
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
