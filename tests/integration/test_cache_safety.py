"""The shared cache attacked through nginx and uWSGI (`make run`'s stack, 4 workers).

Poisoning with malformed Cookie headers, anonymous requests trying to empty the cache,
fresh reads after writes through the API and the browsable forms, replayed sign-in
cookies, a rotated API token, and a burst of distinct URLs against a small cache.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.support.forms import (
    API_COOKIE,
    FORM,
    SITE_COOKIE,
    cookie_of,
    csrf_of,
    post_form,
    sign_in,
)
from tests.support.http import HTML, request
from tests.support.stack import Runner, start_runner, stop_runner

STAR_MARK = b'aria-label="Your stars"'
# Tokens for the rotation test, set through the environment as an operator would.
FIRST_TOKEN = secrets.token_urlsafe(32)
SECOND_TOKEN = secrets.token_urlsafe(32)


def star(runner: Runner, slug: str = "flask-login") -> str:
    """Star ``slug`` as a new visitor; that visitor's session cookie value."""
    reply = post_form(runner, f"/stars/{slug}", {"action": "star", "next": "/"})
    assert reply.status == 303
    return cookie_of(reply, SITE_COOKIE)


MALFORMED = [
    pytest.param('a="b; {name}={value}', id="unbalanced-quote"),
    pytest.param("a=b c; {name}={value}", id="space-in-value"),
    pytest.param("=; {name}={value}", id="bare-equals"),
]


@pytest.mark.parametrize("shape", MALFORMED)
def test_a_starred_page_behind_a_malformed_pair_is_never_shared(stack: Runner, shape: str) -> None:
    header = shape.format(name=SITE_COOKIE, value=star(stack))
    for path in ("/", "/category/authentication", "/search?q=login"):
        mine = stack.get(path, headers={"Cookie": header})
        assert STAR_MARK in mine.body, (shape, path)
        assert "X-Cache" not in mine.headers
        for _ in range(4):  # every worker
            assert STAR_MARK not in stack.get(path).body, (shape, path)


@pytest.mark.parametrize("shape", MALFORMED)
def test_a_signed_in_api_page_behind_a_malformed_pair_is_never_shared(
    stack: Runner, shape: str
) -> None:
    header = shape.format(name=API_COOKIE, value=sign_in(stack))
    mine = stack.get("/backend/api/categories", headers={**HTML, "Cookie": header})
    assert b"Sign out" in mine.body and "X-Cache" not in mine.headers
    for _ in range(4):
        other = stack.get("/backend/api/categories", headers=HTML)
        assert b"Sign out" not in other.body and b"csrf_token" not in other.body


# Every method and form route an anonymous client can reach, with what it answers.
ANONYMOUS = [
    ("OPTIONS", "/", None),
    ("OPTIONS", "/backend/api/extensions", None),
    ("POST", "/stars/flask-login", {"action": "star"}),
    ("POST", "/stars/flask-login", {"action": "unstar"}),
    ("POST", "/backend/ui/sign-in", {"token": "wrong"}),
    ("POST", "/backend/ui/sign-out", {}),
    ("POST", "/backend/ui/extensions/new", {"slug": "x"}),
    ("POST", "/backend/ui/extensions/flask-login/edit", {"slug": "x"}),
    ("POST", "/backend/ui/extensions/flask-login/delete", {}),
    ("GET", "/backend/ui/extensions/new", None),
    ("POST", "/backend/api/extensions", {}),
    ("PUT", "/backend/api/extensions/flask-login", {}),
    ("PATCH", "/backend/api/extensions/flask-login", {}),
    ("DELETE", "/backend/api/extensions/flask-login", None),
    ("POST", "/backend", {}),
    ("PROPFIND", "/", None),
    ("DELETE", "/", None),
]


def test_no_anonymous_request_empties_the_cache(stack: Runner) -> None:
    watched = ["/category/forms", "/backend/api/extensions?category=forms"]
    for path in watched * 4:
        stack.get(path)
    for method, path, fields in ANONYMOUS:
        body = urlencode(fields) if fields is not None else None
        headers = {**FORM, **HTML, "Origin": f"http://127.0.0.1:{stack.port}"}
        reply = request(stack.port, method, path, headers=headers, body=body)
        assert reply.status < 500, (method, path, reply.status)
        seen = [stack.get(target).headers["X-Cache"] for target in watched]
        assert seen == ["HIT", "HIT"], (method, path, reply.status)


def test_a_form_write_makes_the_next_read_fresh_on_every_worker(served: Runner) -> None:
    cookie = f"{API_COOKIE}={sign_in(served)}"
    pages = ["/category/uploads", "/backend/api/extensions?category=uploads"]
    for path in pages * 4:
        served.get(path)
    token, cookie = csrf_of(served, "/backend/ui/extensions/new", cookie)
    fields = {
        "slug": "flask-form-fresh",
        "name": "Flask-Form-Fresh",
        "category": "uploads",
        "summary": "Written through the browsable form.",
        "homepage": "https://example.org/",
        "csrf_token": token,
    }
    assert post_form(served, "/backend/ui/extensions/new", fields, cookie).status == 303
    try:
        for n in range(40):
            assert b"flask-form-fresh" in served.get(pages[n % 2]).body.lower(), n
    finally:
        assert served.write("DELETE", "/backend/api/extensions/flask-form-fresh").status == 204
    for path in pages:
        assert b"flask-form-fresh" not in served.get(path).body.lower()


def test_a_copy_of_a_signed_out_cookie_opens_nothing(served: Runner) -> None:
    token, saved = csrf_of(served, "/backend/ui/extensions/new", f"{API_COOKIE}={sign_in(served)}")
    assert post_form(served, "/backend/ui/sign-out", {"csrf_token": token}, saved).status == 303
    # The saved copy, replayed: every form is closed, and a delete changes nothing.
    form = served.get("/backend/ui/extensions/new", headers={**HTML, "Cookie": saved})
    assert form.status == 303 and "/backend/ui/sign-in" in form.headers["Location"]
    delete = post_form(
        served, "/backend/ui/extensions/flask-login/delete", {"csrf_token": token}, saved
    )
    assert delete.status == 303 and "sign-in" in delete.headers["Location"]
    assert served.get("/backend/api/extensions/flask-login").status == 200


@pytest.fixture
def small_cache(public_dir: Path) -> Iterator[Runner]:
    """A stack whose shared cache holds 50 answers, with a token the test chose."""
    runner = start_runner(
        public_dir / "data", GATEWAY_PAGE_CACHE_ITEMS="50", BACKEND_API_TOKEN=FIRST_TOKEN
    )
    yield runner
    stop_runner(runner)


def test_a_burst_of_distinct_urls_is_counted_not_logged(small_cache: Runner) -> None:
    for n in range(300):
        assert small_cache.get(f"/search?q=burst{n}").status == 200
    # The cache made room: the newest answers are there, and a new page is kept.
    assert small_cache.get("/search?q=burst299").headers["X-Cache"] == "HIT"
    replies = [small_cache.get("/search?q=after-burst") for _ in range(2)]
    assert [r.headers["X-Cache"] for r in replies] == ["MISS", "HIT"]
    health = json.loads(small_cache.get("/_gateway/health").body)
    assert health["cache"]["evictions"] >= 200
    log = small_cache.log.read_text()
    assert "LRU item will be purged" not in log and "is FULL" not in log


def test_rotating_the_api_token_signs_every_browser_out(small_cache: Runner) -> None:
    saved = f"{API_COOKIE}={sign_in(small_cache, FIRST_TOKEN)}"
    assert (
        small_cache.get("/backend/ui/extensions/new", headers={**HTML, "Cookie": saved}).status
        == 200
    )
    stop_runner(small_cache)
    rotated = start_runner(small_cache.data_dir, BACKEND_API_TOKEN=SECOND_TOKEN)
    try:
        replay = rotated.get("/backend/ui/extensions/new", headers={**HTML, "Cookie": saved})
        assert replay.status == 303 and "sign-in" in replay.headers["Location"]
        # The new token signs in again.
        fresh = f"{API_COOKIE}={sign_in(rotated, SECOND_TOKEN)}"
        assert (
            rotated.get("/backend/ui/extensions/new", headers={**HTML, "Cookie": fresh}).status
            == 200
        )
    finally:
        stop_runner(rotated)
