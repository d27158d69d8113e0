"""How a request's session cookie is read, one rule for the apps and the response cache.

Each app reads its session with ``GatewaySessionInterface``; the response cache asks
``carries_session_cookie`` before it answers from the shared store. Both go through
``session_cookie``, the parser behind Flask's own ``request.cookies`` (which, unlike
``http.cookies``, keeps going past a malformed pair, and reads the header's bytes as
they came, never raising on one that is not UTF-8), so whenever an app would see a
session the cache sees the cookie too::

    app.session_interface = GatewaySessionInterface()
    carries_session_cookie(environ.get("HTTP_COOKIE"), "gateway_site_session")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadData
from werkzeug.sansio.http import parse_cookie

if TYPE_CHECKING:
    from flask import Flask, Request


def session_cookie(cookie_header: str | None, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header as the app reads it, or None.

    ``werkzeug.http.parse_cookie`` would decode the header as UTF-8 first and raise on
    a stray byte (``caf\\xe9``); Flask's ``request.cookies`` does not, and neither does
    this: an undecodable session cookie is then a bad signature, an empty session.
    """
    if not cookie_header:
        return None
    return parse_cookie(cookie_header).get(name)


def carries_session_cookie(cookie_header: str | None, name: str) -> bool:
    """True when the header holds cookie ``name`` at all (even empty or badly signed).

    The cache asks this, not "is the session valid": any cookie of that name may make
    the app render something of this visitor, so the shared store is not used.
    """
    return session_cookie(cookie_header, name) is not None


class GatewaySessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its cookie read by ``session_cookie``."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Load the session from this app's cookie; an empty one when absent or invalid."""
        value = session_cookie(request.environ.get("HTTP_COOKIE"), self.get_cookie_name(app))
        if not value:  # most requests: no serializer to build (~10 us); no secret, no session
            return self.session_class() if app.secret_key else None
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            return self.session_class(serializer.loads(value, max_age=max_age))
        except BadData:  # tampered, expired (itsdangerous checks max_age) or undecodable
            return self.session_class()
