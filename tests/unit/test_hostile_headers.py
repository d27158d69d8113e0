"""No request header, however malformed, makes the gateway answer 5xx (SPEC 8), in-process.

Every header the apps read is fuzzed with bytes that are not UTF-8, control characters
and overlong values, as a WSGI server hands them over (latin-1 text in the environ), on
the site, the API and the gateway's own endpoint, reads and writes alike. The session
cookie is read as Flask reads it: a stray byte is a bad signature, an empty session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import create_environ, run_wsgi_app

from gateway.compose import Gateway, build_gateway
from gateway.http.sessions import session_cookie
from tests.support.client import Client
from tests.support.settings import make_settings

READ_HEADERS = [
    "Cookie", "Accept", "Authorization", "Origin", "Referer", "User-Agent", "X-CSRFToken",
    "X-Request-ID", "Content-Type", "If-None-Match", "If-Match", "Range",
]  # fmt: skip
REQUESTS = [
    ("GET", "/"), ("HEAD", "/"), ("GET", "/search?q=login"), ("GET", "/extensions/flask-login"),
    ("POST", "/stars/flask-login"), ("OPTIONS", "/"), ("GET", "/backend/"),
    ("GET", "/backend/api/extensions"), ("GET", "/backend/api/extensions/flask-login"),
    ("POST", "/backend/api/extensions"), ("PATCH", "/backend/api/extensions/flask-login"),
    ("DELETE", "/backend/api/extensions/nothing-here"), ("GET", "/backend/ui/sign-in"),
    ("POST", "/backend/ui/sign-in"), ("GET", "/_gateway/health"),
]  # fmt: skip
SESSION_NAMES = ["gateway_site_session", "gateway_api_session"]

latin1 = st.characters(max_codepoint=255)
values = st.one_of(
    st.text(latin1, max_size=60),
    st.text(latin1, min_size=4000, max_size=9000),  # past any header a browser sends
    st.builds(
        lambda name, value: f"{name}={value}", st.sampled_from(SESSION_NAMES), st.text(latin1)
    ),
    st.sampled_from(["caf\xe9", "theme=caf\xe9", "\xff\xfe", "a\x00b", "\r\n", "\x1b[31m"]),
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    # Production rules (no exception reaches the client) with the testing profile's
    # in-process store.
    return build_gateway(
        make_settings(tmp_path_factory.mktemp("hostile"), GATEWAY_PROPAGATE_EXCEPTIONS="false")
    )


def send(gateway: Gateway, method: str, path: str, environ: dict[str, str]) -> tuple[int, Any]:
    env = create_environ(path, method=method, base_url="http://localhost")
    env.update(environ)
    body, status, headers = run_wsgi_app(gateway, env, buffered=True)
    b"".join(body)
    return int(status[:3]), headers


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    request=st.sampled_from(REQUESTS),
    headers=st.dictionaries(st.sampled_from(READ_HEADERS), values, min_size=1, max_size=3),
)
def test_no_header_makes_a_5xx(
    gateway: Gateway, request: tuple[str, str], headers: dict[str, str]
) -> None:
    environ = {
        "CONTENT_TYPE" if k == "Content-Type" else "HTTP_" + k.upper().replace("-", "_"): v
        for k, v in headers.items()
    }
    status, answer = send(gateway, *request, environ)
    assert status < 500, (request, headers)
    if status >= 400 and request[0] != "HEAD":
        api = request[1].startswith(("/backend", "/_gateway"))
        assert answer["Content-Type"].startswith("application/json" if api else "text/html")


@pytest.mark.parametrize(
    "cookie",
    [
        "theme=caf\xe9",
        "gateway_site_session=caf\xe9",
        "gateway_site_session=\xff; theme=\xe9",
        "gateway_api_session=\xe9\x00",
        '\xe9"; gateway_site_session=x',
    ],
)
def test_undecodable_cookies_leave_the_session_empty(gateway: Gateway, cookie: str) -> None:
    plain = Client(gateway).get("/extensions/flask-login")
    status, headers = send(gateway, "GET", "/extensions/flask-login", {"HTTP_COOKIE": cookie})
    assert status == 200 and plain.status_code == 200
    # The page is the anonymous one; with the site's session cookie named, whatever its
    # bytes, never answered from (or kept in) the shared store.
    if "gateway_site_session" in cookie:
        assert "X-Cache" not in headers


@settings(max_examples=2000, deadline=None)
@given(
    header=st.text(latin1, max_size=80) | st.lists(st.text(latin1, max_size=10)).map("; ".join),
    name=st.sampled_from(SESSION_NAMES),
)
def test_the_cache_reads_the_session_cookie_as_flask_does(
    tmp_path_factory: pytest.TempPathFactory, header: str, name: str
) -> None:
    from flask import Request

    env = create_environ("/")
    env["HTTP_COOKIE"] = header
    assert session_cookie(header, name) == Request(env).cookies.get(name)


def test_a_debugging_profile_keeps_exceptions_for_the_debugger(tmp_path: Path) -> None:
    from gateway.http.error_guard import ErrorGuard

    dev = build_gateway(make_settings(tmp_path, GATEWAY_PROFILE="development"))
    layers: list[str] = []
    layer: Any = dev.wsgi_app
    while layer is not None:
        layers.append(type(layer).__name__)
        layer = getattr(layer, "app", None)
    assert "RequestIdMiddleware" in layers and ErrorGuard.__name__ not in layers
