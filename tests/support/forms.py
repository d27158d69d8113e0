"""The browsable API's forms and the session cookies, as a browser sends them to a stack."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from tests.support.http import HTML, Reply, request
from tests.support.stack import Runner

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SITE_COOKIE = "gateway_site_session"
API_COOKIE = "gateway_api_session"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def cookie_of(reply: Reply, name: str) -> str:
    """The value of cookie ``name`` that ``reply`` sets."""
    for header in reply.headers.get_all("Set-Cookie") or []:
        jar: SimpleCookie = SimpleCookie(header)
        if name in jar:
            return jar[name].value
    raise AssertionError(f"no {name} cookie in {reply.headers}")


def post_form(
    runner: Runner, path: str, fields: dict[str, str], cookie: str = "", **headers: str
) -> Reply:
    """A form POST as a browser on this site sends it."""
    origin = {"Origin": f"http://127.0.0.1:{runner.port}"}
    extra = {"Cookie": cookie} if cookie else {}
    return request(
        runner.port,
        "POST",
        path,
        headers={**FORM, **HTML, **origin, **extra, **headers},
        body=urlencode(fields),
    )


def sign_in(runner: Runner, token: str | None = None) -> str:
    """Sign a new browser in to the API browser; its session cookie value."""
    form = runner.get("/backend/ui/sign-in", headers=HTML)
    found = CSRF.search(form.text)
    assert form.status == 200 and found
    cookie = f"{API_COOKIE}={cookie_of(form, API_COOKIE)}"
    reply = post_form(
        runner,
        "/backend/ui/sign-in",
        {"token": token or runner.token, "csrf_token": found.group(1)},
        cookie,
    )
    assert reply.status == 303, reply.text
    return cookie_of(reply, API_COOKIE)


def csrf_of(runner: Runner, path: str, cookie: str) -> tuple[str, str]:
    """The CSRF token of the form on ``path``, and the browser's cookie after that page."""
    page = runner.get(path, headers={**HTML, "Cookie": cookie})
    found = CSRF.search(page.text)
    assert page.status == 200 and found, page.status
    if page.headers.get("Set-Cookie"):  # the token went into the session
        cookie = f"{API_COOKIE}={cookie_of(page, API_COOKIE)}"
    return found.group(1), cookie
