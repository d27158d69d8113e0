"""Production through the served stack (`make run`: nginx -> uWSGI): no debug toolbar and
no Werkzeug debugger, whatever a local client asks for.

nginx passes REMOTE_ADDR 127.0.0.1, an address the toolbar would show itself to, so
these requests would see the toolbar if it were there at all.
"""

from __future__ import annotations

import pytest

from tests.support.http import HTML
from tests.support.settings import TOOLBAR_PATHS
from tests.support.stack import Runner


@pytest.mark.parametrize("path", TOOLBAR_PATHS)
def test_toolbar_routes_are_404_under_both_mounts(stack: Runner, path: str) -> None:
    reply = stack.get(path, headers=HTML)
    assert reply.status == 404, (path, reply.status)
    assert b"flDebug" not in reply.body and b"toolbar" not in reply.body.lower()
    expected = "application/json" if path.startswith("/backend/") else "text/html"
    assert reply.headers.get_content_type() == expected


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/category/orm",
        "/extensions/flask-login",
        "/search?q=cache",
        "/nowhere",
        "/backendx",
        "/backend/",
        "/backend/api/extensions",
        "/backend/api/categories",
        "/backend/api/extensions/flask-login",
        "/backend/ui/sign-in",
    ],
)
def test_no_page_carries_toolbar_markup(stack: Runner, path: str) -> None:
    reply = stack.get(path, headers=HTML)
    assert reply.status in (200, 404), (path, reply.status)
    assert reply.headers.get_content_type() == "text/html", path
    assert b"<html" in reply.body.lower()  # a real page, where the toolbar would go
    assert b"flDebug" not in reply.body and b"_debug_toolbar" not in reply.body, path


@pytest.mark.parametrize(
    "query",
    [
        "__debugger__=yes&cmd=resource&f=debugger.js",
        "__debugger__=yes&cmd=resource&f=style.css",
        "__debugger__=yes&cmd=printpin&s=x",
        "__debugger__=yes&cmd=pinauth&pin=000-000-000&s=x",
    ],
)
@pytest.mark.parametrize("path", ["/", "/backend/"])
def test_werkzeug_debugger_does_not_answer(stack: Runner, path: str, query: str) -> None:
    reply = stack.get(f"{path}?{query}", headers=HTML)
    # The app's own page (which may echo the query in its links), never one of the
    # debugger's resources, its PIN prompt or its JSON answer to a PIN.
    assert reply.status == 200
    assert reply.headers.get_content_type() == "text/html"
    assert b'<main id="main"' in reply.body
    for marker in (b"Werkzeug", b"CONSOLE_MODE", b"EVALEX", b'"auth"', b"docReady"):
        assert marker not in reply.body, (marker, path, query)
