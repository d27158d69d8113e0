"""The shared cache never replays a visitor's answer, and only catalogue writes empty it.

In-process, through the composed WSGI callable; tests/integration/test_cache_safety.py
repeats the attacks through nginx and uWSGI.
"""

from __future__ import annotations

import re
import sqlite3
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.wrappers import Request

from gateway.cache.policy import share_refusal, store_refusal
from gateway.compose import Gateway, build_gateway
from gateway.http.sessions import carries_session_cookie, session_cookie
from tests.support.catalogue import extension
from tests.support.client import Client
from tests.support.http import HTML
from tests.support.settings import AUTH, TOKEN, make_settings

SITE_COOKIE = "gateway_site_session"
API_COOKIE = "gateway_api_session"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
STAR_MARK = 'aria-label="Your stars"'


def starred_cookie(client: Client, slug: str = "flask-login") -> str:
    """Star ``slug`` as a visitor would and return that visitor's session cookie value."""
    reply = client.post(
        f"/stars/{slug}", data={"action": "star"}, headers={"Origin": "http://localhost"}
    )
    assert reply.status_code == 303
    cookie = client.get_cookie(SITE_COOKIE)
    assert cookie is not None
    client.delete_cookie(SITE_COOKIE)
    return cookie.value


def signed_in_cookie(client: Client) -> str:
    """Sign in to the browsable API and return that browser's session cookie value."""
    page = client.get("/backend/ui/sign-in", headers=HTML).get_data(as_text=True)
    token = CSRF.search(page)
    assert token
    reply = client.post(
        "/backend/ui/sign-in", data={"token": TOKEN, "csrf_token": token.group(1)}, headers=HTML
    )
    assert reply.status_code == 303
    cookie = client.get_cookie(API_COOKIE, path="/backend")
    assert cookie is not None
    return cookie.value


def get(client: Client, path: str, cookie: str | None = None, **headers: str) -> Any:
    """A GET with exactly this Cookie header (the test client's jar left out)."""
    environ = {"HTTP_COOKIE": cookie} if cookie is not None else {}
    bare = Client(client.application, use_cookies=False)
    return bare.get(path, headers=headers, environ_overrides=environ)


# -- poisoning: a malformed pair before the session cookie -----------------------------

MALFORMED = [
    pytest.param('a="b; {name}={value}', id="unbalanced-quote"),
    pytest.param("a=b c; {name}={value}", id="space-in-value"),
    pytest.param("=; {name}={value}", id="bare-equals"),
    pytest.param("a=b,c;; {name}={value}", id="comma-and-empty-pair"),
    pytest.param("{name}={value}; {name}=", id="repeated-name"),
]


@pytest.mark.parametrize("shape", MALFORMED)
def test_a_visitors_starred_page_is_never_served_to_others(client: Client, shape: str) -> None:
    value = starred_cookie(client)
    header = shape.format(name=SITE_COOKIE, value=value)
    for path in ("/", "/category/authentication", "/extensions/flask-login"):
        mine = get(client, path, header)
        # The app read the stars despite the malformed pair before them ...
        assert STAR_MARK in mine.get_data(as_text=True), (shape, path)
        # ... so the cache neither answered nor kept it, and the app did not mark it public.
        assert "X-Cache" not in mine.headers and "public" not in mine.headers.get(
            "Cache-Control", ""
        )
        for _ in range(2):
            other = get(client, path)
            assert STAR_MARK not in other.get_data(as_text=True), (shape, path)


@pytest.mark.parametrize("shape", MALFORMED)
def test_a_signed_in_api_page_is_never_served_to_others(client: Client, shape: str) -> None:
    value = signed_in_cookie(Client(client.application))
    header = shape.format(name=API_COOKIE, value=value)
    mine = get(client, "/backend/api/extensions", header, Accept=HTML["Accept"])
    assert "Sign out" in mine.get_data(as_text=True)
    assert "X-Cache" not in mine.headers
    for _ in range(2):
        other = get(client, "/backend/api/extensions", Accept=HTML["Accept"])
        assert "Sign out" not in other.get_data(as_text=True)
        assert "csrf_token" not in other.get_data(as_text=True)


# -- the parsers agree: whenever the app sees a session, the cache bypasses --------------

PAIR_NAMES = st.sampled_from(["a", "b", "x-y", "sid", SITE_COOKIE + "x", "", "=", SITE_COOKIE])
PAIR_VALUES = st.text(alphabet=' "\\;,=abc\t', max_size=6)
PAIRS = st.lists(st.tuples(PAIR_NAMES, PAIR_VALUES), max_size=4)
SEPARATORS = st.sampled_from(["; ", ";", ", ", " ; ", ";;"])


@pytest.fixture(scope="module")
def shared_gateway(tmp_path_factory: pytest.TempPathFactory) -> tuple[Gateway, str]:
    """One gateway for every generated example, with one starred visitor's cookie."""
    gateway = build_gateway(make_settings(tmp_path_factory.mktemp("property")))
    return gateway, starred_cookie(Client(gateway))


def render(pairs: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name}={value}" for name, value in pairs)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=PAIRS, after=PAIRS, separator=SEPARATORS, include=st.booleans())
def test_whenever_the_app_sees_a_session_the_cache_bypasses(
    shared_gateway: tuple[Gateway, str],
    before: list[tuple[str, str]],
    after: list[tuple[str, str]],
    separator: str,
    include: bool,
) -> None:
    gateway, value = shared_gateway
    parts = [render(before)] if before else []
    if include:
        parts.append(f"{SITE_COOKIE}={value}")
    if after:
        parts.append(render(after))
    header = separator.join(parts)

    # What the app's request object parses, independently of gateway.http.sessions.
    app_sees = Request({"HTTP_COOKIE": header}).cookies.get(SITE_COOKIE) is not None
    assert carries_session_cookie(header, SITE_COOKIE) == app_sees
    # And end to end: a page that shows the stars was never answered from, nor put in, the
    # store; the stdlib parser, which the cache used to ask, is shown to disagree at times.
    reply = Client(gateway, use_cookies=False).get(
        "/category/authentication", environ_overrides={"HTTP_COOKIE": header}
    )
    if STAR_MARK in reply.get_data(as_text=True):
        assert "X-Cache" not in reply.headers
    anonymous = Client(gateway).get("/category/authentication")
    assert STAR_MARK not in anonymous.get_data(as_text=True)


def test_the_stdlib_parser_would_have_missed_the_cookie() -> None:
    # The regression behind the property above: SimpleCookie gives up at the bad pair.
    header = f'a="b; {SITE_COOKIE}=value'
    assert SITE_COOKIE not in SimpleCookie(header)
    assert session_cookie(header, SITE_COOKIE) == "value"


# -- what the apps mark public ---------------------------------------------------------


def test_anonymous_catalogue_pages_are_marked_public(client: Client) -> None:
    for path, headers in [
        ("/", {}),
        ("/backend/api/extensions", {}),
        ("/backend/api/extensions", HTML),
    ]:
        reply = client.get(path, headers=headers)
        control = reply.headers["Cache-Control"]
        assert "public" in control and "s-maxage=300" in control and "max-age=0" in control


@pytest.mark.parametrize(
    ("path", "headers", "reason"),
    [
        pytest.param("/backend/healthz", {}, "no-store", id="probe"),
        pytest.param("/backend/ui/sign-in", HTML, "cookie", id="sign-in-form"),
        pytest.param("/backend/api/extensions", AUTH, "Authorization", id="authorized"),
        pytest.param("/extensions/nope", {}, "404", id="not-found"),
    ],
)
def test_answers_of_this_visitor_are_not_marked_public(
    client: Client, path: str, headers: dict[str, str], reason: str
) -> None:
    reply = client.get(path, headers=headers)
    assert "public" not in reply.headers.get("Cache-Control", "")
    assert reply.headers.get("X-Cache") in (None, "MISS")


def test_share_refusal_names_each_rule(gateway: Gateway) -> None:
    app: Flask = gateway.apps[""]
    cases: list[tuple[dict[str, Any], Response, str]] = [
        ({"method": "POST"}, Response("x"), "POST"),
        ({}, Response("x", 404), "404"),
        ({"headers": AUTH}, Response("x"), "Authorization"),
        ({}, Response("x", headers={"Cache-Control": "private"}), "private"),
        ({}, Response("x", headers={"Vary": "*"}), "Vary: *"),
        ({}, Response("x", headers={"Vary": "Accept-Language"}), "accept-language"),
        ({}, Response("x", headers={"Set-Cookie": "a=b"}), "cookie"),
    ]
    for request_args, response, expected in cases:
        with app.test_request_context("/", **request_args):
            reason = share_refusal(request, response)
        assert reason is not None and expected in reason, (expected, reason)
    with app.test_request_context("/"):
        assert share_refusal(request, Response("x")) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param([("Cache-Control", "public")], "Content-Length", id="no-length"),
        pytest.param([("Content-Length", "1")], "public", id="not-marked"),
        pytest.param(
            [("Cache-Control", "public, no-store"), ("Content-Length", "1")],
            "no-store",
            id="no-store",
        ),
        pytest.param(
            [("Cache-Control", "public"), ("Vary", "Cookie, Origin"), ("Content-Length", "1")],
            "Vary",
            id="vary-origin",
        ),
        pytest.param(
            [("Cache-Control", "public"), ("Set-Cookie", "a=b"), ("Content-Length", "1")],
            "cookie",
            id="set-cookie",
        ),
    ],
)
def test_the_store_refuses_what_the_app_did_not_mark(
    headers: list[tuple[str, str]], expected: str
) -> None:
    reason = store_refusal("200 OK", headers, 1000)
    assert reason is not None and expected in reason
    assert (
        store_refusal(
            "200 OK",
            [
                ("Cache-Control", "public, s-maxage=9"),
                ("Vary", "Accept, Cookie"),
                ("Content-Length", "1"),
            ],
            1000,
        )
        is None
    )


# -- nothing but a catalogue write invalidates -------------------------------------------

ANONYMOUS_WRITES = [
    ("OPTIONS", "/", {}),
    ("OPTIONS", "/backend/api/extensions", {}),
    (
        "POST",
        "/stars/flask-login",
        {"data": {"action": "star"}, "headers": {"Origin": "http://localhost"}},
    ),
    (
        "POST",
        "/stars/flask-login",
        {"data": {"action": "unstar"}, "headers": {"Origin": "http://localhost"}},
    ),
    (
        "POST",
        "/stars/flask-login",
        {"data": {"action": "star"}, "headers": {"Origin": "http://evil.example"}},
    ),
    ("POST", "/backend/ui/sign-in", {"data": {"token": "wrong"}, "headers": HTML}),
    ("POST", "/backend/ui/sign-out", {"headers": HTML}),
    ("POST", "/backend/ui/extensions/new", {"data": extension(), "headers": HTML}),
    ("POST", "/backend/ui/extensions/flask-login/edit", {"data": extension(), "headers": HTML}),
    ("POST", "/backend/ui/extensions/flask-login/delete", {"headers": HTML}),
    ("POST", "/backend/api/extensions", {"json": extension()}),
    ("PUT", "/backend/api/extensions/flask-login", {"json": extension()}),
    ("PATCH", "/backend/api/extensions/flask-login", {"json": {"summary": "x"}}),
    ("DELETE", "/backend/api/extensions/flask-login", {}),
    (
        "POST",
        "/backend/api/extensions",
        {"json": extension(), "headers": {"Authorization": "Bearer wrong"}},
    ),
    ("POST", "/backend/api/extensions", {"json": extension("flask-login"), "headers": AUTH}),  # 409
    ("PATCH", "/backend/api/extensions/flask-login", {"json": {"nope": 1}, "headers": AUTH}),  # 422
    ("DELETE", "/backend/api/extensions/nope", {"headers": AUTH}),  # 404
    ("POST", "/backend", {}),  # the 308 slash redirect
    ("PROPFIND", "/", {}),
    ("TRACE", "/backend/", {}),
    ("GET", "/backend/ui/extensions/new", {"headers": HTML}),  # 303 to the sign-in form
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [pytest.param(m, p, k, id=f"{m} {p}") for m, p, k in ANONYMOUS_WRITES],
)
def test_requests_that_change_no_data_never_empty_the_cache(
    client: Client, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    watched = ["/", "/category/authentication", "/backend/api/extensions"]
    for target in watched * 2:
        client.get(target)
    reply = Client(client.application).open(path, method=method, **kwargs)
    assert reply.status_code < 500
    assert [client.get(target).headers["X-Cache"] for target in watched] == ["HIT"] * 3


def test_a_browsable_form_write_makes_the_next_read_fresh(client: Client) -> None:
    browser = Client(client.application)
    signed_in_cookie(browser)
    client.get("/category/testing")
    assert client.get("/category/testing").headers["X-Cache"] == "HIT"
    form = browser.get("/backend/ui/extensions/new", headers=HTML).get_data(as_text=True)
    token = CSRF.search(form)
    assert token
    reply = browser.post(
        "/backend/ui/extensions/new",
        data={**extension(), "csrf_token": token.group(1)},
        headers=HTML,
    )
    assert reply.status_code == 303
    fresh = client.get("/category/testing")
    assert fresh.headers["X-Cache"] == "MISS" and "Flask-Example" in fresh.get_data(as_text=True)


# -- revocable sign-ins of the API browser ---------------------------------------------


def test_a_copy_of_a_signed_out_cookie_opens_nothing(client: Client) -> None:
    browser = Client(client.application)
    saved = signed_in_cookie(browser)
    page = browser.get("/backend/", headers=HTML).get_data(as_text=True)
    token = CSRF.search(page)
    assert token
    browser.post("/backend/ui/sign-out", data={"csrf_token": token.group(1)}, headers=HTML)

    replay = Client(client.application)
    replay.set_cookie(API_COOKIE, saved, path="/backend")
    form = replay.get("/backend/ui/extensions/new", headers=HTML)
    assert form.status_code == 303 and "/backend/ui/sign-in" in form.headers["Location"]
    assert "Sign out" not in replay.get("/backend/", headers=HTML).get_data(as_text=True)
    deleted = replay.post(
        "/backend/ui/extensions/flask-login/delete",
        data={"csrf_token": token.group(1)},
        headers=HTML,
    )
    assert deleted.status_code == 303 and "sign-in" in deleted.headers["Location"]
    assert client.get("/backend/api/extensions/flask-login").status_code == 200


def test_rotating_the_api_token_signs_every_browser_out(tmp_path: Path) -> None:
    settings_ = make_settings(tmp_path)
    browser = Client(build_gateway(settings_))
    saved = signed_in_cookie(browser)
    assert browser.get("/backend/ui/extensions/new", headers=HTML).status_code == 200

    rotated = build_gateway({**settings_, "BACKEND_API_TOKEN": TOKEN[::-1] + "x"})
    replay = Client(rotated)
    replay.set_cookie(API_COOKIE, saved, path="/backend")
    assert replay.get("/backend/ui/extensions/new", headers=HTML).status_code == 303
    # The same gateway under the old token still honours it: the binding is the token.
    again = Client(build_gateway(settings_))
    again.set_cookie(API_COOKIE, saved, path="/backend")
    assert again.get("/backend/ui/extensions/new", headers=HTML).status_code == 200


def test_a_sign_in_expires_after_its_lifetime(tmp_path: Path) -> None:
    settings_ = make_settings(tmp_path, BACKEND_PERMANENT_SESSION_LIFETIME="3600")
    browser = Client(build_gateway(settings_))
    signed_in_cookie(browser)
    cookie = browser.get_cookie(API_COOKIE, path="/backend")
    assert cookie is not None and cookie.expires is not None  # the browser forgets it too
    assert browser.get("/backend/ui/extensions/new", headers=HTML).status_code == 200
    # Time passes: the server-side record is past its end.
    with sqlite3.connect(tmp_path / "backend_app" / "catalog.sqlite3") as db:
        db.execute("UPDATE sign_ins SET expires_at = 0")
    assert browser.get("/backend/ui/extensions/new", headers=HTML).status_code == 303
